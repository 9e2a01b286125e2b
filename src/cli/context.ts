import { escapeForTerminal, TerminalText } from './format.js';
import { createApp, type CliContext } from '../app/context.js';
import type { DatabaseHandle } from '../db/connect.js';
import type { RunContext } from '../engine/run-pipeline.js';

/**
 * The commands' view of the composition root (src/app/context.ts, where everything is built),
 * plus the one way their output reaches stdout.
 */

export { alertEnvironment, createApp, createContext, withApp, withDatabase } from '../app/context.js';
export type { AppContext, CliContext, GlobalOptions } from '../app/context.js';

/** The context pipelines run in from the CLI: the AppContext, seen as a RunContext. */
export function runContext(ctx: CliContext, handle: DatabaseHandle): RunContext {
  return createApp(ctx, handle);
}

/**
 * The one way command output reaches stdout. A string may carry data (a file name, a reject's
 * value, an error), so it is escaped for the terminal; a table from formatTable already is.
 */
export function print(ctx: CliContext, text: string | TerminalText = ''): void {
  ctx.out.write((text instanceof TerminalText ? text.text : escapeForTerminal(text)) + '\n');
}

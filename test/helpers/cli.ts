import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';

/**
 * V8 flags for the CLI processes tests start. A short-lived process spends much of its CPU
 * compiling PGlite's WebAssembly to optimised code it barely runs; Liftoff (V8's baseline WASM
 * compiler) alone cuts about a third of a process's CPU (`runs`: 3.3 s → 2.0 s, `start --once`
 * over the sample: 10.8 s → 8.3 s, measured here). It changes how fast the code runs, never
 * what it does.
 */
export const CHILD_NODE_FLAGS: readonly string[] = ['--liftoff-only'];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the built `bubblewatch` binary as a user would, with a clean environment plus `env`. */
export function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CHILD_NODE_FLAGS, join(PACKAGE_ROOT, 'bin', 'bubblewatch.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BUBBLEWATCH_LOG_FORMAT: 'json', ...env },
      cwd: PACKAGE_ROOT,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A `bubblewatch` process still running: its output so far, and its exit code once it ends. */
export interface Proc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

/** Start the built binary like `cli`, without waiting; it is SIGKILLed if still running when the test ends. */
export function bubblewatch(args: string[], env: Readonly<Record<string, string>>): Proc {
  const child = spawn(process.execPath, [...CHILD_NODE_FLAGS, join(PACKAGE_ROOT, 'bin', 'bubblewatch.js'), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BUBBLEWATCH_LOG_FORMAT: 'json', ...env },
    cwd: PACKAGE_ROOT,
  });
  const proc: Proc = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  child.stdout!.on('data', (d) => (proc.stdout += d));
  child.stderr!.on('data', (d) => (proc.stderr += d));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return proc;
}

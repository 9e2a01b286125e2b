import { pino } from 'pino';
import { expect } from 'vitest';
import { REGISTRY } from '../../pipelines/registry.js';
import { runContext, type CliContext } from '../../src/cli/context.js';
import { loadConfig } from '../../src/config/load.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { memoryLogger } from '../helpers/pipelines.js';

/** A CLI context over the bundled config, pointed at a test database by `env`, printing into `output()`. */
export function testContext(env: Readonly<Record<string, string>>): CliContext & { output(): string } {
  const config = loadConfig({ registry: REGISTRY, env: { ...env } });
  let text = '';
  const out = {
    write(chunk: string | Uint8Array) {
      text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { config, logger: memoryLogger().logger, registry: REGISTRY.pipelines, out, output: () => text };
}

export const silentLogger = pino({ level: 'silent' });

/**
 * Every enabled pipeline of the bundled config over the bundled sample data (data/sample),
 * with alert evaluation after each run, as `bubblewatch run --all` does.
 */
export async function loadBundledSample(handle: DatabaseHandle): Promise<void> {
  const ctx = testContext({});
  const run = runContext(ctx, handle);
  for (const pipeline of ctx.registry) {
    const config = ctx.config.pipelines.get(pipeline.name);
    if (!config?.enabled) continue;
    const summary = await runPipeline(run, pipeline, config, { trigger: 'manual' });
    expect(summary.status, `${pipeline.name}: ${summary.error ?? ''}`).toBe('succeeded');
  }
}

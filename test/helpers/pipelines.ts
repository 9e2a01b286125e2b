import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { rmSync } from 'node:fs';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { runPipeline, type RunOptions, type RunSummary } from '../../src/engine/run-pipeline.js';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { scheduleSchema } from '../../src/config/schema.js';
import { REGISTRY } from '../../pipelines/registry.js';
import { scratchDir } from './scratch.js';

/** The shared config sections (companies, metrics, archive limits) of the bundled config file. */
export function bundledShared(): Readonly<Record<string, unknown>> {
  const config = loadConfig({ registry: REGISTRY, env: {} });
  return { ...config.shared, archives: config.archives };
}

/**
 * A temporary inbox folder, removed after the test. A concurrent test passes its context's
 * onTestFinished: the global one cannot tell which of the running tests registers.
 */
export function makeInbox(cleanup: (fn: () => void) => void = onTestFinished): string {
  const dir = mkdtempSync(join(scratchDir(), 'bubblewatch-inbox-'));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeFile(dir: string, name: string, content: string | Buffer): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
}

export function inboxConfig(pipeline: AnyPipeline, inbox: string, pattern = pipeline.source.pattern): ResolvedPipelineConfig {
  return {
    name: pipeline.name,
    configured: true,
    enabled: true,
    schedule: scheduleSchema.parse(pipeline.defaults.schedule),
    sources: [{ kind: 'path', path: inbox, pattern }],
    baseDir: inbox,
    options: {},
  };
}

/** A logger that keeps every line in memory, to assert on what was logged. */
export function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(text: string) {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines };
}

export async function runOnce(
  handle: DatabaseHandle,
  pipeline: AnyPipeline,
  config: ResolvedPipelineConfig,
  options: Partial<RunOptions> = {},
  logger: Logger = memoryLogger().logger,
  shared: Readonly<Record<string, unknown>> = bundledShared(),
): Promise<RunSummary> {
  return runPipeline({ handle, logger, shared }, pipeline, config, { trigger: 'manual', ...options });
}

export async function rows<R = Record<string, unknown>>(handle: DatabaseHandle, sql: string, params: unknown[] = []): Promise<R[]> {
  return handle.withConnection(async (conn) => (await conn.query<R>(sql, params)).rows);
}

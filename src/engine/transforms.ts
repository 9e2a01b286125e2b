import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqlConnection } from '../db/connect.js';
import type { Logger } from '../log/logger.js';
import { SQL_DIR } from '../paths.js';

/**
 * SQL transforms are plain files under sql/transforms/, run in the order the pipeline
 * lists them, inside the run's transaction. They read the run they belong to from
 * settings rather than from interpolated text, so the files stay plain SQL:
 *
 *   current_setting('bubblewatch.run_id')::bigint      the run that loaded new data
 *   current_setting('bubblewatch.full_refresh') = 'on' recompute everything, not just what the run touched
 *   current_setting('bubblewatch.pipeline')            the pipeline's name
 */

export interface TransformSettings {
  readonly runId: number;
  readonly pipeline: string;
  readonly fullRefresh: boolean;
}

export interface TransformOutcome {
  readonly file: string;
  readonly ms: number;
}

export const TRANSFORMS_DIR = join(SQL_DIR, 'transforms');

export async function applyRunSettings(conn: SqlConnection, settings: TransformSettings): Promise<void> {
  await conn.query(
    `select set_config('bubblewatch.run_id', $1, true), set_config('bubblewatch.full_refresh', $2, true), set_config('bubblewatch.pipeline', $3, true)`,
    [String(settings.runId), settings.fullRefresh ? 'on' : 'off', settings.pipeline],
  );
}

export async function runTransforms(
  conn: SqlConnection,
  files: readonly string[],
  settings: TransformSettings,
  logger: Logger,
): Promise<TransformOutcome[]> {
  await applyRunSettings(conn, settings);
  const outcomes: TransformOutcome[] = [];
  for (const file of files) {
    const text = readFileSync(join(TRANSFORMS_DIR, file), 'utf8');
    const started = performance.now();
    try {
      await conn.script(text);
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      e.message = `transform sql/transforms/${file} failed: ${e.message}`;
      throw e;
    }
    const ms = Math.round(performance.now() - started);
    logger.debug({ transform: file, ms }, `transform ${file} done in ${ms} ms`);
    outcomes.push({ file, ms });
  }
  return outcomes;
}

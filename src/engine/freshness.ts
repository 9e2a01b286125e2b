import type { DatabaseHandle } from '../db/connect.js';
import type { AnyPipeline } from './pipeline.js';

/** The newest data date a pipeline has, by its freshness query; null when unknown. */
export async function newestData(handle: DatabaseHandle, pipeline: AnyPipeline): Promise<string | null> {
  if (!pipeline.freshness) return null;
  try {
    const { rows } = await handle.withConnection((conn) => conn.query<{ newest: string | Date | null }>(pipeline.freshness!.sql));
    const newest = rows[0]?.newest ?? null;
    return newest instanceof Date ? newest.toISOString().slice(0, 10) : newest;
  } catch {
    return null;
  }
}

export function ageInDays(newest: string, now: Date): number {
  return Math.floor((now.getTime() - new Date(`${newest}T00:00:00Z`).getTime()) / 86_400_000);
}

/**
 * For each pipeline with a freshness limit and data: the age of its newest data divided by
 * the limit (above 1 = stale). The source_staleness indicator alert rules read.
 */
export async function stalenessRatios(handle: DatabaseHandle, pipelines: readonly AnyPipeline[], now = new Date()): Promise<Map<string, number>> {
  const ratios = new Map<string, number>();
  for (const pipeline of pipelines) {
    if (!pipeline.freshness) continue;
    const newest = await newestData(handle, pipeline);
    if (newest) ratios.set(pipeline.name, ageInDays(newest, now) / pipeline.freshness.maxAgeDays);
  }
  return ratios;
}

/**
 * For each pipeline: how many of its source files fail alone and have not changed since
 * (etl.file_failures), 0 when none. The source_files_failing indicator alert rules read; every
 * pipeline gets a value, so that an alert on it resolves once the files load or go.
 */
export async function failingFileCounts(handle: DatabaseHandle, pipelines: readonly AnyPipeline[]): Promise<Map<string, number>> {
  const rows = await handle.db
    .selectFrom('etl.file_failures')
    .select(['pipeline', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('pipeline')
    .execute();
  const byPipeline = new Map(rows.map((r) => [r.pipeline, Number(r.n)]));
  return new Map(pipelines.map((p) => [p.name, byPipeline.get(p.name) ?? 0]));
}

import type { DatabaseHandle } from '../db/connect.js';
import type { Run } from '../db/tables/runs.table.js';
import { ageInDays, newestData } from '../engine/freshness.js';
import { nextTick } from '../scheduler/cron.js';
import type { CliContext } from './context.js';

/**
 * Per pipeline: the last run and last success, failures in a row, failing and missing files,
 * the next scheduled tick, and how fresh its data is. One row type for `bubblewatch status`
 * (table and --json) and the report's freshness section.
 */

export interface PipelineStatus {
  readonly pipeline: string;
  readonly state: 'enabled' | 'disabled' | 'not configured';
  readonly schedule: string;
  readonly next_tick: string | null;
  readonly last_run: { run_id: number; status: string; trigger: string; started_at: string; error: string | null } | null;
  readonly last_success_at: string | null;
  readonly failures_in_a_row: number;
  /** Files that failed alone and have not changed since (not read again until they do). */
  readonly failing_files: readonly { readonly file: string; readonly since_run: number; readonly last_run: number; readonly error: string }[];
  /** Files gone from the sources whose rows are kept (on_missing: keep). */
  readonly missing_files: number;
  /** Partitions whose file the publisher had not published when last asked (HTTP 404 for the latest quarter): asked again next run. */
  readonly not_available: readonly { readonly partition: string; readonly uri: string; readonly run_id: number }[];
  readonly newest_data: string | null;
  readonly max_age_days: number | null;
  readonly age_days: number | null;
  readonly stale: boolean;
  readonly flags: readonly string[];
}

export async function collectStatus(ctx: Pick<CliContext, 'config' | 'registry'>, handle: DatabaseHandle, now = new Date()): Promise<PipelineStatus[]> {
  const statuses: PipelineStatus[] = [];
  for (const pipeline of ctx.registry) {
    const config = ctx.config.pipelines.get(pipeline.name)!;
    const recent: Run[] = await handle.db
      .selectFrom('etl.runs')
      .selectAll()
      .where('pipeline', '=', pipeline.name)
      .where('status', '<>', 'skipped')
      .orderBy('run_id', 'desc')
      .limit(50)
      .execute();
    const last = recent[0];
    const lastSuccess = recent.find((r) => r.status === 'succeeded' || r.status === 'partial');
    let failures = 0;
    for (const r of recent) {
      if (r.status === 'succeeded' || r.status === 'partial') break;
      if (r.status === 'failed' || r.status === 'interrupted') failures++;
    }
    const failing = await handle.db
      .selectFrom('etl.file_failures')
      .select(['uri', 'first_run_id', 'run_id', 'error'])
      .where('pipeline', '=', pipeline.name)
      .orderBy('source_key')
      .execute();
    const missing = await handle.db
      .selectFrom('etl.source_files')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('pipeline', '=', pipeline.name)
      .where('superseded_at', 'is', null)
      .where('missing_since_run_id', 'is not', null)
      .executeTakeFirst();
    const unpublished = await handle.db
      .selectFrom('etl.partitions as p')
      .innerJoin('etl.run_files as f', (join) => join.onRef('f.run_id', '=', 'p.last_run_id').on('f.action', '=', 'not_available'))
      .select(['p.partition_key', 'f.uri', 'f.run_id'])
      .where('p.pipeline', '=', pipeline.name)
      .where('p.status', '=', 'not_available')
      .orderBy('p.partition_key')
      .orderBy('f.uri')
      .execute();
    const newest = await newestData(handle, pipeline);
    const maxAge = pipeline.freshness?.maxAgeDays ?? null;
    const age = newest ? ageInDays(newest, now) : null;
    const stale = maxAge !== null && age !== null && age > maxAge;
    const state = config.enabled ? 'enabled' : config.configured ? 'disabled' : 'not configured';
    const flags: string[] = [];
    if (failures > 0) flags.push(`FAILING (${failures} in a row)`);
    if (failing.length > 0) flags.push(`PARTIAL (${failing.length} file(s) failing)`);
    if (Number(missing?.n ?? 0) > 0) flags.push(`${missing!.n} file(s) missing, rows kept`);
    if (unpublished.length > 0) {
      const keys = [...new Set(unpublished.map((u) => u.partition_key))];
      flags.push(`${keys.join(', ')} not yet available from the publisher (asked in run ${Math.max(...unpublished.map((u) => u.run_id))}; asked again next run)`);
    }
    if (stale) flags.push(`STALE (newest data ${age} days old, limit ${maxAge})`);
    if (state === 'enabled' && !last) flags.push('never run');
    statuses.push({
      pipeline: pipeline.name,
      state,
      schedule: `${config.schedule.cron} (${config.schedule.timezone})`,
      next_tick: state === 'enabled' ? (nextTick(config.schedule.cron, config.schedule.timezone)?.toISOString() ?? null) : null,
      last_run: last
        ? { run_id: last.run_id, status: last.status, trigger: last.trigger, started_at: last.started_at.toISOString(), error: last.error }
        : null,
      last_success_at: lastSuccess?.finished_at?.toISOString() ?? null,
      failures_in_a_row: failures,
      failing_files: failing.map((f) => ({ file: f.uri, since_run: f.first_run_id, last_run: f.run_id, error: f.error })),
      missing_files: Number(missing?.n ?? 0),
      not_available: unpublished.map((u) => ({ partition: u.partition_key, uri: u.uri, run_id: u.run_id })),
      newest_data: newest,
      max_age_days: maxAge,
      age_days: age,
      stale,
      flags,
    });
  }
  return statuses;
}


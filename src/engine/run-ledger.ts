import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../db/connect.js';
import type { Run, RunStatus, RunTrigger } from '../db/tables/runs.table.js';
import { redactSecrets } from '../errors.js';

/** Repository functions for etl.runs. They take the database handle first, like kysely's examples. */

export interface RunCounts {
  readonly filesSeen: number;
  readonly filesLoaded: number;
  readonly filesSkipped: number;
  readonly rowsRead: number;
  readonly rowsLoaded: number;
  readonly rowsRejected: number;
  readonly rowsSkipped: number;
}

export const ZERO_COUNTS: RunCounts = {
  filesSeen: 0,
  filesLoaded: 0,
  filesSkipped: 0,
  rowsRead: 0,
  rowsLoaded: 0,
  rowsRejected: 0,
  rowsSkipped: 0,
};

export async function startRun(
  handle: DatabaseHandle,
  run: { pipeline: string; trigger: RunTrigger; scheduledFor?: Date | undefined; partitionKey?: string | undefined },
): Promise<number> {
  const row = await handle.db
    .insertInto('etl.runs')
    .values({
      pipeline: run.pipeline,
      trigger: run.trigger,
      scheduled_for: run.scheduledFor ?? null,
      partition_key: run.partitionKey ?? null,
      status: 'running',
      finished_at: null,
      heartbeat_at: sql<Date>`now()`,
      error: null,
      host: hostname(),
      pid: process.pid,
    })
    .returning('run_id')
    .executeTakeFirstOrThrow();
  return row.run_id;
}

export async function heartbeat(handle: DatabaseHandle, runId: number): Promise<void> {
  await handle.db.updateTable('etl.runs').set({ heartbeat_at: sql<Date>`now()` }).where('run_id', '=', runId).execute();
}

export async function finishRun(
  handle: DatabaseHandle,
  runId: number,
  status: Extract<RunStatus, 'succeeded' | 'failed' | 'skipped' | 'interrupted'>,
  counts: RunCounts,
  error?: string,
): Promise<void> {
  await handle.db
    .updateTable('etl.runs')
    .set({
      status,
      finished_at: sql<Date>`greatest(now(), started_at)`,
      heartbeat_at: sql<Date>`now()`,
      files_seen: counts.filesSeen,
      files_loaded: counts.filesLoaded,
      files_skipped: counts.filesSkipped,
      rows_read: counts.rowsRead,
      rows_loaded: counts.rowsLoaded,
      rows_rejected: counts.rowsRejected,
      rows_skipped: counts.rowsSkipped,
      error: error === undefined ? null : redactSecrets(error),
    })
    .where('run_id', '=', runId)
    .execute();
}

export interface ListRunsFilter {
  readonly pipeline?: string | undefined;
  readonly limit: number;
}

export async function listRuns(handle: DatabaseHandle, filter: ListRunsFilter): Promise<Run[]> {
  let query = handle.db.selectFrom('etl.runs').selectAll().orderBy('run_id', 'desc').limit(filter.limit);
  if (filter.pipeline) query = query.where('pipeline', '=', filter.pipeline);
  return query.execute();
}

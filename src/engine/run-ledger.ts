import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../db/connect.js';
import type { Run, RunStatus, RunTrigger } from '../db/tables/runs.table.js';
import { redactSecrets, withoutNul } from '../errors.js';
import { forgetUnrecorded, readUnrecorded } from './unrecorded.js';

/** Repository functions for etl.runs. They take the database handle first, like kysely's examples. */

export interface RunCounts {
  readonly filesSeen: number;
  readonly filesLoaded: number;
  readonly filesSkipped: number;
  /** Refused whole (a file that cannot be read, or fails a file check); the others still load. */
  readonly filesFailed: number;
  readonly rowsRead: number;
  readonly rowsLoaded: number;
  readonly rowsRejected: number;
  readonly rowsSkipped: number;
}

export const ZERO_COUNTS: RunCounts = {
  filesSeen: 0,
  filesLoaded: 0,
  filesSkipped: 0,
  filesFailed: 0,
  rowsRead: 0,
  rowsLoaded: 0,
  rowsRejected: 0,
  rowsSkipped: 0,
};

export async function startRun(
  handle: DatabaseHandle,
  run: {
    pipeline: string;
    trigger: RunTrigger;
    scheduledFor?: Date | undefined;
    partitionKey?: string | undefined;
    attempt?: number | undefined;
    retryOf?: number | undefined;
    backfillId?: number | undefined;
  },
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
      attempt: run.attempt ?? 1,
      retry_of: run.retryOf ?? null,
      backfill_id: run.backfillId ?? null,
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
  status: Extract<RunStatus, 'succeeded' | 'partial' | 'failed' | 'skipped' | 'interrupted'>,
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
      files_failed: counts.filesFailed,
      rows_read: counts.rowsRead,
      rows_loaded: counts.rowsLoaded,
      rows_rejected: counts.rowsRejected,
      rows_skipped: counts.rowsSkipped,
      error: error === undefined ? null : withoutNul(redactSecrets(error)),
    })
    .where('run_id', '=', runId)
    .execute();
}

export interface ListRunsFilter {
  readonly pipeline?: string | undefined;
  readonly status?: RunStatus | undefined;
  readonly limit: number;
}

export async function listRuns(handle: DatabaseHandle, filter: ListRunsFilter): Promise<Run[]> {
  let query = handle.db.selectFrom('etl.runs').selectAll().orderBy('run_id', 'desc').limit(filter.limit);
  if (filter.pipeline) query = query.where('pipeline', '=', filter.pipeline);
  if (filter.status) query = query.where('status', '=', filter.status);
  return query.execute();
}

/** Appended to the error of a run whose outcome was kept aside and written by a later process. */
const RECORDED_LATE = "(recorded late: the database could not take the run's outcome when it ended)";

/**
 * Mark runs whose process is gone as interrupted. On PostgreSQL a run is gone when its
 * heartbeat is older than `staleAfterMs`. On the embedded database the folder lock makes this
 * process the only one, so every run still marked running belongs to a process that died.
 */
export async function recoverStaleRuns(handle: DatabaseHandle, staleAfterMs: number): Promise<Run[]> {
  // Runs whose outcome the database could not take when they ended: recorded now, with their cause.
  const late = readUnrecorded(handle.location);
  const recorded: Run[] = [];
  for (const o of late.values()) {
    const updated = await handle.db
      .updateTable('etl.runs')
      .set({
        status: o.status,
        finished_at: sql<Date>`greatest(${new Date(o.at)}::timestamptz, started_at)`,
        error: withoutNul(redactSecrets(`${o.error} ${RECORDED_LATE}`)),
      })
      .where('run_id', '=', o.run_id)
      .where('status', '=', 'running')
      .returningAll()
      .execute();
    recorded.push(...updated);
  }
  if (late.size > 0) forgetUnrecorded(handle.location, [...late.keys()]);
  const everyRunning = handle.kind === 'pglite';
  const stale = await handle.db
    .updateTable('etl.runs')
    .set({
      status: 'interrupted',
      finished_at: sql<Date>`greatest(now(), started_at)`,
      error: sql<string>`'interrupted: the process running it (pid ' || coalesce(pid::text, '?') || ' on ' || coalesce(host, '?') || ') stopped without finishing; last heartbeat ' || coalesce(to_char(heartbeat_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'), 'never') || ' UTC'`,
    })
    .where('status', '=', 'running')
    .where((eb) =>
      everyRunning
        ? eb.or([
            eb('pid', '<>', process.pid),
            eb('host', '<>', hostname()),
            eb('pid', 'is', null),
            // Our PID and host, but started before this process: an earlier process that had our
            // PID (PID 1 of a restarted container). PGlite's clock is this process's clock.
            eb('started_at', '<', new Date(performance.timeOrigin)),
          ])
        : eb('heartbeat_at', '<', sql<Date>`now() - make_interval(secs => ${staleAfterMs / 1000})`),
    )
    .returningAll()
    .execute();
  return [...recorded, ...stale];
}

/** What the log says of a run recoverStaleRuns marked. */
export function describeRecovered(run: Run): string {
  if (run.error?.includes(RECORDED_LATE)) return `run ${run.run_id} of ${run.pipeline} ${run.status}; its outcome is recorded now: ${run.error}`;
  return `run ${run.run_id} of ${run.pipeline} was left running by a process that stopped; marked interrupted`;
}

/** The run of this pipeline that is still going (a fresh heartbeat), if any. */
export async function runningRun(handle: DatabaseHandle, pipeline: string, staleAfterMs: number): Promise<Run | undefined> {
  return handle.db
    .selectFrom('etl.runs')
    .selectAll()
    .where('pipeline', '=', pipeline)
    .where('status', '=', 'running')
    .where('heartbeat_at', '>=', sql<Date>`now() - make_interval(secs => ${staleAfterMs / 1000})`)
    .orderBy('run_id', 'desc')
    .executeTakeFirst();
}

/** Record a run that did not happen (its tick found the previous run still going). */
export async function recordSkippedRun(
  handle: DatabaseHandle,
  run: { pipeline: string; trigger: RunTrigger; scheduledFor?: Date; reason: string },
): Promise<number> {
  const row = await handle.db
    .insertInto('etl.runs')
    .values({
      pipeline: run.pipeline,
      trigger: run.trigger,
      scheduled_for: run.scheduledFor ?? null,
      partition_key: null,
      status: 'skipped',
      finished_at: sql<Date>`now()`,
      heartbeat_at: null,
      error: run.reason,
      host: hostname(),
      pid: process.pid,
      backfill_id: null,
      retry_of: null,
    })
    .returning('run_id')
    .executeTakeFirstOrThrow();
  return row.run_id;
}

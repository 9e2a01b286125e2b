import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export type RunTrigger = 'manual' | 'schedule' | 'backfill' | 'catch-up';
/** partial: some source files failed alone (refused whole, nothing of them kept) while the others loaded. */
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'partial' | 'failed' | 'skipped' | 'interrupted';

export interface RunsTable {
  run_id: Generated<number>;
  pipeline: string;
  trigger: RunTrigger;
  scheduled_for: Date | null;
  partition_key: string | null;
  status: RunStatus;
  attempt: Generated<number>;
  started_at: Generated<Date>;
  finished_at: Date | null;
  heartbeat_at: Date | null;
  files_seen: Generated<number>;
  files_loaded: Generated<number>;
  files_skipped: Generated<number>;
  files_failed: Generated<number>;
  rows_read: Generated<number>;
  rows_loaded: Generated<number>;
  rows_rejected: Generated<number>;
  rows_skipped: Generated<number>;
  error: string | null;
  host: string | null;
  pid: number | null;
  backfill_id: number | null;
  retry_of: number | null;
}

export type Run = Selectable<RunsTable>;
export type NewRun = Insertable<RunsTable>;
export type RunUpdate = Updateable<RunsTable>;

import type { Generated, Selectable } from 'kysely';

export interface ScheduleTicksTable {
  pipeline: string;
  scheduled_for: Date;
  claimed_by: string;
  claimed_at: Generated<Date>;
  kind: 'tick' | 'catch-up';
  outcome: 'ran' | 'skipped' | null;
  run_id: number | null;
}

export type PartitionStatus = 'succeeded' | 'partial' | 'failed' | 'interrupted' | 'no_input' | 'not_available';

export interface PartitionsTable {
  pipeline: string;
  partition_key: string;
  status: PartitionStatus;
  last_run_id: number | null;
  rows_read: Generated<number>;
  rows_loaded: Generated<number>;
  rows_rejected: Generated<number>;
  files: Generated<number>;
  error: string | null;
  updated_at: Generated<Date>;
}

export interface BackfillsTable {
  backfill_id: Generated<number>;
  pipeline: string;
  from_partition: string;
  to_partition: string;
  only_mode: 'missing' | 'failed' | 'all';
  status: 'running' | 'succeeded' | 'failed' | 'interrupted';
  partitions_total: number;
  started_at: Generated<Date>;
  finished_at: Date | null;
  host: string | null;
  pid: number | null;
}

export type Partition = Selectable<PartitionsTable>;
export type Backfill = Selectable<BackfillsTable>;

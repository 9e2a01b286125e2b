import type { Generated, Selectable } from 'kysely';

export type RunFileAction = 'loaded' | 'skipped' | 'failed';

export interface RunFilesTable {
  run_id: number;
  uri: string;
  sha256: string | null;
  size_bytes: number | null;
  action: RunFileAction;
  file_id: number | null;
  rows_read: Generated<number>;
  rows_loaded: Generated<number>;
  rows_rejected: Generated<number>;
  rows_skipped: Generated<number>;
  message: string | null;
  recorded_at: Generated<Date>;
}

export type RunFile = Selectable<RunFilesTable>;

import type { Generated, Selectable } from 'kysely';

/**
 * loaded; skipped (unchanged since it loaded); failed (refused whole, or unchanged since it failed);
 * missing (gone from the inbox, rows kept); retired (gone, rows no longer count); changed (its
 * bytes changed while it was read: left for the next run); not_available (the publisher has not
 * published it yet: asked again next run).
 */
export type RunFileAction = 'loaded' | 'skipped' | 'failed' | 'missing' | 'retired' | 'changed' | 'not_available';

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

import type { Generated, Selectable } from 'kysely';

export interface SourceFilesTable {
  file_id: Generated<number>;
  pipeline: string;
  source_key: string;
  uri: string;
  sha256: string;
  size_bytes: number;
  run_id: number;
  loaded_at: Generated<Date>;
  rows_read: Generated<number>;
  rows_loaded: Generated<number>;
  rows_rejected: Generated<number>;
  rows_skipped: Generated<number>;
  superseded_by: number | null;
  superseded_at: Date | null;
  superseded_run_id: number | null;
  superseded_reason: 'replaced' | 'retired' | null;
  missing_since_run_id: number | null;
}

export interface FileFailuresTable {
  pipeline: string;
  source_key: string;
  uri: string;
  sha256: string;
  size_bytes: number;
  first_run_id: number;
  run_id: number;
  error: string;
  failed_at: Generated<Date>;
}

export interface PipelineLocksTable {
  pipeline: string;
}

export type SourceFile = Selectable<SourceFilesTable>;

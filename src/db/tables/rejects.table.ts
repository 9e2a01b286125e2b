import type { ColumnType, Generated, Selectable } from 'kysely';

export interface RejectProblem {
  readonly column: string | null;
  readonly column_no: number | null;
  readonly value: string | null;
  readonly message: string;
}

export interface RejectsTable {
  reject_id: Generated<number>;
  run_id: number;
  file_id: number;
  pipeline: string;
  uri: string;
  line_no: number;
  column_name: string | null;
  column_no: number | null;
  value: string | null;
  reason: string;
  problems: ColumnType<RejectProblem[], string, string>;
  raw_text: string;
  rejected_at: Generated<Date>;
}

export type Reject = Selectable<RejectsTable>;

import type { ColumnType, Generated, Selectable } from 'kysely';

export interface CheckResultsTable {
  run_id: number;
  pipeline: string;
  check_name: string;
  severity: 'error' | 'warn';
  status: 'passed' | 'failed';
  failing_rows: number;
  sample: ColumnType<unknown[], string, string>;
  description: string;
  checked_at: Generated<Date>;
}

export type CheckResult = Selectable<CheckResultsTable>;

export interface CheckFailuresTable {
  run_id: number;
  pipeline: string;
  check_name: string;
  row_no: number;
  row_data: ColumnType<unknown, string, string>;
}

export interface TableCountsTable {
  run_id: number;
  pipeline: string;
  table_name: string;
  row_count: number;
  counted_at: Generated<Date>;
}

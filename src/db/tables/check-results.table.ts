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

import type { SqlConnection } from '../db/connect.js';
import type { DataCheck } from './pipeline.js';

/**
 * Data checks run after transforms, in the run's transaction. Each check's SQL selects
 * the failing rows; the result records how many failed and keeps a sample for inspection.
 * Checks are results, not exceptions: the caller decides what a failed `error` check does.
 */

export const CHECK_SAMPLE_ROWS = 20;

export interface CheckOutcome {
  readonly check: DataCheck;
  readonly failingRows: number;
  readonly sample: readonly unknown[];
  readonly passed: boolean;
}

export async function runChecks(conn: SqlConnection, checks: readonly DataCheck[]): Promise<CheckOutcome[]> {
  const outcomes: CheckOutcome[] = [];
  for (const check of checks) {
    const body = check.sql.trim().replace(/;\s*$/, '');
    let rows: { total: number; row: unknown }[];
    try {
      ({ rows } = await conn.query<{ total: number; row: unknown }>(
        `select count(*) over () as total, to_jsonb(failing) as row from (${body}) as failing limit ${CHECK_SAMPLE_ROWS}`,
      ));
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      e.message = `data check ${check.name} could not run: ${e.message}`;
      throw e;
    }
    const failingRows = rows[0]?.total ?? 0;
    outcomes.push({ check, failingRows, sample: rows.map((r) => r.row), passed: failingRows === 0 });
  }
  return outcomes;
}

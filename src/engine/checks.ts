import type { SqlConnection } from '../db/connect.js';
import type { DataCheck, FileCheck, PipelineRuntime } from './pipeline.js';

/**
 * Data checks run after transforms, in the run's transaction. Each check's SQL selects
 * the failing rows; the result records how many failed and keeps a sample for inspection.
 * Checks are results, not exceptions: the caller decides what a failed `error` check does.
 */

export const CHECK_SAMPLE_ROWS = 20;
/** Failing rows kept in etl.check_failures per check and run. */
export const CHECK_FAILURES_KEPT = 1000;

export interface CheckOutcome {
  readonly check: DataCheck;
  readonly failingRows: number;
  /** The first failing rows, for etl.check_results and messages. */
  readonly sample: readonly unknown[];
  /** Up to CHECK_FAILURES_KEPT failing rows, for etl.check_failures. */
  readonly kept: readonly unknown[];
  readonly passed: boolean;
}

export async function runChecks(conn: SqlConnection, checks: readonly DataCheck[]): Promise<CheckOutcome[]> {
  const outcomes: CheckOutcome[] = [];
  for (const check of checks) {
    const body = check.sql.trim().replace(/;\s*$/, '');
    let rows: { total: number; row: unknown }[];
    try {
      ({ rows } = await conn.query<{ total: number; row: unknown }>(
        `select count(*) over () as total, to_jsonb(failing) as row from (${body}) as failing limit ${CHECK_FAILURES_KEPT}`,
      ));
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      e.message = `data check ${check.name} could not run: ${e.message}`;
      throw e;
    }
    const failingRows = rows[0]?.total ?? 0;
    const kept = rows.map((r) => r.row);
    outcomes.push({ check, failingRows, sample: kept.slice(0, CHECK_SAMPLE_ROWS), kept, passed: failingRows === 0 });
  }
  return outcomes;
}

export interface TableGuard {
  readonly table: string;
  /** Flag the table when it shrinks by more than this fraction since the pipeline's previous successful run. */
  readonly maxDrop: number;
  /** error (the default) fails the run; warn records it. */
  readonly severity?: 'error' | 'warn';
}

/**
 * Row-count guards: a table that shrank by more than its limit since the last successful run
 * (a truncated file superseding a whole one, a broken transform) fails a check, of severity
 * error unless the guard says warn.
 * Returns the outcomes and the counts to record.
 */
export async function checkTableCounts(
  conn: SqlConnection,
  pipeline: string,
  guards: readonly TableGuard[],
  /** false: only count (after a configuration change rows may go on purpose). */
  evaluate = true,
): Promise<{ outcomes: CheckOutcome[]; counts: { table: string; count: number }[] }> {
  const outcomes: CheckOutcome[] = [];
  const counts: { table: string; count: number }[] = [];
  for (const guard of guards) {
    if (!/^[a-z_]+\.[a-z_]+$/.test(guard.table)) throw new Error(`guarded table name ${guard.table} must be schema.table`);
    const { rows } = await conn.query<{ n: number }>(`select count(*)::bigint as n from ${guard.table}`);
    const count = rows[0]?.n ?? 0;
    counts.push({ table: guard.table, count });
    if (!evaluate) continue;
    const { rows: previous } = await conn.query<{ row_count: number; run_id: number }>(
      `select row_count, run_id from etl.table_counts where pipeline = $1 and table_name = $2 order by run_id desc limit 1`,
      [pipeline, guard.table],
    );
    const before = previous[0];
    const dropped = before !== undefined && before.row_count > 0 && count < before.row_count * (1 - guard.maxDrop);
    const check: DataCheck = {
      name: `row_count_drop:${guard.table}`,
      description: `${guard.table} did not shrink by more than ${Math.round(guard.maxDrop * 100)}% since the last successful run`,
      severity: guard.severity ?? 'error',
      sql: '',
    };
    const row = before ? { table: guard.table, previous_run: before.run_id, previous_rows: before.row_count, rows: count } : { table: guard.table, rows: count };
    outcomes.push({ check, failingRows: dropped ? 1 : 0, sample: dropped ? [row] : [], kept: dropped ? [row] : [], passed: !dropped });
  }
  return { outcomes, counts };
}

export interface FileCheckFailure {
  readonly check: FileCheck;
  readonly failingRows: number;
  readonly sample: readonly unknown[];
}

/** Run a pipeline's file checks over one file just loaded into raw. Returns the first failing check, if any. */
export async function runFileChecks(
  conn: SqlConnection,
  checks: readonly FileCheck[],
  fileId: number,
  runtime: PipelineRuntime,
): Promise<FileCheckFailure | undefined> {
  const active = checks.filter((c) => c.enabled?.(runtime) ?? true);
  for (const check of active) {
    if (check.setup) await conn.script(check.setup);
    if (check.prepare) await conn.query(check.prepare, [fileId]);
    const params = [fileId, ...(check.params?.(runtime) ?? [])];
    const body = check.sql.trim().replace(/;\s*$/, '');
    let rows: { total: number; row: unknown }[];
    try {
      ({ rows } = await conn.query<{ total: number; row: unknown }>(
        `select count(*) over () as total, to_jsonb(failing) as row from (${body}) as failing limit ${CHECK_SAMPLE_ROWS}`,
        params,
      ));
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      e.message = `file check ${check.name} could not run: ${e.message}`;
      throw e;
    }
    if (rows.length > 0) return { check, failingRows: rows[0]!.total, sample: rows.map((r) => r.row) };
  }
  return undefined;
}

import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { expect, it } from 'vitest';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { makeInbox, rows } from '../helpers/pipelines.js';
import { bubblewatch } from '../helpers/cli.js';
import { STALE_SECONDS, bigFile, config, lostAgainstCleanRun, tracker, waitFor } from './processes.js';

/**
 * Item 3 of issue 8: a `bubblewatch run` process SIGKILLed in the middle of its run, on PGlite
 * and on PostgreSQL. The next process marks the run interrupted and reclaims the embedded
 * folder lock (PGlite); the dead session's transaction and pipeline lock are gone
 * (PostgreSQL); a rerun loads the same totals as a clean run. (Moved here from
 * test/scheduler/processes.test.ts so that the summary counts it.)
 */

/** Enough rows that the run takes a while on either database, so that it can be killed in the middle. */
const ROWS = 30_000;

describeEachDatabase('a process killed mid-run', (kind) => {
  it('is recovered by the next process: the run is marked interrupted, the lock freed, and a rerun loads the same totals as a clean run', async () => {
    const outcome = tracker(kind === 'pglite' ? 'sigkill-mid-run-pglite' : 'sigkill-mid-run-postgres');
    const db = await useDatabase(kind);
    await db.close();
    const dir = makeInbox();
    const file = config(dir);
    bigFile(dir, ROWS);

    const victim = bubblewatch(['--config', file, 'run', 'custom-series', '--no-preview'], db.env);
    // Found its file (the next step opens the run's transaction and loads it): kill it mid-load.
    // Soon after, so that even a fast machine has not finished 30,000 rows and their transform.
    expect(await waitFor(victim, '"msg":"found 1 source unit(s)', 30_000), victim.stderr.slice(-1000)).toBe(true);
    await sleep(100);
    victim.child.kill('SIGKILL');
    await victim.exited;
    expect(victim.child.signalCode).toBe('SIGKILL');
    expect(victim.stderr, 'the run had not finished when the process died').not.toMatch(/run 1 of custom-series succeeded/);
    // The file's "read …, loaded …" line comes when its load is complete.
    const phase = /big\.csv: read \d+/.test(victim.stderr) ? 'in its transforms' : 'in the middle of its load';
    outcome.injected = true;
    outcome.detail = `process SIGKILLed while run 1 was ${phase}`;
    if (kind === 'pglite') expect(existsSync(`${db.openOptions.embeddedDir}.lock`), 'the dead process left its folder lock').toBe(true);

    if (kind === 'postgres') {
      // The dead client's session ends, and with it the transaction and the pipeline lock.
      const admin = new pg.Client({ connectionString: db.env.DATABASE_URL });
      await admin.connect();
      try {
        for (let i = 0; i < 200; i++) {
          const r = await admin.query<{ n: number }>(`select count(*)::int as n from pg_locks where locktype = 'relation' and relation = 'etl.pipeline_locks'::regclass and database = (select oid from pg_database where datname = current_database()) and pid <> pg_backend_pid()`);
          if (r.rows[0]!.n === 0) break;
          await sleep(50);
        }
        const [left] = (
          await admin.query<Record<string, unknown>>(
            `select (select count(*)::int from pg_locks where locktype = 'relation' and relation = 'etl.pipeline_locks'::regclass and database = (select oid from pg_database where datname = current_database()) and pid <> pg_backend_pid()) as pipeline_locks,
                    (select count(*)::int from raw.custom_series) as raw,
                    (select status from etl.runs where run_id = 1) as status`,
          )
        ).rows;
        expect(left).toEqual({ pipeline_locks: 0, raw: 0, status: 'running' });
      } finally {
        await admin.end();
      }
      await sleep(STALE_SECONDS * 1000 + 1000); // its heartbeat goes stale after stale_after_seconds
    }
    const next = bubblewatch(['--config', file, 'run', 'custom-series', '--no-preview'], db.env);
    const code = await next.exited;
    expect(code, next.stderr.slice(-1000)).toBe(0);
    expect(next.stderr).toMatch(/run 1 of custom-series was left running by a process that stopped; marked interrupted/);

    const handle = await db.reopen();
    // (Run ids after a crash may jump: PostgreSQL logs identity values ahead.)
    const runs = await rows<{ status: string; rows_read: number; rows_loaded: number }>(handle, 'select status, rows_read, rows_loaded from etl.runs order by run_id');
    expect(runs).toEqual([
      { status: 'interrupted', rows_read: 0, rows_loaded: 0 },
      { status: 'succeeded', rows_read: ROWS, rows_loaded: ROWS },
    ]);
    const [totals] = await rows<{ raw: number; core: number; files: number }>(
      handle,
      `select (select count(*)::int from raw.custom_series) as raw, (select count(*)::int from core.custom_series) as core,
              (select count(*)::int from etl.source_files) as files`,
    );
    expect(totals).toEqual({ raw: ROWS, core: ROWS, files: 1 });
    if (kind === 'pglite') expect(readFileSync(`${db.openOptions.embeddedDir}.lock`, 'utf8'), 'the lock was reclaimed by this process').toContain(`"pid":${process.pid}`);
    outcome.lost = await lostAgainstCleanRun(kind, db, dir);
  });
});


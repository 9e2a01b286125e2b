import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { expect, it } from 'vitest';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { makeInbox, rows } from '../helpers/pipelines.js';
import { bubblewatch } from '../helpers/cli.js';
import { bigFile, config, lostAgainstCleanRun, tracker } from './processes.js';

const ROWS = 5_000;

/**
 * Item 3 of issue 8: two manual runs of one pipeline at once, as two `bubblewatch run`
 * processes. One runs; the other waits for it (PostgreSQL: the pipeline's row lock, then
 * it finds the file loaded) or is refused (PGlite: the folder lock, naming the holder). Never
 * both: one file, one load, the totals of a clean run.
 */

describeEachDatabase('two manual runs of one pipeline at once', (kind) => {
  if (kind === 'postgres') {
    it('one runs, the other waits for it on the pipeline lock and then finds the file loaded: never both', async () => {
      const outcome = tracker('concurrent-manual-runs-postgres');
      const db = await useDatabase(kind);
      await db.close();
      const dir = makeInbox();
      const file = config(dir);
      bigFile(dir, ROWS);

      // Hold the first run in its transaction (the test locks the table its transform writes)
      // until the second one is waiting for the pipeline lock.
      const admin = new pg.Client({ connectionString: db.env.DATABASE_URL });
      await admin.connect();
      try {
        await admin.query('begin');
        await admin.query('lock table core.custom_series in access exclusive mode');
        const first = bubblewatch(['--config', file, 'run', 'custom-series', '--no-preview'], db.env);
        const second = bubblewatch(['--config', file, 'run', 'custom-series', '--no-preview'], db.env);
        const watch = new pg.Client({ connectionString: db.env.DATABASE_URL });
        await watch.connect();
        // The pipeline lock is a row of etl.pipeline_locks: its waiter waits for the holder's transaction.
        let waits: { lock: number; pipeline: number } = { lock: 0, pipeline: 0 };
        try {
          const deadline = Date.now() + 60_000;
          while (Date.now() < deadline) {
            const r = await watch.query<{ lock: number; pipeline: number }>(
              `select count(*) filter (where wait_event = 'relation')::int as lock,
                      count(*) filter (where wait_event in ('transactionid', 'tuple') and query ilike '%etl.pipeline_locks%for update%')::int as pipeline
               from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
            );
            waits = r.rows[0]!;
            if (waits.lock === 1 && waits.pipeline === 1) break;
            await sleep(50);
          }
        } finally {
          await watch.end();
        }
        expect(waits, 'one run waits at the transform (held by the test), the other for the pipeline lock').toEqual({ lock: 1, pipeline: 1 });
        outcome.injected = true;
        outcome.detail = 'two `bubblewatch run custom-series` at once; the second waited on the pipeline lock';
        await admin.query('rollback');
        const codes = await Promise.all([first.exited, second.exited]);
        expect(codes, `${first.stderr.slice(-500)}\n${second.stderr.slice(-500)}`).toEqual([0, 0]);
      } finally {
        await admin.end().catch(() => {});
      }

      const handle = await db.reopen();
      const runs = await rows<{ status: string; files_loaded: number; files_skipped: number; rows_loaded: number; started_at: Date; finished_at: Date }>(
        handle,
        `select status, files_loaded, files_skipped, rows_loaded, started_at, finished_at from etl.runs order by files_loaded desc`,
      );
      expect(runs.map(({ started_at: _s, finished_at: _f, ...r }) => r)).toEqual([
        { status: 'succeeded', files_loaded: 1, files_skipped: 0, rows_loaded: ROWS },
        { status: 'succeeded', files_loaded: 0, files_skipped: 1, rows_loaded: 0 },
      ]);
      const [loader, waiter] = runs as [(typeof runs)[number], (typeof runs)[number]];
      expect(waiter.started_at.getTime(), 'the runs overlapped').toBeLessThan(loader.finished_at.getTime());
      expect(waiter.finished_at.getTime(), 'the second finished after the first: it waited').toBeGreaterThanOrEqual(loader.finished_at.getTime());
      const [totals] = await rows<{ raw: number; files: number }>(
        handle,
        'select (select count(*)::int from raw.custom_series) as raw, (select count(*)::int from etl.source_files) as files',
      );
      expect(totals).toEqual({ raw: ROWS, files: 1 });
      outcome.lost = await lostAgainstCleanRun(kind, db, dir);
    });
  } else {
    it('one runs, the other is refused by the folder lock with the holder named: never both', async () => {
      const outcome = tracker('concurrent-manual-runs-pglite');
      const db = await useDatabase(kind);
      await db.close();
      const dir = makeInbox();
      const file = config(dir);
      bigFile(dir, ROWS);

      // Both start at once; whichever opens the folder first holds it until it exits.
      const procs = [1, 2].map(() => bubblewatch(['--config', file, 'run', 'custom-series', '--no-preview'], db.env));
      const codes = await Promise.all(procs.map((p) => p.exited));
      const winner = procs[codes.indexOf(0)];
      const loser = procs[codes.indexOf(2)];
      expect(codes.slice().sort(), procs.map((p) => p.stderr.slice(-500)).join('\n')).toEqual([0, 2]);
      outcome.injected = true;
      outcome.detail = 'two `bubblewatch run custom-series` at once on one embedded folder';
      expect(loser!.stdout + loser!.stderr).toMatch(new RegExp(`is in use by process ${winner!.child.pid} on .*only one process may open it at a time`));

      const handle = await db.reopen();
      const runs = await rows<{ status: string; rows_loaded: number }>(handle, 'select status, rows_loaded from etl.runs order by run_id');
      expect(runs).toEqual([{ status: 'succeeded', rows_loaded: ROWS }]);
      outcome.lost = await lostAgainstCleanRun(kind, db, dir);
    });
  }
});

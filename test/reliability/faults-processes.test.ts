import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { expect, it, onTestFinished } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase, type DbKind, type TestDatabase } from '../helpers/databases.js';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { inboxConfig, makeInbox, rows, runOnce, writeFile } from '../helpers/pipelines.js';
import { contents, diffContents } from './db-state.js';
import type { FaultId } from './faults-plan.js';
import { record } from './outcomes.js';

/**
 * Item 3 of issue 8 with real `bubblewatch` processes, on PGlite and on PostgreSQL:
 *   - a process SIGKILLed in the middle of a load: the next process marks its run
 *     interrupted, reclaims the embedded folder lock (PGlite), and a rerun loads the same
 *     totals as a clean run;
 *   - two manual runs of one pipeline at once: one runs, the other waits (PostgreSQL: the
 *     pipeline's advisory lock) or is refused (PGlite: the folder lock), never both.
 * Each records its outcome for the summary line.
 */

interface Proc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

function bubblewatch(args: string[], env: Readonly<Record<string, string>>): Proc {
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'bubblewatch.js'), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BUBBLEWATCH_LOG_FORMAT: 'json', ...env },
    cwd: PACKAGE_ROOT,
  });
  const proc: Proc = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  child.stdout!.on('data', (d) => (proc.stdout += d));
  child.stderr!.on('data', (d) => (proc.stderr += d));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return proc;
}

/** stale_after_seconds cannot be under 10: a PostgreSQL run's heartbeat goes stale after that. */
const STALE_SECONDS = 10;
const custom = customSeries as unknown as AnyPipeline;

function config(dir: string, retryAttempts = 1): string {
  return writeFile(
    dir,
    'bubblewatch.yaml',
    `log: { level: debug }
scheduler: { heartbeat_seconds: 1, stale_after_seconds: ${STALE_SECONDS}, shutdown_timeout_seconds: 5, retry: { max_attempts: ${retryAttempts}, base_ms: 10, max_ms: 50 } }
pipelines:
  custom-series:
    schedule: { cron: "15 6 * * *", timezone: UTC }
    sources:
      - path: ./inbox
`,
  );
}

/** A generated custom-series file of `n` rows (large enough that loading it takes seconds). */
function bigFile(dir: string, n: number): void {
  const lines = ['series,subject,date,value,unit'];
  for (let i = 0; i < n; i++) lines.push(`load_test_${i % 97},subject ${i},2025-${String((i % 12) + 1).padStart(2, '0')}-01,${i}.5,USD`);
  writeFile(dir, 'inbox/big.csv', lines.join('\n') + '\n');
}

async function waitFor(proc: Proc, text: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!proc.stderr.includes(text) && proc.child.exitCode === null && Date.now() < deadline) await sleep(25);
  return proc.stderr.includes(text);
}

function tracker(id: FaultId) {
  const outcome = { injected: false, lost: 0, detail: '' };
  onTestFinished((test) => {
    const recovered = test.task.result?.state !== 'fail';
    const error = test.task.result?.errors?.[0]?.message;
    record({ type: 'fault', id, injected: outcome.injected, recovered, lost: outcome.lost, detail: recovered ? outcome.detail : `${error ?? ''} (${outcome.detail})` });
  });
  return outcome;
}

/** The raw and core tables of `db` against a clean run of the same inbox on a fresh database: rows missing. */
async function lostAgainstCleanRun(kind: DbKind, db: TestDatabase, dir: string): Promise<number> {
  const clean = await useDatabase(kind);
  const reference = await runOnce(clean.handle, custom, inboxConfig(custom, join(dir, 'inbox')));
  expect(reference.status, reference.error).toBe('succeeded');
  const diffs = diffContents(await contents(clean.handle), await contents(db.handle));
  expect(diffs, 'raw and core tables equal a clean run').toEqual([]);
  return diffs.reduce((n, d) => n + d.missing.length, 0);
}

/** Enough rows that a load takes seconds on either database, so that it can be interrupted. */
const ROWS = 60_000;

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
    expect(await waitFor(victim, '"msg":"found 1 source unit(s)', 30_000), victim.stderr.slice(-1000)).toBe(true);
    await sleep(400);
    victim.child.kill('SIGKILL');
    await victim.exited;
    expect(victim.child.signalCode).toBe('SIGKILL');
    // The file's "read …, loaded …" line comes when its load is complete: it must not have come.
    expect(victim.stderr, 'the load was still going when the process died').not.toMatch(/big\.csv: read \d+/);
    outcome.injected = true;
    outcome.detail = 'process SIGKILLed while run 1 was loading';
    if (kind === 'pglite') expect(existsSync(`${db.openOptions.embeddedDir}.lock`), 'the dead process left its folder lock').toBe(true);

    if (kind === 'postgres') {
      // The dead client's session ends, and with it the transaction and the pipeline lock.
      const admin = new pg.Client({ connectionString: db.env.DATABASE_URL });
      await admin.connect();
      try {
        for (let i = 0; i < 200; i++) {
          const r = await admin.query<{ n: number }>(`select count(*)::int as n from pg_locks where locktype = 'advisory'`);
          if (r.rows[0]!.n === 0) break;
          await sleep(50);
        }
        const [left] = (
          await admin.query<Record<string, unknown>>(
            `select (select count(*)::int from pg_locks where locktype = 'advisory') as advisory_locks,
                    (select count(*)::int from raw.custom_series) as raw,
                    (select status from etl.runs where run_id = 1) as status`,
          )
        ).rows;
        expect(left).toEqual({ advisory_locks: 0, raw: 0, status: 'running' });
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

describeEachDatabase('two manual runs of one pipeline at once', (kind) => {
  if (kind === 'postgres') {
    it('one runs, the other waits for it on the pipeline lock and then finds the file loaded: never both', async () => {
      const outcome = tracker('concurrent-manual-runs-postgres');
      const db = await useDatabase(kind);
      await db.close();
      const dir = makeInbox();
      const file = config(dir);
      bigFile(dir, 5_000);

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
        let waits: { lock: number; advisory: number } = { lock: 0, advisory: 0 };
        try {
          const deadline = Date.now() + 60_000;
          while (Date.now() < deadline) {
            const r = await watch.query<{ lock: number; advisory: number }>(
              `select count(*) filter (where wait_event = 'relation')::int as lock, count(*) filter (where wait_event = 'advisory')::int as advisory
               from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
            );
            waits = r.rows[0]!;
            if (waits.lock === 1 && waits.advisory === 1) break;
            await sleep(50);
          }
        } finally {
          await watch.end();
        }
        expect(waits, 'one run waits at the transform (held by the test), the other for the pipeline lock').toEqual({ lock: 1, advisory: 1 });
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
        { status: 'succeeded', files_loaded: 1, files_skipped: 0, rows_loaded: 5_000 },
        { status: 'succeeded', files_loaded: 0, files_skipped: 1, rows_loaded: 0 },
      ]);
      const [loader, waiter] = runs as [(typeof runs)[number], (typeof runs)[number]];
      expect(waiter.started_at.getTime(), 'the runs overlapped').toBeLessThan(loader.finished_at.getTime());
      expect(waiter.finished_at.getTime(), 'the second finished after the first: it waited').toBeGreaterThanOrEqual(loader.finished_at.getTime());
      const [totals] = await rows<{ raw: number; files: number }>(
        handle,
        'select (select count(*)::int from raw.custom_series) as raw, (select count(*)::int from etl.source_files) as files',
      );
      expect(totals).toEqual({ raw: 5_000, files: 1 });
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

      const first = bubblewatch(['--config', file, 'run', 'custom-series', '--no-preview'], db.env);
      expect(await waitFor(first, '"msg":"run 1 of custom-series started', 30_000), first.stderr.slice(-1000)).toBe(true);
      const second = bubblewatch(['--config', file, 'run', 'custom-series', '--no-preview'], db.env);
      const secondCode = await second.exited;
      const stillRunning = first.child.exitCode === null;
      expect(stillRunning, 'the first run was still going when the second was refused').toBe(true);
      outcome.injected = true;
      outcome.detail = 'two `bubblewatch run custom-series` at once on one embedded folder';
      expect(secondCode, second.stderr.slice(-1000)).toBe(2);
      expect(second.stdout + second.stderr).toMatch(new RegExp(`is in use by process ${first.child.pid} on .*only one process may open it at a time`));
      expect(await first.exited, first.stderr.slice(-1000)).toBe(0);

      const handle = await db.reopen();
      const runs = await rows<{ status: string; rows_loaded: number }>(handle, 'select status, rows_loaded from etl.runs order by run_id');
      expect(runs).toEqual([{ status: 'succeeded', rows_loaded: ROWS }]);
      outcome.lost = await lostAgainstCleanRun(kind, db, dir);
    });
  }
});

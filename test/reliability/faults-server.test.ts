import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { recoverStaleRuns } from '../../src/engine/run-ledger.js';
import { runPipeline, type RunSummary } from '../../src/engine/run-pipeline.js';
import { migrate } from '../../src/migrate/migrator.js';
import { bundledShared, inboxConfig, makeInbox, memoryLogger, rows, writeFile } from '../helpers/pipelines.js';
import { contents, diffContents } from './db-state.js';
import { faultServerAvailable, startFaultServer, type FaultServer } from './fault-server.js';
import { record } from './outcomes.js';
import { FAULTS } from './faults-plan.js';

/**
 * Item 3 of issue 8, on a real PostgreSQL that this file starts and stops itself: the server
 * goes away in the middle of a load and in the middle of the transforms. The run must fail
 * with a clear cause, keep nothing partial and hold no lock; once the server is back, the
 * next run completes and the database equals a clean run's.
 *
 * The run is stopped at an exact point by a lock the test holds: on etl.rejects (the load
 * has copied its rows and is about to store its rejects) or on core.custom_series (the
 * transform is waiting to write). The test sees the run's statement wait in
 * pg_stat_activity, checks that rows of the load are already on disk, and stops the server.
 */

const custom = customSeries as unknown as AnyPipeline;
const TEMPLATE = 'bw_fault_template';
const GOOD_ROWS = 20_000;

let server: FaultServer | undefined;
let serial = 0;

function inputFile(inbox: string): string {
  const lines = ['series,subject,date,value,unit'];
  for (let i = 0; i < GOOD_ROWS; i++) lines.push(`fault_test_${i % 37},subject ${i},2025-${String((i % 12) + 1).padStart(2, '0')}-01,${i}.25,USD`);
  // One bad row, so that the load also writes a reject (where the load-phase fault waits).
  lines.push('fault_test_bad,subject x,2025-13-01,1,USD');
  return writeFile(inbox, 'faults.csv', lines.join('\n') + '\n');
}

async function admin<T>(database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server!.urlOf(database) });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function freshDatabase(): Promise<string> {
  const name = `bw_fault_${process.pid}_${++serial}`;
  await admin('postgres', (c) => c.query(`create database ${name} template ${TEMPLATE}`));
  return name;
}

async function open(database: string): Promise<DatabaseHandle> {
  return openDatabase({ databaseUrl: server!.urlOf(database), embeddedDir: '', command: 'reliability faults' });
}

/** Wait until `check` returns a value, polling; fails after `ms`. */
async function until<T>(what: string, ms: number, context: () => Promise<unknown>, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${ms / 1000} s; sessions: ${JSON.stringify(await context())}`);
    await sleep(25);
  }
}

interface Scenario {
  readonly id: (typeof FAULTS)[number];
  /** The table the test locks so that the run waits there. */
  readonly lockTable: string;
  /** What the waiting statement of the run looks like (ILIKE pattern). */
  readonly waiting: string;
  readonly stopMode: 'fast' | 'immediate';
  /** The run's error names this. */
  readonly cause: RegExp;
}

async function serverStopsMidRun(s: Scenario): Promise<void> {
  const outcome = { injected: false, lost: 0, detail: '' };
  onTestFinished((test) => {
    const recovered = test.task.result?.state !== 'fail';
    const error = test.task.result?.errors?.[0]?.message;
    record({ type: 'fault', id: s.id, injected: outcome.injected, recovered, lost: outcome.lost, detail: recovered ? outcome.detail : `${error ?? ''} (${outcome.detail})` });
  });

  const database = await freshDatabase();
  const inbox = makeInbox();
  inputFile(inbox);
  const config = inboxConfig(custom, inbox);
  const { logger } = memoryLogger();
  const shared = bundledShared();
  let handle = await open(database);

  // The test's lock, held in an open transaction until the server stops.
  const blocker = new pg.Client({ connectionString: server!.urlOf(database) });
  blocker.on('error', () => {});
  await blocker.connect();
  await blocker.query('begin');
  await blocker.query(`lock table ${s.lockTable} in access exclusive mode`);

  const running: Promise<RunSummary> = runPipeline({ handle, logger, shared }, custom, config, { trigger: 'manual', heartbeatMs: 200 });
  const failed = running.then(
    (summary) => ({ summary, thrown: undefined as unknown }),
    (thrown: unknown) => ({ summary: undefined, thrown }),
  );

  // The run is inside its transaction, holds the pipeline lock, and waits on the test's lock.
  const watcher = new pg.Client({ connectionString: server!.urlOf(database) });
  watcher.on('error', () => {});
  await watcher.connect();
  const activity = async () =>
    (
      await watcher.query<{ pid: number; state: string; wait: string | null; query: string }>(
        `select pid, state, wait_event_type || ':' || wait_event as wait, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 120) as query
         from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
        [database],
      )
    ).rows;
  const waiting = await until(`${s.id}: the run waiting at ${s.lockTable}`, 30_000, activity, async () => {
    const r = await watcher.query<{ pid: number; query: string }>(
      `select pid, query from pg_stat_activity
       where datname = $1 and pid <> pg_backend_pid() and wait_event_type = 'Lock' and query ilike $2`,
      [database, s.waiting],
    );
    return r.rows[0];
  });
  const [midway] = (
    await watcher.query<{ raw_bytes: string; pipeline_lock: number }>(
      `select pg_relation_size('raw.custom_series')::text as raw_bytes,
              (select count(*)::int from pg_locks where locktype = 'relation' and relation = 'etl.pipeline_locks'::regclass and database = (select oid from pg_database where datname = current_database()) and pid = $1 and granted) as pipeline_lock`,
      [waiting.pid],
    )
  ).rows;
  await watcher.end().catch(() => {});
  expect(Number(midway!.raw_bytes), 'rows of the load are written (uncommitted) when the server stops').toBeGreaterThan(0);
  expect(midway!.pipeline_lock, 'the run holds its pipeline lock (a row of etl.pipeline_locks) when the server stops').toBe(1);

  server!.stop(s.stopMode);
  outcome.injected = true;
  outcome.detail = `server stopped (-m ${s.stopMode}) while the run waited in: ${waiting.query.replace(/\s+/g, ' ').slice(0, 80)}`;

  const result = await Promise.race([failed, sleep(60_000).then(() => ({ summary: undefined, thrown: new Error('the run hung after the server stopped') }))]);
  await blocker.end().catch(() => {});
  expect(result.thrown, 'the run reports its failure instead of throwing').toBeUndefined();
  const summary = result.summary!;
  expect(summary.status).toBe('failed');
  expect(summary.transient, 'a lost connection is transient: worth another attempt').toBe(true);
  expect(summary.error).toMatch(s.cause);
  outcome.detail += `; run failed: ${summary.error}`;
  if (process.env.RELIABILITY_TRACE) process.stderr.write(`[reliability] ${s.id}: ${outcome.detail}\n`);

  server!.start();
  await handle.close().catch(() => {});
  handle = await open(database);
  try {
    // Nothing of the failed run is left: no rows, no file, no rejects, and no lock.
    const [left] = await rows<Record<string, number>>(
      handle,
      `select (select count(*)::int from raw.custom_series) as raw,
              (select count(*)::int from core.custom_series) as core,
              (select count(*)::int from etl.source_files) as files,
              (select count(*)::int from etl.rejects) as rejects,
              (select count(*)::int from pg_locks where locktype = 'relation' and relation = 'etl.pipeline_locks'::regclass and database = (select oid from pg_database where datname = current_database()) and pid <> pg_backend_pid()) as pipeline_locks`,
    );
    expect(left).toEqual({ raw: 0, core: 0, files: 0, rejects: 0, pipeline_locks: 0 });

    // The run could not be marked while the server was down; it kept its outcome aside
    // (unrecorded.ts), and the next process that marks abandoned runs (as `bubblewatch run` and
    // `start` do, once the heartbeat is stale) records it failed, with its real cause.
    await sleep(1_200);
    const stale = await recoverStaleRuns(handle, 1_000);
    expect(stale.map((r) => r.run_id)).toEqual([summary.runId]);
    const [marked] = await rows<{ status: string; error: string }>(handle, 'select status, error from etl.runs where run_id = $1', [summary.runId]);
    expect(marked).toEqual({ status: 'failed', error: `${summary.error} (recorded late: the database could not take the run's outcome when it ended)` });

    const next = await runPipeline({ handle, logger, shared }, custom, config, { trigger: 'manual' });
    expect(next.status, next.error).toBe('succeeded');
    expect(next.counts).toMatchObject({ filesLoaded: 1, rowsRead: GOOD_ROWS + 1, rowsLoaded: GOOD_ROWS, rowsRejected: 1, rowsSkipped: 0 });
    const runs = await rows<{ run_id: number; status: string }>(handle, 'select run_id, status from etl.runs order by run_id');
    expect(runs).toEqual([
      { run_id: summary.runId, status: 'failed' },
      { run_id: next.runId, status: 'succeeded' },
    ]);

    // The totals equal a clean run of the same input on a database that never failed.
    const cleanDatabase = await freshDatabase();
    const clean = await open(cleanDatabase);
    try {
      const reference = await runPipeline({ handle: clean, logger, shared }, custom, config, { trigger: 'manual' });
      expect(reference.status, reference.error).toBe('succeeded');
      expect(next.counts).toEqual(reference.counts);
      const diffs = diffContents(await contents(clean), await contents(handle));
      outcome.lost = diffs.reduce((n, d) => n + d.missing.length, 0);
      expect(diffs, 'raw and core tables equal a clean run').toEqual([]);
      const [rejects] = await rows<{ n: number }>(handle, 'select count(*)::int as n from etl.rejects');
      expect(rejects!.n).toBe(1);
    } finally {
      await clean.close();
    }
  } finally {
    await handle.close();
  }
}

// The faults stop and start a server of their own, so they need the PostgreSQL binaries.
const maybe = faultServerAvailable() ? describe : describe.skip;
const NAME = 'PostgreSQL stopped in the middle of a run';
const title = faultServerAvailable()
  ? NAME
  : `${NAME} [SKIPPED — no PostgreSQL binaries to start a server that can be stopped; set PG_BINDIR or install postgresql]`;

maybe(title, () => {
  beforeAll(async () => {
    server = await startFaultServer();
    await admin('postgres', (c) => c.query(`create database ${TEMPLATE} template template0 encoding 'UTF8'`));
    const handle = await open(TEMPLATE);
    try {
      await migrate(handle);
    } finally {
      await handle.close();
    }
  });

  afterAll(() => {
    server?.destroy();
  });

  it('stopped (crash, -m immediate) in the middle of a load: the run fails with the cause, nothing partial is left, the lock is gone, and the next run equals a clean one', async () => {
    await serverStopsMidRun({
      id: 'server-stopped-mid-load',
      lockTable: 'etl.rejects',
      waiting: 'insert into "etl"."rejects"%',
      stopMode: 'immediate',
      cause: /^lost the connection to the PostgreSQL server at postgres:\/\/postgres@127\.0\.0\.1:\d+\/bw_fault_\w+ \(.+\); the run's transaction rolled back, so nothing from it was kept$/,
    });
  });

  it('stopped (shutdown, -m fast) in the middle of the transforms: the same', async () => {
    await serverStopsMidRun({
      id: 'server-stopped-mid-transform',
      lockTable: 'core.custom_series',
      // pg_stat_activity keeps the first 1 kB of a statement: the transform file's opening comment.
      waiting: '-- core.custom_series:%',
      stopMode: 'fast',
      cause: /^lost the connection to the PostgreSQL server at .+ \(transform sql\/transforms\/core\/custom_series\.sql failed: terminating connection due to administrator command\); the run's transaction rolled back, so nothing from it was kept$/,
    });
  });
});

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { grantAnalyst } from '../../src/analyst/grant.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { runPipeline, type RunSummary } from '../../src/engine/run-pipeline.js';
import { describeEachDatabase, postgresAvailable, useDatabase, type TestDatabase } from '../helpers/databases.js';
import { bundledShared, inboxConfig, makeInbox, memoryLogger, rows, writeFile } from '../helpers/pipelines.js';

/**
 * One run per pipeline works at a time (a row lock in etl.pipeline_locks). The read-only analyst
 * role cannot take that lock, and a run that waits for it gives up after lock_wait_seconds,
 * naming the holder (issue 14, item 14).
 */

const pipeline = customSeries as unknown as AnyPipeline;
const GOOD = 'series,subject,date,value\nopenai_revenue_annualized,OpenAI,2025-06-30,10000000000\n';

async function runWithin(db: TestDatabase, inbox: string, lockWaitMs: number, limitMs: number): Promise<RunSummary> {
  const { logger } = memoryLogger();
  const run = runPipeline({ handle: db.handle, logger, shared: bundledShared(), lockWaitMs }, pipeline, inboxConfig(pipeline, inbox), { trigger: 'manual' });
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the run still waited after ${limitMs / 1000} s, with no message`)), limitMs);
  });
  return Promise.race([run, limit]).finally(() => clearTimeout(timer));
}

function sessionOn(db: TestDatabase): pg.Client {
  const client = new pg.Client({ connectionString: db.openOptions.databaseUrl, application_name: 'analyst-notebook' });
  onTestFinished(() => client.end().catch(() => undefined));
  return client;
}

describeEachDatabase('the pipeline lock', (kind) => {
  it('is a row the read-only analyst role cannot lock', async () => {
    const db = await useDatabase(kind);
    const role = `bw_lock_analyst_${randomBytes(4).toString('hex')}`;
    onTestFinished(() => db.handle.withConnection((conn) => conn.script(`drop owned by ${role}; drop role if exists ${role}`)).catch(() => undefined));
    // Even with etl readable, SELECT … FOR UPDATE needs UPDATE on the table.
    await grantAnalyst(db.handle, role, { include: ['etl'] });
    await db.handle.withConnection((conn) => conn.query(`insert into etl.pipeline_locks values ('custom-series') on conflict do nothing`));
    const refused = await db.handle.withConnection(async (conn) => {
      await conn.script(`set role ${role}; begin`);
      try {
        await conn.query(`select * from etl.pipeline_locks where pipeline = 'custom-series' for update`);
        return 'locked';
      } catch (error) {
        return (error as Error).message;
      } finally {
        await conn.script('rollback; reset role');
      }
    });
    expect(refused).toMatch(/permission denied for table pipeline_locks/);
  });
});

// PGlite has one session: nothing can compete for the lock there.
const COMPETING = 'the pipeline lock on PostgreSQL (sessions that compete)';
const maybe = postgresAvailable() ? describe : describe.skip;
maybe(postgresAvailable() ? COMPETING : `${COMPETING} [SKIPPED — ${String(inject('postgresSkipReason'))}]`, () => {
  it('is not stalled by an analyst session holding the advisory lock runs used to take', async () => {
    const db = await useDatabase('postgres');
    const role = `bw_lock_analyst_${randomBytes(4).toString('hex')}`;
    onTestFinished(() => db.handle.withConnection((conn) => conn.script(`drop owned by ${role}; drop role if exists ${role}`)).catch(() => undefined));
    await grantAnalyst(db.handle, role);
    const analyst = sessionOn(db);
    await analyst.connect();
    await analyst.query(`set role ${role}`);
    // Any role can take any advisory lock: this is what stalled `bubblewatch run` for ever.
    await analyst.query(`select pg_advisory_lock(1651990384, hashtext('custom-series'))`);
    const inbox = makeInbox();
    writeFile(inbox, 'a.csv', GOOD);
    const summary = await runWithin(db, inbox, 5_000, 30_000);
    expect(summary.status, summary.error).toBe('succeeded');
    expect(summary.counts.rowsLoaded).toBe(1);
  });

  it('gives up after the configured wait, naming the session that holds it', async () => {
    const db = await useDatabase('postgres');
    await db.handle.withConnection((conn) => conn.query(`insert into etl.pipeline_locks values ('custom-series')`));
    const holder = sessionOn(db);
    await holder.connect();
    await holder.query('begin');
    await holder.query(`select * from etl.pipeline_locks where pipeline = 'custom-series' for update`);
    const { rows: me } = await holder.query<{ pid: number }>('select pg_backend_pid() as pid');
    const inbox = makeInbox();
    writeFile(inbox, 'a.csv', GOOD);
    const summary = await runWithin(db, inbox, 1_500, 30_000);
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(
      new RegExp(`pipeline custom-series is locked by session pid ${me[0]!.pid} \\(user \\w+, application analyst-notebook, idle in transaction since .*\\); gave up after waiting 2 s \\(scheduler\\.lock_wait_seconds\\)`),
    );
    expect(await rows(db.handle, 'select count(*)::int as n from raw.custom_series')).toEqual([{ n: 0 }]);
    // Released, the next run goes through.
    await holder.query('rollback');
    const next = await runWithin(db, inbox, 1_500, 30_000);
    expect(next.status, next.error).toBe('succeeded');
  });
});

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { expect, it, onTestFinished } from 'vitest';
import { grantAnalyst } from '../../src/analyst/grant.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { cli } from '../helpers/cli.js';
import { makeInbox, rows, writeFile } from '../helpers/pipelines.js';
import { bigFile, lostAgainstCleanRun, tracker } from './processes.js';

/**
 * Issue 14, items 14 and 17, as faults injected into real `bubblewatch` processes:
 *  - a read-only analyst session holds every advisory lock bubblewatch ever took (the pipeline's,
 *    the migrator's): runs go on regardless;
 *  - another session holds a pipeline's lock: the run gives up after lock_wait_seconds naming
 *    the holder, and the next run (lock released) completes;
 *  - the disk fills mid-run (the load and the run's final ledger write fail): the run's real
 *    cause is recorded by the next process, not "stopped without finishing".
 */

const ROWS = 2_000;

function configFile(dir: string, lockWaitSeconds = 900): string {
  return writeFile(
    dir,
    'bubblewatch.yaml',
    `scheduler: { lock_wait_seconds: ${lockWaitSeconds}, retry: { max_attempts: 1, base_ms: 10, max_ms: 50 } }
pipelines:
  custom-series:
    schedule: { cron: "15 6 * * *", timezone: UTC }
    sources:
      - path: ./inbox
`,
  );
}

describeEachDatabase('locks that other sessions hold', (kind) => {
  if (kind !== 'postgres') {
    // PGlite has one session, in the one process its folder lock lets in: no other session can hold a lock.
    it.skip('[SKIPPED on PGlite — one session; the folder lock is covered in faults-lock.test.ts]', () => {});
    return;
  }

  it('a read-only analyst session holding every advisory lock bubblewatch took does not hold up a run', async () => {
    const outcome = tracker('analyst-holds-advisory-locks-postgres');
    const db = await useDatabase(kind);
    const role = `bw_fault_analyst_${randomBytes(4).toString('hex')}`;
    onTestFinished(() => db.handle.withConnection((conn) => conn.script(`drop owned by ${role}; drop role if exists ${role}`)).catch(() => undefined));
    await grantAnalyst(db.handle, role);
    await db.close();
    const analyst = new pg.Client({ connectionString: db.env.DATABASE_URL, application_name: 'analyst-notebook' });
    await analyst.connect();
    onTestFinished(() => analyst.end().catch(() => undefined));
    await analyst.query(`set role ${role}`);
    // The pipeline lock of earlier versions (class "bw_p", the pipeline's hash) and the migrator's.
    await analyst.query(`select pg_advisory_lock(1651990384, hashtext('custom-series')), pg_advisory_lock(7269331001)`);
    // The analyst cannot take the lock runs use now.
    const refused = await analyst.query(`select * from etl.pipeline_locks for update`).then(() => 'locked', (e: Error) => e.message);
    expect(refused).toMatch(/permission denied for (schema etl|table pipeline_locks)/);
    outcome.injected = true;
    outcome.detail = 'an analyst session held pg_advisory_lock(bw_p, custom-series) and the migration lock during a run';

    const dir = makeInbox();
    const file = configFile(dir, 5);
    bigFile(dir, ROWS);
    const run = await cli(['--config', file, 'run', 'custom-series', '--no-preview'], db.env);
    expect(run.code, run.stderr.slice(-1000)).toBe(0);
    const handle = await db.reopen();
    expect(await rows(handle, 'select status, rows_loaded::int as rows_loaded from etl.runs')).toEqual([{ status: 'succeeded', rows_loaded: ROWS }]);
    outcome.lost = await lostAgainstCleanRun(kind, db, dir);
  });

  it('a run that cannot get its pipeline lock gives up naming the holder; the next one completes', async () => {
    const outcome = tracker('pipeline-lock-held-postgres');
    const db = await useDatabase(kind);
    await db.close();
    const dir = makeInbox();
    const file = configFile(dir, 2);
    bigFile(dir, ROWS);
    const holder = new pg.Client({ connectionString: db.env.DATABASE_URL, application_name: 'long-maintenance' });
    await holder.connect();
    onTestFinished(() => holder.end().catch(() => undefined));
    await holder.query(`insert into etl.pipeline_locks values ('custom-series') on conflict do nothing`);
    await holder.query('begin');
    await holder.query(`select * from etl.pipeline_locks where pipeline = 'custom-series' for update`);
    const { rows: me } = await holder.query<{ pid: number }>('select pg_backend_pid() as pid');
    outcome.injected = true;

    const blocked = await cli(['--config', file, 'run', 'custom-series', '--no-preview'], db.env);
    expect(blocked.code).toBe(1);
    expect(blocked.stdout).toMatch(
      new RegExp(`run 1 FAILED, nothing from it was kept: pipeline custom-series is locked by session pid ${me[0]!.pid} \\(user \\w+, application long-maintenance, idle in transaction since [^)]+\\); gave up after waiting 2 s \\(scheduler\\.lock_wait_seconds\\)`),
    );
    outcome.detail = `a session held the pipeline's row lock; the run said: ${blocked.stdout.match(/pipeline custom-series is locked by [^;]+/)?.[0] ?? '?'}`;
    await holder.query('rollback');

    const next = await cli(['--config', file, 'run', 'custom-series', '--no-preview'], db.env);
    expect(next.code, next.stderr.slice(-1000)).toBe(0);
    const handle = await db.reopen();
    expect(await rows(handle, 'select status from etl.runs order by run_id')).toEqual([{ status: 'failed' }, { status: 'succeeded' }]);
    outcome.lost = await lostAgainstCleanRun(kind, db, dir);
  });
});

describeEachDatabase('the disk fills in the middle of a run', (kind) => {
  it('the run fails with the disk-full cause, nothing of it is kept, the next process records that cause and the next run completes', async () => {
    const outcome = tracker(`disk-full-mid-run-${kind}`);
    const db = await useDatabase(kind);
    // A full disk as PostgreSQL reports it, for the load's rows and for the run's final ledger write.
    await db.handle.withConnection((conn) =>
      conn.script(`
        create function pg_temp_disk_full() returns trigger language plpgsql as $$
        begin
          raise exception using errcode = '53100', message = 'could not extend file "base/16384/2619": No space left on device';
        end $$;
        create trigger disk_full_on_load before insert on raw.custom_series for each row execute function pg_temp_disk_full();
        create trigger disk_full_on_finish before update on etl.runs for each row when (new.status <> 'running') execute function pg_temp_disk_full();
      `),
    );
    await db.close();
    const dir = makeInbox();
    const env = { ...db.env, BUBBLEWATCH_STATE_DIR: makeInbox() };
    const file = configFile(dir);
    bigFile(dir, ROWS);

    const full = await cli(['--config', file, 'run', 'custom-series', '--no-preview'], env);
    expect(full.code).toBe(1);
    expect(full.stderr).toContain('No space left on device');
    expect(full.stderr).toContain('its cause is kept for the next process to record');
    outcome.injected = true;
    outcome.detail = 'the load and the final ledger write of run 1 failed with "No space left on device" (53100)';

    // Space again.
    let handle = await db.reopen();
    await handle.withConnection((conn) => conn.script('drop trigger disk_full_on_load on raw.custom_series; drop trigger disk_full_on_finish on etl.runs'));
    expect(await rows(handle, 'select count(*)::int as n from raw.custom_series')).toEqual([{ n: 0 }]);
    await db.close();

    // The next process marks abandoned runs first: run 1 gets its real cause.
    const next = await cli(['--config', file, 'run', 'custom-series', '--no-preview'], env);
    expect(next.code, next.stderr.slice(-1000)).toBe(0);
    handle = await db.reopen();
    const runs = await rows<{ run_id: number; status: string; error: string | null }>(handle, 'select run_id, status, error from etl.runs order by run_id');
    expect(runs.map((r) => r.status)).toEqual(['failed', 'succeeded']);
    expect(runs[0]!.error).toContain('No space left on device');
    expect(runs[0]!.error).toContain('(recorded late:');
    expect(runs[0]!.error).not.toContain('stopped without finishing');
    outcome.lost = await lostAgainstCleanRun(kind, db, dir);
  });
});

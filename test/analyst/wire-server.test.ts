import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { sqlCommand } from '../../src/cli/commands/sql.js';
import { lockPathFor } from '../../src/db/folder-lock.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { ConfigError } from '../../src/errors.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { serveEmbedded, type EmbeddedServer } from '../../src/serve/wire-server.js';
import { useDatabase, type TestDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, rows, runOnce, writeFile } from '../helpers/pipelines.js';
import { silentLogger, testContext } from './helpers.js';

/**
 * `bubblewatch sql` / serveEmbedded: the embedded database on a Postgres wire port, taking
 * turns with the engine so that no client sees or breaks half a transaction.
 */

async function serve(db: TestDatabase, options: { idleInTransactionTimeoutMs?: number } = {}): Promise<EmbeddedServer> {
  const server = await serveEmbedded(db.handle, { port: 0, logger: silentLogger, ...options });
  onTestFinished(() => server.close());
  return server;
}

async function client(server: EmbeddedServer, user = 'postgres'): Promise<pg.Client> {
  const c = new pg.Client({ host: server.host, port: server.port, user, database: 'postgres' });
  c.on('error', () => {});
  await c.connect();
  onTestFinished(() => c.end().catch(() => undefined));
  return c;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a promise has settled by now. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await sleep(0);
  return done;
}

function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const execFileAsync = promisify(execFile);
const hasPsql = spawnSync('psql', ['--version']).status === 0;

describe('serving the embedded database on the Postgres wire protocol', () => {
  it('answers pg and psql like a server, on loopback, with the analytics views', async () => {
    const db = await useDatabase('pglite');
    const server = await serve(db);
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`postgres://postgres@127.0.0.1:${server.port}/postgres?sslmode=disable`);

    const c = await client(server);
    const { rows: views } = await c.query<{ n: number }>(`select count(*)::int as n from pg_views where schemaname = 'analytics'`);
    expect(views[0]!.n).toBeGreaterThan(10);
    const { rows: params } = await c.query<{ x: number; label: string }>('select $1::int * 2 as x, $2::text as label', [21, 'extended protocol']);
    expect(params).toEqual([{ x: 42, label: 'extended protocol' }]);
    await expect(c.query('select * from no_such_table')).rejects.toThrow(/relation "no_such_table" does not exist/);
    expect((await c.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);

    if (hasPsql) {
      // Asynchronously: this process is the server psql talks to.
      const psql = await execFileAsync('psql', ['-h', server.host, '-p', String(server.port), '-U', 'postgres', '-Atc', `select 'psql says ' || count(*) from analytics.alerts_open`], {
        env: { ...process.env, PGCONNECT_TIMEOUT: '10' },
        timeout: 60_000,
      });
      expect(psql.stdout.trim()).toBe('psql says 0');
    }
  });

  it('makes a client wait while the engine holds a transaction, and then shows only what was committed', async () => {
    const db = await useDatabase('pglite');
    const server = await serve(db);
    const c = await client(server);

    for (const outcome of ['commit', 'rollback'] as const) {
      const inside = latch();
      const finish = latch();
      const engine = db.handle.withTransaction(async (conn) => {
        await conn.query(`insert into etl.runs (pipeline, trigger, status) values ('wire-test', 'manual', 'running')`);
        inside.open();
        await finish.promise;
        if (outcome === 'rollback') throw new Error('rolled back on purpose');
      });
      engine.catch(() => {});
      await inside.promise;

      const seen = c.query<{ n: number }>(`select count(*)::int as n from etl.runs where pipeline = 'wire-test'`);
      const commit = c.query('commit'); // must not end the engine's transaction
      await sleep(300);
      expect(await settled(seen)).toBe(false);
      finish.open();
      if (outcome === 'rollback') await expect(engine).rejects.toThrow(/on purpose/);
      else await engine;
      expect((await seen).rows[0]!.n).toBe(1); // the commit case's row, in both rounds
      await commit;
    }
  });

  it('makes the engine wait while a client holds a transaction, and lets a client transaction span several messages', async () => {
    const db = await useDatabase('pglite');
    const server = await serve(db);
    const c = await client(server);
    const other = await client(server);

    await c.query('begin');
    await c.query(`insert into etl.runs (pipeline, trigger, status) values ('wire-tx', 'manual', 'running')`);
    const engine = rows<{ n: number }>(db.handle, `select count(*)::int as n from etl.runs where pipeline = 'wire-tx'`);
    const otherClient = other.query<{ n: number }>(`select count(*)::int as n from etl.runs where pipeline = 'wire-tx'`);
    await sleep(300);
    expect(await settled(engine)).toBe(false);
    expect(await settled(otherClient)).toBe(false);
    expect((await c.query<{ n: number }>(`select count(*)::int as n from etl.runs where pipeline = 'wire-tx'`)).rows[0]!.n).toBe(1);
    await c.query('rollback');
    expect((await engine)[0]!.n).toBe(0);
    expect((await otherClient).rows[0]!.n).toBe(0);
  });

  it('keeps each client its own session settings, and the engine its own', async () => {
    const db = await useDatabase('pglite');
    const server = await serve(db);
    const a = await client(server);
    const b = await client(server);

    await a.query(`set timezone = 'Asia/Tokyo'`);
    await a.query('set search_path = analytics');
    await a.query(`create role wire_reader nologin`);
    await a.query('set role wire_reader');

    const [engine] = await rows<{ tz: string; path: string; who: string }>(
      db.handle,
      `select current_setting('TimeZone') as tz, current_setting('search_path') as path, current_user as who`,
    );
    expect(engine).toEqual({ tz: 'UTC', path: 'public', who: 'postgres' });
    const { rows: fromB } = await b.query(`select current_setting('TimeZone') as tz, current_user as who`);
    expect(fromB).toEqual([{ tz: 'UTC', who: 'postgres' }]);
    const { rows: fromA } = await a.query(`select current_setting('TimeZone') as tz, current_setting('search_path') as path, current_user as who`);
    expect(fromA).toEqual([{ tz: 'Asia/Tokyo', path: 'analytics', who: 'wire_reader' }]);
    await expect(a.query('select * from analytics.bubble_dashboard')).rejects.toThrow(/permission denied for schema analytics/);
    await a.query('reset role');
    // The unqualified name resolves through this client's search_path.
    await a.query('select * from bubble_dashboard');
  });

  it('refuses a role that does not exist, and connects a named login role with SET ROLE', async () => {
    const db = await useDatabase('pglite');
    const server = await serve(db);
    const nobody = new pg.Client({ host: server.host, port: server.port, user: 'nobody', database: 'postgres' });
    nobody.on('error', () => {});
    await expect(nobody.connect()).rejects.toThrow(/role "nobody" does not exist/);
    await nobody.end().catch(() => undefined);

    await rows(db.handle, 'create role wire_login login');
    const c = await client(server, 'wire_login');
    expect((await c.query('select current_user as who')).rows).toEqual([{ who: 'wire_login' }]);
  });

  it('disconnects a client idle inside a transaction, rolling it back, so the engine is not held up', async () => {
    const db = await useDatabase('pglite');
    const server = await serve(db, { idleInTransactionTimeoutMs: 400 });
    const c = await client(server);
    await c.query('begin');
    await c.query(`insert into etl.runs (pipeline, trigger, status) values ('idle-tx', 'manual', 'running')`);
    const started = Date.now();
    const [engine] = await rows<{ n: number }>(db.handle, `select count(*)::int as n from etl.runs where pipeline = 'idle-tx'`);
    expect(engine!.n).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(c.query('select 1')).rejects.toThrow();
    expect(server.connections()).toBe(0);
  });

  it('lets clients query while a pipeline runs: they see nothing or everything of the load, and the run succeeds', async () => {
    const db = await useDatabase('pglite');
    const server = await serve(db);
    const c = await client(server);
    const inbox = makeInbox();
    const lines = ['series,subject,date,value'];
    for (let i = 0; i < 2000; i++) lines.push(`wire_series,S${i % 50},${2000 + Math.floor(i / 50)}-01-01,${i}`);
    writeFile(inbox, 'series.csv', lines.join('\n') + '\n');
    const pipeline = customSeries as unknown as AnyPipeline;

    let running = true;
    const seen = new Set<number>();
    const poll = (async () => {
      while (running) {
        const { rows: r } = await c.query<{ n: number }>('select count(*)::int as n from raw.custom_series');
        seen.add(r[0]!.n);
        await c.query('commit'); // a stray COMMIT must not commit half the engine's work
      }
    })();
    const summary = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    running = false;
    await poll;
    expect(summary.status, summary.error).toBe('succeeded');
    expect([...seen].every((n) => n === 0 || n === 2000), `counts seen: ${[...seen].join(', ')}`).toBe(true);
    expect((await c.query('select count(*)::int as n from raw.custom_series')).rows).toEqual([{ n: 2000 }]);
  });

  it('names the port when it is taken (ConfigError, exit code 2) and leaves the database folder unlocked', async () => {
    const db = await useDatabase('pglite');
    await db.close();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;

    const ctx = testContext(db.env);
    const error = await sqlCommand(ctx, { port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    expect((error as Error).message).toContain(`port ${port} is already in use`);
    expect(existsSync(lockPathFor(db.openOptions.embeddedDir))).toBe(false);
    await expect(sqlCommand(ctx, { port: 'abc' })).rejects.toThrow(/--port: got "abc"/);
  });

  it('sql prints how to connect, serves until stopped, then closes the database and frees its folder', async () => {
    const db = await useDatabase('pglite');
    await db.close();
    const ctx = testContext(db.env);
    const stop = new AbortController();
    const serving = sqlCommand(ctx, { port: 0, signal: stop.signal });
    let url: string | undefined;
    for (let i = 0; i < 600 && !url; i++) {
      url = /connection string:\s+(\S+)/.exec(ctx.output())?.[1];
      if (!url) await sleep(50);
    }
    expect(url, ctx.output()).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?sslmode=disable$/);
    expect(ctx.output()).toMatch(/psql -h 127\.0\.0\.1 -p \d+ -U postgres/);
    expect(existsSync(lockPathFor(db.openOptions.embeddedDir))).toBe(true);

    const c = new pg.Client({ connectionString: url });
    c.on('error', () => {});
    await c.connect();
    expect((await c.query('select count(*)::int as n from etl.schema_migrations')).rows[0]!.n).toBeGreaterThan(10);
    await c.query('begin');
    stop.abort();
    expect(await serving).toBe(0);
    await expect(c.query('select 1')).rejects.toThrow();
    await c.end().catch(() => undefined);
    expect(existsSync(lockPathFor(db.openOptions.embeddedDir))).toBe(false);
    await db.reopen();
  });

  it('stops on Ctrl-C (SIGINT) in its own process and releases the folder lock', async () => {
    const db = await useDatabase('pglite');
    await db.close();
    const script = `
      const { sqlCommand } = await import(${JSON.stringify(join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'commands', 'sql.js'))});
      const { createContext } = await import(${JSON.stringify(join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'context.js'))});
      process.exitCode = await sqlCommand(createContext({}), { port: 0 });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BUBBLEWATCH_LOG_FORMAT: 'json', ...db.env },
    });
    onTestFinished(() => {
      child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    for (let i = 0; i < 1200 && !/connection string/.test(stdout); i++) await sleep(50);
    const url = /connection string:\s+(\S+)/.exec(stdout)?.[1];
    expect(url, stdout + stderr).toBeDefined();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    expect((await c.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    await c.end();
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(0);
    expect(existsSync(lockPathFor(db.openOptions.embeddedDir))).toBe(false);
  });

  it('with DATABASE_URL, says there is nothing to serve and how to connect, without the password', async () => {
    const ctx = testContext({ DATABASE_URL: 'postgres://bubblewatch:s3cret@db.example:5432/bubblewatch' });
    expect(await sqlCommand(ctx, {})).toBe(0);
    expect(ctx.output()).toContain('there is nothing to serve');
    expect(ctx.output()).toContain('psql "$DATABASE_URL"');
    expect(ctx.output()).not.toContain('s3cret');
  });
});

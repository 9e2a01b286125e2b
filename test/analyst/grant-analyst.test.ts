import { createHash, createHmac, randomBytes } from 'node:crypto';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { grantAnalyst } from '../../src/analyst/grant.js';
import { scramSha256Verifier } from '../../src/analyst/scram.js';
import { grantAnalystCommand } from '../../src/cli/commands/grant-analyst.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { ConfigError } from '../../src/errors.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { serveEmbedded } from '../../src/serve/wire-server.js';
import { describeEachDatabase, useDatabase, type TestDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, rows, runOnce } from '../helpers/pipelines.js';
import { silentLogger, testContext } from './helpers.js';

/** grant-analyst: a role that reads the analytics views and nothing else, on PostgreSQL and PGlite. */

function roleName(): string {
  return `bw_analyst_${randomBytes(4).toString('hex')}`;
}

/** Roles are cluster-wide on PostgreSQL: drop the test's role whatever happens. */
async function dropRoleAfter(db: TestDatabase, role: string): Promise<void> {
  onTestFinished(async () => {
    await db.handle
      .withConnection((conn) => conn.script(`drop owned by ${role}; drop role if exists ${role}`))
      .catch(() => undefined);
  });
}

async function loadCustomSeries(handle: DatabaseHandle): Promise<void> {
  const inbox = makeInbox();
  cpSync(join(PACKAGE_ROOT, 'data', 'sample', 'custom-series'), inbox, { recursive: true });
  const pipeline = customSeries as unknown as AnyPipeline;
  const summary = await runOnce(handle, pipeline, inboxConfig(pipeline, inbox));
  expect(summary.status, summary.error).toBe('succeeded');
}

/** Run `sql` as `role` (SET ROLE on the handle's connection); the error message, or the rows. */
async function asRole(handle: DatabaseHandle, role: string, sql: string): Promise<{ rows?: Record<string, unknown>[]; error?: string }> {
  return handle.withConnection(async (conn) => {
    await conn.script(`set role ${role}`);
    try {
      await conn.script('begin');
      const result = await conn.query(sql);
      return { rows: result.rows };
    } catch (error) {
      return { error: (error as Error).message };
    } finally {
      await conn.script('rollback');
      await conn.script('reset role');
    }
  });
}

const WRITES = [
  // Single-table views are auto-updatable: writing through them needs privileges on the view.
  `delete from analytics.index_top_n_shares`,
  `insert into analytics.index_sector_shares (index_code) values ('x')`,
  `update core.custom_series set value = 0`,
  `delete from raw.custom_series`,
  `insert into etl.runs (pipeline, trigger, status) values ('x', 'manual', 'running')`,
  `update etl.runs set status = 'failed'`,
  `truncate raw.company_facts`,
  `create table analytics.scratch (x int)`,
  `create view analytics.scratch as select 1 as x`,
];

describeEachDatabase('grant-analyst', (kind) => {
  it('reads every analytics view, writes nothing, and sees neither etl nor raw unless included', async () => {
    const db = await useDatabase(kind);
    const role = roleName();
    await dropRoleAfter(db, role);
    await loadCustomSeries(db.handle);

    const first = await grantAnalyst(db.handle, role);
    expect(first).toMatchObject({ role, created: true, login: false, schemas: ['analytics'] });
    const access = Object.fromEntries(first.access.map((a) => [a.schema, a]));
    expect(access.analytics).toMatchObject({ usage: true, writable: [] });
    expect(access.analytics!.readable).toBe(access.analytics!.relations);
    for (const schema of ['core', 'raw', 'etl']) expect(access[schema]).toMatchObject({ usage: false, readable: 0, writable: [] });

    // Views run with their owner's rights, so the dashboard (over core and etl) reads fine.
    const dashboard = await asRole(db.handle, role, 'select count(*)::int as n from analytics.bubble_dashboard');
    expect(dashboard.error).toBeUndefined();
    expect(dashboard.rows![0]!.n as number).toBeGreaterThan(0);
    const { rows: views } = await db.handle.withConnection((conn) =>
      conn.query<{ name: string }>(`select table_name as name from information_schema.views where table_schema = 'analytics' order by 1`),
    );
    for (const { name } of views) {
      expect((await asRole(db.handle, role, `select * from analytics.${name} limit 1`)).error, name).toBeUndefined();
    }
    // No view opts into invoker rights, which would need grants on the tables underneath.
    const { rows: invoker } = await db.handle.withConnection((conn) =>
      conn.query(`select c.relname from pg_class c where c.relnamespace = 'analytics'::regnamespace and c.relkind = 'v' and array_to_string(c.reloptions, ',') like '%security_invoker=true%'`),
    );
    expect(invoker).toEqual([]);

    expect((await asRole(db.handle, role, 'select * from etl.runs')).error).toMatch(/permission denied for schema etl/);
    expect((await asRole(db.handle, role, 'select * from raw.company_facts')).error).toMatch(/permission denied for schema raw/);
    expect((await asRole(db.handle, role, 'select * from core.custom_series')).error).toMatch(/permission denied for schema core/);
    for (const sql of WRITES) expect((await asRole(db.handle, role, sql)).error, sql).toMatch(/permission denied/);

    // Included schemas become readable, still not writable; leaving them out again revokes them.
    const wider = await grantAnalyst(db.handle, role, { include: ['raw', 'etl'] });
    expect(wider).toMatchObject({ created: false, schemas: ['analytics', 'raw', 'etl'] });
    expect((await asRole(db.handle, role, 'select count(*) from etl.runs')).error).toBeUndefined();
    expect((await asRole(db.handle, role, 'select count(*) from raw.company_facts')).error).toBeUndefined();
    for (const sql of WRITES) expect((await asRole(db.handle, role, sql)).error, sql).toMatch(/permission denied/);

    const again = await grantAnalyst(db.handle, role);
    expect(again.access).toEqual(first.access);
    expect((await asRole(db.handle, role, 'select * from etl.runs')).error).toMatch(/permission denied for schema etl/);
  });

  it('covers views created later, through default privileges', async () => {
    const db = await useDatabase(kind);
    const role = roleName();
    await dropRoleAfter(db, role);
    await grantAnalyst(db.handle, role);
    await rows(db.handle, `create view analytics.zz_later as select count(*) as runs from etl.runs`);
    expect((await asRole(db.handle, role, 'select * from analytics.zz_later')).rows).toEqual([{ runs: 0 }]);
    await rows(db.handle, `create table raw.zz_later (x int)`);
    expect((await asRole(db.handle, role, 'select * from raw.zz_later')).error).toMatch(/permission denied/);
  });

  it('logs in with a password from the environment (stored only as a SCRAM verifier), read-only by default', async () => {
    const db = await useDatabase(kind);
    const role = roleName();
    await dropRoleAfter(db, role);
    const ctx = testContext(db.env);
    await db.close();
    const password = `pw-${randomBytes(6).toString('hex')}`;
    expect(await grantAnalystCommand(ctx, role, { password_env: 'TEST_ANALYST_PASSWORD', env: { TEST_ANALYST_PASSWORD: password } })).toBe(0);
    expect(ctx.output()).toContain(`role ${role} created: LOGIN, password from $TEST_ANALYST_PASSWORD; reads analytics; writes nothing.`);
    expect(ctx.output()).not.toContain(password);
    // Again: idempotent, and the role is updated rather than created.
    expect(await grantAnalystCommand(ctx, role, { password_env: 'TEST_ANALYST_PASSWORD', env: { TEST_ANALYST_PASSWORD: password } })).toBe(0);
    expect(ctx.output()).toContain(`role ${role} updated`);
    await db.reopen();

    const [stored] = await rows<{ rolcanlogin: boolean; rolpassword: string; config: string[] }>(
      db.handle,
      `select a.rolcanlogin, a.rolpassword, r.rolconfig as config from pg_authid a join pg_roles r on r.oid = a.oid where a.rolname = $1`,
      [role],
    );
    expect(stored!.rolcanlogin).toBe(true);
    expect(stored!.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(stored!.config).toEqual(['default_transaction_read_only=on']);

    // Log in as the role: over TCP on PostgreSQL (the test server trusts loopback), over the wire server on PGlite.
    let url: string;
    if (kind === 'postgres') {
      url = db.openOptions.databaseUrl!;
    } else {
      const server = await serveEmbedded(db.handle, { port: 0, logger: silentLogger });
      onTestFinished(() => server.close());
      url = server.url;
    }
    const u = new URL(url);
    u.username = role;
    u.password = password;
    const c = new pg.Client({ connectionString: u.toString() });
    await c.connect();
    onTestFinished(() => c.end().catch(() => undefined));
    expect((await c.query('select current_user as who')).rows).toEqual([{ who: role }]);
    expect((await c.query('select count(*)::int as n from analytics.bubble_dashboard')).rows[0]).toEqual({ n: 0 });
    await expect(c.query('select * from etl.runs')).rejects.toThrow(/permission denied for schema etl/);
    await expect(c.query(`delete from analytics.index_top_n_shares`)).rejects.toThrow(
      /permission denied|read-only transaction/,
    );
    if (kind === 'postgres') expect((await c.query('show default_transaction_read_only')).rows).toEqual([{ default_transaction_read_only: 'on' }]);
  });

  it('refuses what cannot be read-only, and passwords on the command line', async () => {
    const db = await useDatabase(kind);
    const role = roleName();
    await dropRoleAfter(db, role);
    await rows(db.handle, `create role ${role} createdb`);
    await expect(grantAnalyst(db.handle, role)).rejects.toThrow(new RegExp(`role ${role} already exists with CREATEDB`));
    await rows(db.handle, `alter role ${role} nocreatedb`);
    await rows(db.handle, `grant pg_write_all_data to ${role}`);
    await expect(grantAnalyst(db.handle, role)).rejects.toThrow(/is a member of pg_write_all_data/);

    const ctx = testContext(db.env);
    await expect(grantAnalystCommand(ctx, 'Robert"); drop table x; --')).rejects.toThrow(ConfigError);
    await expect(grantAnalystCommand(ctx, 'postgres')).rejects.toThrow(/reserved or the superuser/);
    await expect(grantAnalystCommand(ctx, 'analyst', { password_env: 'hunter2!' })).rejects.toThrow(/NAME of an environment variable/);
    await expect(grantAnalystCommand(ctx, 'analyst', { password_env: 'NOT_SET_ANYWHERE', env: {} })).rejects.toThrow(
      /environment variable NOT_SET_ANYWHERE is not set/,
    );
    await expect(grantAnalystCommand(ctx, 'analyst', { include: ['core'] })).rejects.toThrow(/--include: got "core", expected raw and\/or etl/);
  });
});

describe('SCRAM-SHA-256 verifier', () => {
  it('matches the RFC 7677 example exchange (user "user", password "pencil")', () => {
    const verifier = scramSha256Verifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
    const [, rest] = verifier.split('$4096:');
    const [, keys] = rest!.split('$');
    const [storedKey, serverKey] = keys!.split(':').map((k) => Buffer.from(k, 'base64'));
    const authMessage = [
      'n=user,r=rOprNGfwEbeRWgbNEkqO',
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    ].join(',');
    // The server's check of the client's proof, and the server signature the client checks.
    const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const clientSignature = createHmac('sha256', storedKey!).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]!));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey!)).toBe(true);
    expect(createHmac('sha256', serverKey!).update(authMessage).digest('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });
});

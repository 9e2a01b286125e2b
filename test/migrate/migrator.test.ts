import pg from 'pg';
import { expect, it, onTestFinished } from 'vitest';
import { MigrationError } from '../../src/errors.js';
import { checksumOf, migrate, migrationStatus, readMigrations, type MigrationFile } from '../../src/migrate/migrator.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { rows } from '../helpers/pipelines.js';

const FILES = readMigrations();

function edited(files: readonly MigrationFile[], index: number, sql: string): MigrationFile[] {
  return files.map((f, i) => (i === index ? { ...f, sql, checksum: checksumOf(sql) } : f));
}

it('reads sql/migrations as a gap-free numbered sequence', () => {
  expect(FILES.length).toBeGreaterThanOrEqual(2);
  FILES.forEach((f, i) => {
    expect(f.version).toBe(i + 1);
    expect(f.name).toMatch(/^\d{4}_[a-z0-9_]+\.sql$/);
  });
});

describeEachDatabase('migrations', (kind) => {
  it('apply to an empty database, then are a no-op', async () => {
    const db = await useDatabase(kind, { migrated: false });
    const first = await migrate(db.handle);
    expect(first.applied.map((m) => m.name)).toEqual(FILES.map((f) => f.name));
    const schemas = await rows<{ nspname: string }>(
      db.handle,
      `select nspname from pg_namespace where nspname in ('etl', 'raw', 'core', 'analytics') order by 1`,
    );
    expect(schemas.map((s) => s.nspname)).toEqual(['analytics', 'core', 'etl', 'raw']);

    const before = await rows(db.handle, 'select version, name, checksum, applied_at from etl.schema_migrations order by version');
    const second = await migrate(db.handle);
    expect(second.applied).toEqual([]);
    expect(second.version).toBe(FILES.length);
    const after = await rows(db.handle, 'select version, name, checksum, applied_at from etl.schema_migrations order by version');
    expect(after).toEqual(before);
    expect(await migrationStatus(db.handle)).toEqual({ applied: FILES.length, available: FILES.length, pending: [] });
  });

  it('apply only what is pending', async () => {
    const db = await useDatabase(kind, { migrated: false });
    await migrate(db.handle, undefined, FILES.slice(0, 1));
    expect((await migrationStatus(db.handle)).pending).toEqual(FILES.slice(1).map((f) => f.name));
    const result = await migrate(db.handle);
    expect(result.applied.map((m) => m.name)).toEqual(FILES.slice(1).map((f) => f.name));
  });

  it('refuse a migration edited after it was applied', async () => {
    const db = await useDatabase(kind);
    const changed = edited(FILES, 1, FILES[1]!.sql + '\n-- an innocent-looking edit\n');
    const error = await migrate(db.handle, undefined, changed).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(new RegExp(`migration ${FILES[1]!.name} was changed after it was applied: checksum in the database [0-9a-f]{12}…, file now [0-9a-f]{12}…`));
  });

  it('refuse a database migrated by a newer bubblewatch', async () => {
    const db = await useDatabase(kind);
    const error = await migrate(db.handle, undefined, FILES.slice(0, 1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(`the database has migration ${FILES[1]!.name} (version 2), which this bubblewatch does not have (its latest is ${FILES[0]!.name})`);
  });

  it('refuse a renamed migration', async () => {
    const db = await useDatabase(kind);
    const renamed = FILES.map((f, i) => (i === 1 ? { ...f, name: '0002_something_else.sql' } : f));
    await expect(migrate(db.handle, undefined, renamed)).rejects.toThrow(
      `migration history has diverged at version 2: the database applied ${FILES[1]!.name}, but sql/migrations has 0002_something_else.sql at that version`,
    );
  });

  it('roll back a failing migration entirely', async () => {
    const db = await useDatabase(kind, { migrated: false });
    const broken = [...FILES, { version: FILES.length + 1, name: '9999_broken.sql', sql: 'create table etl.x (a int); select 1/0;', checksum: 'x' }];
    await expect(migrate(db.handle, undefined, broken)).rejects.toThrow(/migration 9999_broken.sql failed, nothing was applied: division by zero/);
    const [row] = await rows<{ present: boolean }>(db.handle, `select to_regclass('etl.schema_migrations') is not null as present`);
    expect(row!.present).toBe(false);
  });

  it('let concurrent migrators apply each migration once', async () => {
    const db = await useDatabase(kind, { migrated: false });
    const results = await Promise.all([migrate(db.handle), migrate(db.handle), migrate(db.handle)]);
    const applied = results.flatMap((r) => r.applied.map((m) => m.name));
    expect(applied).toEqual(FILES.map((f) => f.name));
  });
});

describeEachDatabase('the migration lock', (kind) => {
  it('waits a bounded time for a session that holds it, then fails naming that session', async () => {
    // PGlite has one session: nothing else can hold the lock there, so the competing half needs a server.
    if (kind === 'pglite') {
      const db = await useDatabase(kind, { migrated: false });
      expect((await migrate(db.handle, undefined, FILES, { lockWaitMs: 1_000 })).applied).toHaveLength(FILES.length);
      return;
    }
    const db = await useDatabase(kind, { migrated: false });
    const other = new pg.Client({ connectionString: db.openOptions.databaseUrl, application_name: 'somebody-else' });
    await other.connect();
    onTestFinished(() => other.end().catch(() => undefined));
    // Any role can take an advisory lock; this one is the migrator's.
    await other.query('select pg_advisory_lock(7269331001)');
    const { rows: me } = await other.query<{ pid: number }>('select pg_backend_pid() as pid');
    const failure = await migrate(db.handle, undefined, FILES, { lockWaitMs: 1_000 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(MigrationError);
    expect((failure as Error).message).toMatch(
      new RegExp(`^the migration lock is held by session pid ${me[0]!.pid} \\(user \\w+, application somebody-else, idle since .*\\); gave up after waiting 1 s; nothing was applied$`),
    );
    await other.query('select pg_advisory_unlock(7269331001)');
    expect((await migrate(db.handle, undefined, FILES, { lockWaitMs: 1_000 })).applied).toHaveLength(FILES.length);
    // With nothing pending no lock is needed: a session holding it cannot hold up the commands that migrate first.
    await other.query('select pg_advisory_lock(7269331001)');
    expect((await migrate(db.handle, undefined, FILES, { lockWaitMs: 1 })).applied).toEqual([]);
  });
});

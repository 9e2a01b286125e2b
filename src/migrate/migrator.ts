import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseHandle, SqlConnection } from '../db/connect.js';
import { MigrationError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { buildModels, dropBuiltModels, modelsRemoved, modelsToBuild, type BuildRecord } from '../models/build.js';
import { loadModels, type Model } from '../models/load-models.js';
import { MIGRATIONS_DIR } from '../paths.js';

/**
 * Plain .sql migrations, applied in order inside one transaction and recorded in
 * etl.schema_migrations. History is append-only: a database whose recorded migrations are
 * not exactly a prefix of the files on disk (an edited, renamed, missing or unknown
 * migration) is refused with what was expected and what was found.
 *
 * After the migrations come the models (sql/models, src/models): views built from their
 * definitions, rebuilt when a definition changes (see src/models/build.ts). With migrations
 * pending, the model views are dropped first, so no migration is blocked by a view on the
 * table it alters, and all are built again afterwards; migrations after 0017 hold no views.
 */

export interface MigrationFile {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrationResult {
  readonly applied: readonly MigrationFile[];
  readonly version: number;
  /** Models (views) built, in the order they were built: changed ones and everything that reads them. */
  readonly rebuilt: readonly string[];
  /** Views of models no longer defined, dropped. */
  readonly dropped: readonly string[];
}

export interface MigrateOptions {
  readonly lockWaitMs?: number;
  /** The models to build; those of sql/models by default. */
  readonly models?: readonly Model[];
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/** Any constant works as long as every bubblewatch process uses the same one. */
const MIGRATION_LOCK_KEY = 7_269_331_001;

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

export function readMigrations(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const migrations: MigrationFile[] = [];
  for (const file of files) {
    const m = FILE_PATTERN.exec(file);
    if (!m) {
      throw new MigrationError(`${join(dir, file)}: migration file name must look like 0001_snake_case_name.sql; got "${file}"`);
    }
    const version = Number(m[1]);
    const expected = migrations.length + 1;
    if (version !== expected) {
      throw new MigrationError(
        `${join(dir, file)}: migrations must be numbered 0001, 0002, … without gaps or repeats; ` +
          `expected version ${String(expected).padStart(4, '0')}, got ${m[1]}`,
      );
    }
    const sql = readFileSync(join(dir, file), 'utf8');
    migrations.push({ version, name: file, sql, checksum: checksumOf(sql) });
  }
  return migrations;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

const BOOTSTRAP = `
create schema if not exists etl;
create table if not exists etl.schema_migrations (
  version     integer primary key,
  name        text not null,
  checksum    text not null,
  applied_at  timestamptz not null default now()
);`;

export function verifyHistory(applied: readonly AppliedRow[], files: readonly MigrationFile[]): void {
  const latestFile = files.at(-1);
  for (const row of applied) {
    const file = files[row.version - 1];
    if (!file) {
      throw new MigrationError(
        `the database has migration ${row.name} (version ${row.version}), which this bubblewatch does not have ` +
          `(its latest is ${latestFile ? latestFile.name : 'none'}); the database was migrated by a newer version — upgrade bubblewatch`,
      );
    }
    if (file.name !== row.name) {
      throw new MigrationError(
        `migration history has diverged at version ${row.version}: the database applied ${row.name}, ` +
          `but sql/migrations has ${file.name} at that version; migrations are append-only — restore the original file and add a new one`,
      );
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${row.name} was changed after it was applied: checksum in the database ${row.checksum.slice(0, 12)}…, ` +
          `file now ${file.checksum.slice(0, 12)}…; migrations are append-only — revert the edit and put the change in a new migration`,
      );
    }
  }
}

async function appliedMigrations(conn: SqlConnection): Promise<AppliedRow[]> {
  const { rows } = await conn.query<AppliedRow>('select version, name, checksum from etl.schema_migrations order by version');
  return rows;
}

/**
 * Serialise concurrent migrators (several `start` processes on one server). Any role can take an
 * advisory lock, so the wait is bounded: after `waitMs` the migration fails, naming the holder.
 */
async function takeMigrationLock(conn: SqlConnection, waitMs: number, logger?: Logger): Promise<void> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    const { rows } = await conn.query<{ got: boolean }>('select pg_try_advisory_xact_lock($1) as got', [MIGRATION_LOCK_KEY]);
    if (rows[0]?.got) return;
    const { rows: holders } = await conn.query<{ pid: number; usename: string | null; application_name: string | null; state: string | null; backend_start: Date | null }>(
      `select a.pid, a.usename::text as usename, a.application_name, a.state, a.backend_start
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
       where l.locktype = 'advisory' and l.granted and l.objsubid = 1
         and ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint`,
      [MIGRATION_LOCK_KEY],
    );
    const holder =
      holders.map((h) => `session pid ${h.pid} (user ${h.usename ?? '?'}, application ${h.application_name || '?'}, ${h.state ?? '?'} since ${h.backend_start?.toISOString() ?? '?'})`).join(', ') ||
      'another session';
    if (Date.now() >= deadline) {
      throw new MigrationError(`the migration lock is held by ${holder}; gave up after waiting ${Math.round(waitMs / 1000)} s; nothing was applied`);
    }
    if (!told) {
      logger?.info(`waiting for ${holder} to release the migration lock (at most ${Math.round(waitMs / 1000)} s)`);
      told = true;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(1, deadline - Date.now()))));
  }
}

export async function migrate(
  handle: DatabaseHandle,
  logger?: Logger,
  files: readonly MigrationFile[] = readMigrations(),
  options: MigrateOptions = {},
): Promise<MigrationResult> {
  // A broken model definition stops here, before the database is touched.
  const models = options.models ?? loadModels();
  // Nothing pending and no model changed (every command but the first after an upgrade): one
  // query and no lock, so a session holding the migrator's advisory lock cannot hold up runs and reads.
  const current = await handle.withConnection((conn) => currentState(conn));
  if (current && current.migrations.length === files.length) {
    verifyHistory(current.migrations, files);
    if (modelsToBuild(models, current.builds).length === 0 && modelsRemoved(models, current.builds).length === 0) {
      return { applied: [], version: files.length, rebuilt: [], dropped: [] };
    }
  }
  return handle.withTransaction(async (conn) => {
    await takeMigrationLock(conn, options.lockWaitMs ?? 300_000, logger);
    await conn.script(BOOTSTRAP);
    const applied = await appliedMigrations(conn);
    verifyHistory(applied, files);
    const pending = files.slice(applied.length);
    const grants = pending.length > 0 ? await dropBuiltModels(conn) : undefined;
    for (const migration of pending) {
      logger?.info({ migration: migration.name }, `applying migration ${migration.name}`);
      try {
        await conn.script(migration.sql);
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        throw new MigrationError(`migration ${migration.name} failed, nothing was applied: ${e.message}`);
      }
      await conn.query('insert into etl.schema_migrations (version, name, checksum) values ($1, $2, $3)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
    }
    const { built, dropped } = await buildModels(conn, models, { all: pending.length > 0, grants, logger });
    if (built.length > 0) logger?.info({ models: built }, `built ${built.length} model(s): ${built.join(', ')}`);
    return { applied: pending, version: files.length, rebuilt: built, dropped };
  });
}

/**
 * Applied migrations and model builds in one query; undefined when the tables are not both
 * there yet (a new database, or one from before the model layer), which the full path handles.
 */
async function currentState(conn: SqlConnection): Promise<{ migrations: AppliedRow[]; builds: BuildRecord[] } | undefined> {
  try {
    const { rows } = await conn.query<{ version: number | null; name: string; checksum: string; present: boolean | null }>(
      `select version, name, checksum, null::boolean as present from etl.schema_migrations
       union all
       select null, name, checksum, to_regclass(name) is not null from etl.model_builds
       order by 1, 2`,
    );
    return {
      migrations: rows.filter((r) => r.version !== null).map((r) => ({ version: r.version!, name: r.name, checksum: r.checksum })),
      builds: rows.filter((r) => r.version === null).map((r) => ({ name: r.name, checksum: r.checksum, present: r.present === true })),
    };
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return undefined; // undefined_table
    throw error;
  }
}

export interface MigrationStatus {
  readonly applied: number;
  readonly available: number;
  readonly pending: readonly string[];
}

export async function migrationStatus(handle: DatabaseHandle, files: readonly MigrationFile[] = readMigrations()): Promise<MigrationStatus> {
  return handle.withConnection(async (conn) => {
    const { rows } = await conn.query<{ present: boolean }>(`select to_regclass('etl.schema_migrations') is not null as present`);
    const applied = rows[0]?.present ? await appliedMigrations(conn) : [];
    verifyHistory(applied, files);
    return {
      applied: applied.length,
      available: files.length,
      pending: files.slice(applied.length).map((f) => f.name),
    };
  });
}

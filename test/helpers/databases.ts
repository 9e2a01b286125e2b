import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, inject, onTestFinished } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.js';

/**
 * Every database test runs twice: on PGlite and on a real PostgreSQL. Each test gets its
 * own database (a copy of a PGlite template folder, or CREATE DATABASE … TEMPLATE on the
 * server). It is dropped when the test passes and kept when it fails, so the state that
 * failed can be inspected (the path or URL is printed).
 */

export type DbKind = 'pglite' | 'postgres';
export const DB_KINDS: readonly DbKind[] = ['pglite', 'postgres'];
const PG_TEMPLATE_DB = 'bubblewatch_test_template';

export interface TestDatabase {
  readonly kind: DbKind;
  /** Open handle to the test database (closed automatically at the end of the test). */
  handle: DatabaseHandle;
  /** Environment that points a bubblewatch process (the CLI) at this database. */
  readonly env: Readonly<Record<string, string>>;
  /** Options for openDatabase() that reach this database. */
  readonly openOptions: { readonly databaseUrl?: string; readonly embeddedDir: string };
  /** Close the handle (to let another process in) and later reopen it. */
  close(): Promise<void>;
  reopen(): Promise<DatabaseHandle>;
}

function databaseUrl(base: string, name: string): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

export function postgresAvailable(): boolean {
  return inject('postgresUrl') !== null;
}

/** A database made for a test: where it is, how to reach it, how to drop it. */
export interface CreatedDatabase {
  readonly openOptions: { readonly databaseUrl?: string; readonly embeddedDir: string };
  readonly env: Readonly<Record<string, string>>;
  /** The folder or URL, for messages. */
  readonly where: string;
  destroy(): Promise<void>;
}

/** Create a fresh database (not opened): a copy of the PGlite template folder, or CREATE DATABASE … TEMPLATE. */
export async function createDatabase(kind: DbKind, migrated = true): Promise<CreatedDatabase> {
  if (kind === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'bubblewatch-pglite-'));
    const folder = join(dir, 'db');
    cpSync(inject(migrated ? 'pgliteMigratedTemplate' : 'pgliteEmptyTemplate'), folder, { recursive: true });
    return { openOptions: { embeddedDir: folder }, env: { BUBBLEWATCH_EMBEDDED_DIR: folder }, where: folder, destroy: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const base = inject('postgresUrl');
  if (!base) throw new Error(`PostgreSQL is not available: ${inject('postgresSkipReason')}`);
  const name = `bw_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${migrated ? PG_TEMPLATE_DB : 'template0'}`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(base, name);
  return {
    openOptions: { databaseUrl: url, embeddedDir: '' },
    env: { DATABASE_URL: url },
    where: url,
    destroy: async () => {
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      try {
        await a.query(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** A fresh database for the current test, migrated unless `migrated: false`. */
export async function useDatabase(kind: DbKind, options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const { openOptions, env, where, destroy } = await createDatabase(kind, options.migrated ?? true);
  let open: DatabaseHandle | undefined = await openDatabase({ ...openOptions, command: 'vitest' });
  const db: TestDatabase = {
    kind,
    handle: open,
    env,
    openOptions,
    async close() {
      await open?.close();
      open = undefined;
    },
    async reopen() {
      await open?.close();
      open = await openDatabase({ ...openOptions, command: 'vitest' });
      db.handle = open;
      return open;
    },
  };
  onTestFinished(async (ctx) => {
    await open?.close();
    open = undefined;
    if (ctx.task.result?.state === 'fail') {
      process.stderr.write(`[bubblewatch tests] kept the ${kind} database of failed test "${ctx.task.name}" at ${where}\n`);
      return;
    }
    await destroy();
  });
  return db;
}

/** `describe` once per database kind; the PostgreSQL half is skipped visibly when no server is available. */
export function describeEachDatabase(name: string, body: (kind: DbKind) => void): void {
  for (const kind of DB_KINDS) {
    if (kind === 'postgres' && !postgresAvailable()) {
      describe.skip(`${name} [postgres: SKIPPED — ${inject('postgresSkipReason')}]`, () => body(kind));
    } else {
      describe(`${name} [${kind}]`, () => body(kind));
    }
  }
}

import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, inject, onTestFinished } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.js';
import { cliInProcess } from './cli.js';
import { scratchDir } from './scratch.js';

/**
 * Every database test runs twice: on PGlite and on a real PostgreSQL. Each test gets its
 * own database (a copy of a PGlite template folder, or CREATE DATABASE … TEMPLATE on the
 * server). It is dropped when the test passes and kept when it fails, so the state that
 * failed can be inspected (the path or URL is printed).
 */

export type DbKind = 'pglite' | 'postgres';
export const DB_KINDS: readonly DbKind[] = ['pglite', 'postgres'];
const PG_TEMPLATE_DB = 'bubblewatch_test_template';
/** The PostgreSQL template holding the bundled sample (test/global-setup.ts drops it at the end). */
export const PG_SAMPLE_DB = 'bubblewatch_test_sample';

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

/**
 * What a new test database starts as: empty, migrated, the bundled sample as
 * `bubblewatch start --once` with the bundled config leaves it (see sampleTemplate), or a
 * database a test file filled once (fillTemplate).
 */
export type DatabaseTemplate = 'empty' | 'migrated' | 'sample' | FilledTemplate;

/** A database filled once, typically in a file's beforeAll, for its tests to copy: useDatabase(kind, { from }). */
export interface FilledTemplate {
  readonly kind: DbKind;
  /** The PGlite folder or the PostgreSQL database that is copied. */
  readonly source: string;
  drop(): Promise<void>;
}

/** Create a fresh database (not opened): a copy of a PGlite template folder, or CREATE DATABASE … TEMPLATE. */
export async function createDatabase(kind: DbKind, template: DatabaseTemplate = 'migrated'): Promise<CreatedDatabase> {
  if (typeof template === 'object' && template.kind !== kind) throw new Error(`a ${kind} database cannot be copied from a ${template.kind} template (${template.source})`);
  if (kind === 'pglite') {
    const source =
      typeof template === 'object' ? template.source
      : template === 'sample' ? await sampleTemplate('pglite')
      : inject(template === 'migrated' ? 'pgliteMigratedTemplate' : 'pgliteEmptyTemplate');
    const dir = mkdtempSync(join(scratchDir(), 'bubblewatch-pglite-'));
    const folder = join(dir, 'db');
    cpSync(source, folder, { recursive: true });
    return { openOptions: { embeddedDir: folder }, env: { BUBBLEWATCH_EMBEDDED_DIR: folder }, where: folder, destroy: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const base = postgresBase();
  const source =
    typeof template === 'object' ? template.source
    : template === 'sample' ? await sampleTemplate('postgres')
    : template === 'migrated' ? PG_TEMPLATE_DB
    : 'template0';
  const name = `bw_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(base, (admin) => admin.query(`create database ${name} template ${source}`));
  const url = databaseUrl(base, name);
  return {
    openOptions: { databaseUrl: url, embeddedDir: '' },
    env: { DATABASE_URL: url },
    where: url,
    destroy: () => withAdmin(base, (admin) => admin.query(`drop database if exists ${name} with (force)`)),
  };
}

/**
 * A migrated database that `fill` loads once, for tests that each need the same fixture and
 * would otherwise load it again: they copy it (useDatabase(kind, { from })) and may change
 * their copy. Call in beforeAll and drop in afterAll; if `fill` fails, the database is kept and
 * its place printed, as for a failed test.
 */
export async function fillTemplate(kind: DbKind, fill: (handle: DatabaseHandle) => Promise<void>): Promise<FilledTemplate> {
  const created = await createDatabase(kind);
  const handle = await openDatabase({ ...created.openOptions, command: 'vitest template' });
  try {
    await fill(handle);
  } catch (error) {
    process.stderr.write(`[bubblewatch tests] kept the ${kind} template whose filling failed at ${created.where}\n`);
    throw error;
  } finally {
    await handle.close();
  }
  const source = kind === 'pglite' ? created.openOptions.embeddedDir : new URL(created.where).pathname.slice(1);
  return { kind, source, drop: () => created.destroy() };
}

function postgresBase(): string {
  const base = inject('postgresUrl');
  if (!base) throw new Error(`PostgreSQL is not available: ${inject('postgresSkipReason')}`);
  return base;
}

async function withAdmin(base: string, fn: (admin: pg.Client) => Promise<unknown>): Promise<void> {
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await fn(admin);
  } finally {
    await admin.end();
  }
}

/**
 * Replace what a test database holds with the bundled sample as `start --once` leaves it (the
 * database is closed first; reopen it after). The same state as running `start --once` on it,
 * at the cost of a folder copy or a CREATE DATABASE … TEMPLATE instead of a load.
 */
export async function replaceWithSample(db: TestDatabase): Promise<void> {
  await db.close();
  const template = await sampleTemplate(db.kind);
  if (db.kind === 'pglite') {
    const folder = db.openOptions.embeddedDir;
    rmSync(folder, { recursive: true, force: true });
    cpSync(template, folder, { recursive: true });
    return;
  }
  const url = db.openOptions.databaseUrl!;
  const name = new URL(url).pathname.slice(1);
  await withAdmin(postgresBase(), async (admin) => {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.query(`create database ${name} template ${template}`);
  });
}

// ------------------------------------------------------------------ the bundled sample, loaded once

/** How long a worker waits for the other one to finish loading the sample template. */
const SAMPLE_WAIT_MS = 100_000;

const sampleTemplates = new Map<DbKind, Promise<string>>();

/**
 * The bundled sample loaded once per `npm test` and database kind, for tests that only need the
 * state it leaves (reports, views, example queries): the PGlite folder or PostgreSQL template
 * database to copy. Loading takes about 10 s a database, so it happens only when a test first
 * asks, in whichever worker asks first (an atomic mkdir says which); the other worker waits for
 * the marker it writes. A failed load is recorded in the marker, and every test that needs the
 * sample fails with its message. Workers keep their files' modules (isolate: false), so each
 * worker asks the folder once.
 */
export function sampleTemplate(kind: DbKind): Promise<string> {
  let template = sampleTemplates.get(kind);
  if (!template) {
    template = obtainSampleTemplate(kind);
    sampleTemplates.set(kind, template);
  }
  return template;
}

interface SampleMarker {
  readonly template?: string;
  readonly error?: string;
}

async function obtainSampleTemplate(kind: DbKind): Promise<string> {
  const dir = inject('sampleTemplateDir');
  const marker = join(dir, `${kind}.json`);
  try {
    mkdirSync(join(dir, `${kind}.building`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return waitForSample(kind, marker);
  }
  const record = (content: SampleMarker) => {
    writeFileSync(`${marker}.tmp`, JSON.stringify(content));
    renameSync(`${marker}.tmp`, marker);
  };
  try {
    const template = await loadSampleTemplate(kind, dir);
    record({ template });
    return template;
  } catch (error) {
    record({ error: (error as Error).message });
    throw error;
  }
}

async function waitForSample(kind: DbKind, marker: string): Promise<string> {
  const deadline = Date.now() + SAMPLE_WAIT_MS;
  while (!existsSync(marker)) {
    if (Date.now() > deadline) {
      throw new Error(`the ${kind} template of the bundled sample: no ${marker} after ${SAMPLE_WAIT_MS / 1000} s, expected the worker loading it to write it (see that worker's failing test)`);
    }
    await sleep(100);
  }
  const content = JSON.parse(readFileSync(marker, 'utf8')) as SampleMarker;
  if (content.template === undefined) throw new Error(`the ${kind} template of the bundled sample could not be loaded: ${content.error ?? 'no reason recorded'}`);
  return content.template;
}

/** `bubblewatch start --once` with the bundled config on a fresh migrated database, as a user's first start. */
async function loadSampleTemplate(kind: DbKind, dir: string): Promise<string> {
  let template: string;
  let env: Record<string, string>;
  if (kind === 'pglite') {
    template = join(dir, 'pglite');
    cpSync(inject('pgliteMigratedTemplate'), template, { recursive: true });
    env = { BUBBLEWATCH_EMBEDDED_DIR: template };
  } else {
    const base = postgresBase();
    template = PG_SAMPLE_DB;
    await withAdmin(base, (admin) => admin.query(`create database ${template} template ${PG_TEMPLATE_DB}`));
    env = { DATABASE_URL: databaseUrl(base, template) };
  }
  const result = await cliInProcess(['start', '--once'], env);
  if (result.code !== 0) throw new Error(`bubblewatch start --once over the bundled sample (${kind}) exited ${result.code}, expected 0: ${result.stderr.slice(-2000)}`);
  return template;
}

/**
 * A fresh database for the current test: migrated; empty with `migrated: false`; holding the
 * bundled sample as `start --once` leaves it with `sample: true`; a copy of `from`.
 */
export async function useDatabase(kind: DbKind, options: { migrated?: boolean; sample?: boolean; from?: FilledTemplate } = {}): Promise<TestDatabase> {
  const template: DatabaseTemplate = options.from ?? (options.sample ? 'sample' : options.migrated === false ? 'empty' : 'migrated');
  const { openOptions, env, where, destroy } = await createDatabase(kind, template);
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

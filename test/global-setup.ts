import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../src/db/connect.js';
import { migrate } from '../src/migrate/migrator.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { findPostgresBinaries, startLocalServer, type LocalServer } from './helpers/postgres-server.js';
import { scratchDir } from './helpers/scratch.js';

/**
 * Built once per `npm test`:
 *  - the CLI (dist/), so CLI tests run the real binary (built while the templates are made);
 *  - PGlite templates (an empty and a migrated data folder) that each test copies, since
 *    creating a PGlite database from scratch takes seconds;
 *  - the PostgreSQL half: TEST_DATABASE_URL if set, else a throwaway cluster from local
 *    binaries, else skipped with a line saying so. A migrated template database is made
 *    there too, and each test clones it (CREATE DATABASE … TEMPLATE).
 *  - a folder where the first test that needs the bundled sample loads it once per database kind
 *    (test/helpers/databases.ts, sampleTemplate), for the others to copy.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteEmptyTemplate: string;
    pgliteMigratedTemplate: string;
    postgresUrl: string | null;
    postgresSkipReason: string | null;
    sampleTemplateDir: string;
  }
}

export const PG_TEMPLATE_DB = 'bubblewatch_test_template';
/** Kept in step with test/helpers/databases.ts, which this file does not import (it runs in the workers). */
const PG_SAMPLE_DB = 'bubblewatch_test_sample';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The build (tsc, a process of its own) runs while this process makes the templates below,
  // which import the sources, not dist/; only the tests need dist/, so it is awaited at the end.
  const built = build();
  built.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled meanwhile

  const root = mkdtempSync(join(scratchDir(), 'bubblewatch-test-'));
  const empty = join(root, 'pglite-empty');
  const migrated = join(root, 'pglite-migrated');
  const handle = await openDatabase({ embeddedDir: empty, command: 'test template' });
  await handle.close();
  cpSync(empty, migrated, { recursive: true });
  const migratedHandle = await openDatabase({ embeddedDir: migrated, command: 'test template' });
  await migrate(migratedHandle);
  await migratedHandle.close();
  project.provide('pgliteEmptyTemplate', empty);
  project.provide('pgliteMigratedTemplate', migrated);
  const sampleDir = join(root, 'sample');
  mkdirSync(sampleDir);
  project.provide('sampleTemplateDir', sampleDir);

  let server: LocalServer | undefined;
  let url: string | null = process.env.TEST_DATABASE_URL ?? null;
  let skipReason: string | null = null;
  if (!url) {
    const bindir = findPostgresBinaries();
    if (bindir) {
      try {
        server = await startLocalServer(bindir);
        url = server.url;
        // A run cut short (a timeout's SIGTERM, Ctrl-C) exits without the teardown below: stop the
        // cluster on the way out too, or it keeps running. stop() is synchronous, as 'exit' needs.
        const started = server;
        process.once('exit', () => {
          if (server === started) started.stop();
        });
        process.stdout.write(`[bubblewatch tests] PostgreSQL half: throwaway cluster from ${bindir} (${server.version})\n`);
      } catch (error) {
        skipReason = `could not start a throwaway PostgreSQL from ${bindir}: ${(error as Error).message}`;
      }
    } else {
      skipReason = 'no TEST_DATABASE_URL and no PostgreSQL binaries found (set PG_BINDIR or install postgresql)';
    }
  } else {
    process.stdout.write('[bubblewatch tests] PostgreSQL half: TEST_DATABASE_URL\n');
  }
  if (url) {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const version = (await admin.query<{ server_version: string }>('show server_version')).rows[0]?.server_version;
    // A run cut short leaves its sample template behind on a TEST_DATABASE_URL server; the
    // first test that needs the sample creates it again.
    await admin.query(`drop database if exists ${PG_SAMPLE_DB}`);
    await admin.query(`drop database if exists ${PG_TEMPLATE_DB}`);
    await admin.query(`create database ${PG_TEMPLATE_DB} template template0 encoding 'UTF8'`);
    await admin.end();
    const templateHandle = await openDatabase({ databaseUrl: withDatabase(url, PG_TEMPLATE_DB), embeddedDir: '', command: 'test template' });
    await migrate(templateHandle);
    await templateHandle.close();
    process.stdout.write(`[bubblewatch tests] PostgreSQL server version ${version}\n`);
  } else {
    process.stdout.write(`[bubblewatch tests] SKIPPING the PostgreSQL half of every database test: ${skipReason}\n`);
  }
  project.provide('postgresUrl', url);
  project.provide('postgresSkipReason', skipReason);
  await built;

  return async () => {
    if (url) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect().catch(() => undefined);
      await admin.query(`drop database if exists ${PG_SAMPLE_DB} with (force)`).catch(() => undefined);
      await admin.query(`drop database if exists ${PG_TEMPLATE_DB}`).catch(() => undefined);
      await admin.end().catch(() => undefined);
    }
    server?.stop();
    server = undefined;
    rmSync(root, { recursive: true, force: true });
  };
}

/** `npm run build`, its output on this terminal. */
function build(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'build'], { cwd: PACKAGE_ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`npm run build exited ${code ?? signal}, expected 0 (its output is above)`))));
  });
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

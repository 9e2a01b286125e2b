import { rmSync } from 'node:fs';
import { afterAll, onTestFinished } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.js';
import { unrecordedFile } from '../../src/engine/unrecorded.js';
import { createDatabase, type CreatedDatabase, type DbKind } from '../helpers/databases.js';

/**
 * Databases the bad-input corpus reuses from case to case. A fresh database costs about a second
 * on PGlite (copying the template folder, starting the WebAssembly server), and the corpus
 * opens one or two per case on each database kind: reuse halves the suite's time. A database
 * goes back to the pool only after a case passed, and is handed out again only once it is
 * indistinguishable from a fresh one:
 *  - every table that was empty in the fresh database is truncated, with its identity
 *    sequences restarted (run, file and reject ids start at 1 again, as in a fresh one);
 *  - the tables the migrations fill (schema versions, GICS sector names) must hold exactly what
 *    they held when fresh, and the schema the same relations; if not, the database is dropped
 *    and a fresh one made;
 *  - a run outcome kept aside for it (unrecorded.ts, keyed by its location) is deleted.
 * A database of a failed case is kept for inspection (its location printed), as useDatabase does.
 */

interface Pooled {
  readonly created: CreatedDatabase;
  handle: DatabaseHandle;
  /** Tables empty when fresh: what a reset truncates. */
  readonly truncate: readonly string[];
  /** The fresh database's seed tables and relation list, which a reset must find unchanged. */
  readonly seed: string;
}

const idle = new Map<DbKind, Pooled[]>();

async function q<R>(handle: DatabaseHandle, sql: string): Promise<R[]> {
  return handle.withConnection(async (conn) => (await conn.query<R>(sql)).rows);
}

const TABLES = `select quote_ident(table_schema) || '.' || quote_ident(table_name) as name from information_schema.tables
                where table_schema in ('raw', 'core', 'etl') and table_type = 'BASE TABLE' order by 1`;

/** The rows of the tables in `seedTables`, and every relation of the application's schemas. */
async function seedState(handle: DatabaseHandle, seedTables: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const t of seedTables) {
    const [row] = await q<{ h: string }>(handle, `select count(*) || ' rows, md5 ' || md5(coalesce(string_agg(s::text, E'\\n' order by s::text), '')) as h from ${t} s`);
    parts.push(`${t}: ${row!.h}`);
  }
  const relations = await q<{ name: string }>(
    handle,
    `select n.nspname || '.' || c.relname || ':' || c.relkind::text as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('raw', 'core', 'etl', 'analytics') order by 1`,
  );
  parts.push(relations.map((r) => r.name).join(' '));
  return parts.join('\n');
}

async function fresh(kind: DbKind): Promise<Pooled> {
  const created = await createDatabase(kind);
  const handle = await openDatabase({ ...created.openOptions, command: 'vitest' });
  const tables = await q<{ name: string }>(handle, TABLES);
  const truncate: string[] = [];
  const seedTables: string[] = [];
  for (const { name } of tables) {
    const [row] = await q<{ any: boolean }>(handle, `select exists (select 1 from ${name}) as any`);
    (row!.any ? seedTables : truncate).push(name);
  }
  return { created, handle, truncate, seed: await seedState(handle, seedTables) };
}

/** Make a used database equal a fresh one; false if it cannot be (then it is dropped). */
async function reset(p: Pooled): Promise<boolean> {
  try {
    await q(p.handle, `truncate ${p.truncate.join(', ')} restart identity cascade`);
    rmSync(unrecordedFile(p.handle.location), { force: true });
    const seedTables = p.seed.split('\n').slice(0, -1).map((line) => line.slice(0, line.indexOf(': ')));
    return (await seedState(p.handle, seedTables)) === p.seed;
  } catch {
    return false;
  }
}

async function drop(p: Pooled): Promise<void> {
  await p.handle.close().catch(() => undefined);
  await p.created.destroy();
}

/**
 * A database for the current case: a reset one from the pool, or a fresh one. It returns to the
 * pool when the case passes.
 */
export async function caseDatabase(kind: DbKind): Promise<{ readonly handle: DatabaseHandle }> {
  let p: Pooled | undefined;
  const pool = idle.get(kind) ?? [];
  idle.set(kind, pool);
  while (!p && pool.length > 0) {
    const candidate = pool.pop()!;
    if (await reset(candidate)) p = candidate;
    else await drop(candidate);
  }
  p ??= await fresh(kind);
  const taken = p;
  onTestFinished(async (ctx) => {
    if (ctx.task.result?.state === 'fail') {
      await taken.handle.close().catch(() => undefined);
      process.stderr.write(`[bubblewatch tests] kept the ${kind} database of failed test "${ctx.task.name}" at ${taken.created.where}\n`);
      return;
    }
    pool.push(taken);
  });
  return { handle: taken.handle };
}

/** Close and drop the pooled databases of `kind` when the current file's tests are done. */
export function releasePoolAfterAll(kind: DbKind): void {
  afterAll(async () => {
    const pool = idle.get(kind) ?? [];
    idle.delete(kind);
    for (const p of pool) await drop(p);
  });
}

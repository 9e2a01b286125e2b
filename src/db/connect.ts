import { lstatSync, mkdirSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ConfigError, describeThrown, redactSecrets, rememberSecrets } from '../errors.js';
import { acquireFolderLock, type FolderLock } from './folder-lock.js';
import { Mutex, PGliteDialect } from './pglite-dialect.js';
import type { Database } from './schema.js';
import { TYPE_PARSERS } from './type-parsers.js';

export type DatabaseKind = 'postgres' | 'pglite';

export interface QueryResultRows<R> {
  readonly rows: R[];
  readonly rowCount: number;
}

/** Writes CSV text into one COPY ... FROM STDIN; `end` returns the number of rows copied. */
export interface CopyWriter {
  write(csvText: string): Promise<void>;
  end(): Promise<number>;
}

/**
 * One database connection, held exclusively for the duration of a callback. Gives kysely
 * bound to the connection plus what kysely cannot do: multi-statement scripts and COPY.
 */
export interface SqlConnection {
  readonly kind: DatabaseKind;
  readonly db: Kysely<Database>;
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResultRows<R>>;
  /** Run a script of one or more statements with no parameters (migrations, transforms). */
  script(text: string): Promise<void>;
  /** Start a COPY ... FROM STDIN WITH (FORMAT csv). Nothing else may run on the connection until it ends. */
  copyCsv(table: string, columns: readonly string[]): CopyWriter;
}

export interface DatabaseHandle {
  readonly kind: DatabaseKind;
  /** Where the data lives, safe to print: the folder, or the URL without its password. */
  readonly location: string;
  /** kysely over the pool (PostgreSQL) or the shared single session (PGlite). */
  readonly db: Kysely<Database>;
  withConnection<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T>;
  withTransaction<T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /**
   * The embedded database's PGlite instance, for the Postgres wire server (src/serve). Use it
   * only inside withConnection, which holds the mutex that keeps it to one user at a time.
   */
  readonly pglite?: PGlite;
}

export interface OpenOptions {
  /** PostgreSQL connection string; when absent the embedded database in `embeddedDir` is used. */
  readonly databaseUrl?: string | undefined;
  readonly embeddedDir: string;
  /** Shown to a second process that finds the embedded folder locked. */
  readonly command: string;
  /** Told when the embedded folder's lock must be waited for, or a stale one was reclaimed. */
  readonly notice?: (message: string) => void;
}

export async function openDatabase(options: OpenOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl);
  return openPGlite(embeddedFolder(options.embeddedDir), options.command, options.notice);
}

/**
 * The embedded database's folder with symbolic links resolved (created if missing). PGlite
 * cannot open a folder through a link (its file system fails with a bare "ErrnoError 44"), and
 * the lock must be the same file whichever link a process came through.
 */
function embeddedFolder(dir: string): string {
  const folder = resolve(dir);
  try {
    return realpathSync(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  let target: string | undefined;
  try {
    if (lstatSync(folder).isSymbolicLink()) target = resolve(dirname(folder), readlinkSync(folder));
  } catch {
    /* the folder itself does not exist: create it below */
  }
  if (target !== undefined) {
    throw new ConfigError(
      `the embedded database folder ${folder} is a symbolic link to ${target}, which does not exist; create that folder or point BUBBLEWATCH_EMBEDDED_DIR elsewhere`,
    );
  }
  mkdirSync(folder, { recursive: true });
  return realpathSync(folder);
}

export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** `schema.table` → `"schema"."table"`; identifiers come from code and config, never from data. */
export function quoteQualified(name: string): string {
  return name.split('.').map(quoteIdent).join('.');
}

function copySql(table: string, columns: readonly string[], from: string): string {
  return `copy ${quoteQualified(table)} (${columns.map(quoteIdent).join(', ')}) from ${from} with (format csv)`;
}

async function runTransaction<T>(conn: SqlConnection, fn: (conn: SqlConnection) => Promise<T>): Promise<T> {
  await conn.script('begin');
  try {
    const result = await fn(conn);
    await conn.script('commit');
    return result;
  } catch (error) {
    try {
      await conn.script('rollback');
    } catch {
      /* the connection is gone; the server rolls back on its own */
    }
    throw error;
  }
}

// ---------------------------------------------------------------- PostgreSQL

function postgresTypes(): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: string) => {
      const custom = TYPE_PARSERS[oid];
      if (custom && (format === undefined || format === 'text')) return custom;
      return pg.types.getTypeParser(oid, format as 'text');
    }) as pg.CustomTypesConfig['getTypeParser'],
  };
}

async function openPostgres(url: string): Promise<DatabaseHandle> {
  rememberSecrets({ url });
  const pool = new pg.Pool({
    connectionString: url,
    types: postgresTypes(),
    options: '-c TimeZone=UTC -c DateStyle=ISO',
    max: 4,
    connectionTimeoutMillis: 15_000,
    application_name: 'bubblewatch',
  });
  // An idle client that loses its server emits 'error' on the pool; without a listener it kills the process.
  pool.on('error', () => {});
  // So does a client in use: its query fails with the error, and the 'error' event it also
  // emits must not crash the process (PostgreSQL stopped in the middle of a run).
  pool.on('connect', (client) => client.on('error', () => {}));
  const location = redactSecrets(url);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => {});
    const e = error instanceof Error ? error : new Error(String(error));
    e.message = `cannot connect to PostgreSQL at ${location}: ${redactSecrets(e.message)}`;
    throw e;
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });

  const bind = (client: pg.PoolClient): SqlConnection => {
    const single = {
      // kysely only calls query() and release(); release must not hand the client back to the pool.
      connect: async () => ({ query: client.query.bind(client), release: () => {} }),
      end: async () => {},
    };
    return {
      kind: 'postgres',
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool: single as unknown as pg.Pool }) }),
      async query<R>(text: string, params: readonly unknown[] = []) {
        const result = await client.query(text, params as unknown[]);
        return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
      },
      async script(text: string) {
        await client.query(text);
      },
      copyCsv(table, columns) {
        const stream = client.query(copyFrom(copySql(table, columns, 'stdin')));
        let failure: Error | undefined;
        const done = new Promise<number>((resolveDone, rejectDone) => {
          stream.on('finish', () => resolveDone(Number(stream.rowCount ?? 0)));
          stream.on('error', (error: Error) => {
            failure = error;
            rejectDone(error);
          });
        });
        done.catch(() => {});
        return {
          async write(text: string) {
            if (failure) throw failure;
            if (!stream.write(text)) {
              await new Promise<void>((resolveDrain, rejectDrain) => {
                const onDrain = () => {
                  stream.off('error', onError);
                  resolveDrain();
                };
                const onError = (error: Error) => {
                  stream.off('drain', onDrain);
                  rejectDrain(error);
                };
                stream.once('drain', onDrain);
                stream.once('error', onError);
              });
            }
          },
          async end() {
            stream.end();
            return done;
          },
        };
      },
    };
  };

  const withConnection = async <T>(fn: (conn: SqlConnection) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      return await fn(bind(client));
    } catch (error) {
      // A connection that failed mid-COPY or lost its server must not go back to the pool.
      if (error instanceof Error && isConnectionLevel(error)) broken = error;
      throw error;
    } finally {
      client.release(broken);
    }
  };

  return {
    kind: 'postgres',
    location,
    db,
    withConnection,
    withTransaction: (fn) => withConnection((conn) => runTransaction(conn, fn)),
    async close() {
      // kysely ends the pool only if it ever ran a query; raw connections may have been the only users.
      await db.destroy();
      if (!pool.ending && !pool.ended) await pool.end();
    },
  };
}

function isConnectionLevel(error: Error): boolean {
  const code = (error as { code?: string }).code ?? '';
  return /^(08|57P)/.test(code) || /ECONNRESET|ECONNREFUSED|EPIPE|Connection terminated/i.test(error.message);
}

// ---------------------------------------------------------------- PGlite

/** Flush a COPY into PGlite when this much CSV text has been buffered. */
const PGLITE_COPY_BATCH_CHARS = 8 * 1024 * 1024;

async function openPGlite(folder: string, command: string, notice: ((message: string) => void) | undefined): Promise<DatabaseHandle> {
  const lock: FolderLock = await acquireFolderLock(folder, command, notice ? { notice } : {});
  let pgl: PGlite;
  try {
    pgl = await PGlite.create(folder, { parsers: TYPE_PARSERS as Record<number, (v: string) => unknown> });
    await pgl.exec(`set timezone = 'UTC'; set datestyle = 'ISO'`);
  } catch (error) {
    lock.release();
    // PGlite's file system throws objects that are not Errors (printed "[object Object]").
    if (error instanceof Error) throw error;
    throw new Error(`cannot open the embedded database in ${folder}: ${describeThrown(error)}`);
  }
  const mutex = new Mutex();
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pgl, mutex) });
  const boundDb = new Kysely<Database>({ dialect: new PGliteDialect(pgl, undefined) });

  const conn: SqlConnection = {
    kind: 'pglite',
    db: boundDb,
    async query<R>(text: string, params: readonly unknown[] = []) {
      const result = await pgl.query<R>(text, [...params]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async script(text: string) {
      await pgl.exec(text);
    },
    copyCsv(table, columns) {
      const sql = copySql(table, columns, `'/dev/blob'`);
      let parts: string[] = [];
      let size = 0;
      let total = 0;
      const flush = async () => {
        if (size === 0) return;
        const blob = new Blob(parts);
        parts = [];
        size = 0;
        const result = await pgl.query(sql, [], { blob });
        total += result.affectedRows ?? 0;
      };
      return {
        async write(text: string) {
          parts.push(text);
          size += text.length;
          if (size >= PGLITE_COPY_BATCH_CHARS) await flush();
        },
        async end() {
          await flush();
          return total;
        },
      };
    },
  };

  const withConnection = async <T>(fn: (c: SqlConnection) => Promise<T>): Promise<T> => {
    const release = await mutex.lock();
    try {
      return await fn(conn);
    } finally {
      release();
    }
  };

  let closed = false;
  return {
    kind: 'pglite',
    location: folder,
    db,
    pglite: pgl,
    withConnection,
    withTransaction: (fn) => withConnection((c) => runTransaction(c, fn)),
    async close() {
      if (closed) return;
      closed = true;
      const release = await mutex.lock();
      try {
        await pgl.close();
      } finally {
        release();
        lock.release();
      }
    },
  };
}

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asServerUser, findPostgresBinaries, freePort } from '../helpers/postgres-server.js';

/**
 * A PostgreSQL server of its own for fault injection: the test stops it (as a crash with
 * `-m immediate`, or as an administrator's shutdown with `-m fast`) in the middle of a run and
 * starts it again on the same port and data, which the shared test server cannot allow.
 * As in test/helpers/postgres-server.ts, PostgreSQL refuses to run as root, so as root the
 * server commands run as the `postgres` user in a folder it owns.
 */

export interface FaultServer {
  /** Connection string of the `postgres` database. */
  readonly url: string;
  /** Connection string of another database on this server. */
  urlOf(database: string): string;
  stop(mode: 'fast' | 'immediate'): void;
  start(): void;
  /** Stop for good and remove the cluster. */
  destroy(): void;
}

export function faultServerAvailable(): string | undefined {
  return findPostgresBinaries();
}

export async function startFaultServer(): Promise<FaultServer> {
  const bindir = findPostgresBinaries();
  if (!bindir) throw new Error('no PostgreSQL binaries (set PG_BINDIR or install postgresql)');
  const isRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'bubblewatch-fault-pg-'));
  chmodSync(dir, 0o777);
  if (isRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const data = join(dir, 'data');
  const init = asServerUser(isRoot, join(bindir, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.output}`);
  const port = await freePort();
  const settings = [`-p ${port}`, '-c listen_addresses=127.0.0.1', `-c unix_socket_directories=${dir}`, '-c fsync=off', '-c full_page_writes=off', '-c max_connections=50'].join(' ');
  const pgCtl = join(bindir, 'pg_ctl');
  let running = false;
  const server: FaultServer = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    urlOf: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    start() {
      const r = asServerUser(isRoot, pgCtl, ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', settings, 'start']);
      if (r.status !== 0) throw new Error(`pg_ctl start failed: ${r.output}`);
      running = true;
    },
    stop(mode) {
      const r = asServerUser(isRoot, pgCtl, ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
      if (r.status !== 0) throw new Error(`pg_ctl stop -m ${mode} failed: ${r.output}`);
      running = false;
    },
    destroy() {
      if (running) asServerUser(isRoot, pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  server.start();
  return server;
}

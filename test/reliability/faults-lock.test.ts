import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it, onTestFinished } from 'vitest';
import { lockPathFor } from '../../src/db/folder-lock.js';
import { recoverStaleRuns } from '../../src/engine/run-ledger.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { bubblewatch, type Proc, CHILD_NODE_FLAGS } from '../helpers/cli.js';
import { useDatabase, type TestDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, rows, runOnce } from '../helpers/pipelines.js';
import { bigFile, config, custom, lostAgainstCleanRun, tracker, waitFor } from './processes.js';

/**
 * Item 11 of issue 14: the embedded database's folder lock left by a process stopped uncleanly,
 * as in a container, is reclaimed by the next process and its data is intact.
 *  - stale-lock-reused-pid: the process that died was PID 1 and so is the next (a restarted
 *    container), so the lock names the next process's own PID.
 *  - stale-lock-new-hostname: the next process runs under another host name and in another PID
 *    namespace (a recreated container), so it can only watch the dead holder's lease lapse.
 * As root (CI), each process runs in a PID namespace of its own (unshare), as node does in the
 * Docker image. Elsewhere the lock the killed process left is edited into the same state.
 */

const ROWS = 30_000;
const containers = process.getuid?.() === 0 && spawnSync('unshare', ['--pid', '--uts', '--fork', '--mount-proc', 'true']).status === 0;

/** `bubblewatch` as PID 1 of a new PID namespace (and UTS namespace, named `host`), as in a container. */
function inContainer(args: string[], env: Readonly<Record<string, string>>, host: string): Proc {
  const child = spawn(
    'unshare',
    ['--pid', '--uts', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', `hostname "$0" && exec "$@"`, host, process.execPath, ...CHILD_NODE_FLAGS, join(PACKAGE_ROOT, 'bin', 'bubblewatch.js'), ...args],
    { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BUBBLEWATCH_LOG_FORMAT: 'json', ...env }, cwd: PACKAGE_ROOT },
  );
  const proc: Proc = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  child.stdout.on('data', (d) => (proc.stdout += d));
  child.stderr.on('data', (d) => (proc.stderr += d));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return proc;
}

/** Start a run of 30,000 rows and SIGKILL it in the middle of its load: it leaves its lock and a run marked running. */
async function killMidRun(victim: Proc): Promise<void> {
  expect(await waitFor(victim, '"msg":"found 1 source unit(s)', 60_000), victim.stderr.slice(-1000)).toBe(true);
  await sleep(100);
  victim.child.kill('SIGKILL');
  await victim.exited;
  // unshare --kill-child passes the kill on to node; wait until its lease is no longer renewed.
  await sleep(200);
  expect(victim.stderr, 'the run had not finished when the process died').not.toMatch(/run 1 of custom-series succeeded/);
}

function lockLeft(db: TestDatabase): Record<string, unknown> {
  return JSON.parse(readFileSync(lockPathFor(db.openOptions.embeddedDir), 'utf8')) as Record<string, unknown>;
}

/** After recovery: the killed run interrupted, one successful run, and the totals of a clean run. */
async function checkRecovered(db: TestDatabase, dir: string, outcome: { lost: number }): Promise<void> {
  const handle = await db.reopen();
  const runs = await rows<{ status: string; rows_loaded: number }>(handle, 'select status, rows_loaded from etl.runs order by run_id');
  expect(runs).toEqual([
    { status: 'interrupted', rows_loaded: 0 },
    { status: 'succeeded', rows_loaded: ROWS },
  ]);
  const [totals] = await rows(handle, `select (select count(*)::int from raw.custom_series) as raw, (select count(*)::int from core.custom_series) as core`);
  expect(totals).toEqual({ raw: ROWS, core: ROWS });
  outcome.lost = await lostAgainstCleanRun('pglite', db, dir);
}

it('a lock left by a killed PID 1 is reclaimed by the next PID 1 (a restarted container), and its data is intact', async () => {
  const outcome = tracker('stale-lock-reused-pid');
  const db = await useDatabase('pglite');
  await db.close();
  const dir = makeInbox();
  const file = config(dir);
  bigFile(dir, ROWS);
  const args = ['--config', file, 'run', 'custom-series', '--no-preview'];

  if (containers) {
    // A restarted container keeps its host name; its node is PID 1 again.
    await killMidRun(inContainer(args, db.env, hostname()));
    expect(lockLeft(db)).toMatchObject({ pid: 1, host: hostname() });
    outcome.injected = true;
    const next = inContainer(args, db.env, hostname());
    const code = await next.exited;
    expect(code, next.stderr.slice(-1500)).toBe(0);
    const proof = /reclaimed the lock [^"]*db\.lock of process 1 on [^ ]+ \(.*?\): ([^"]*)"/.exec(next.stderr)?.[1];
    expect(proof, next.stderr.slice(-1500)).toMatch(/^(PID 1 is this process now; the lock was written by an earlier process with that PID|its lease was not renewed for 15 s)$/);
    expect(next.stderr).toMatch(/run 1 of custom-series was left running by a process that stopped; marked interrupted/);
    outcome.detail = `PID 1 of a PID namespace SIGKILLed mid-run; PID 1 of the next namespace reclaimed the lock (${proof})`;
  } else {
    // The same state without namespaces: the killed process's lock names this process's PID.
    const victim = bubblewatch(args, db.env);
    await killMidRun(victim);
    const lock = lockLeft(db);
    writeFileSync(lockPathFor(db.openOptions.embeddedDir), JSON.stringify({ ...lock, pid: process.pid }) + '\n');
    outcome.injected = true;
    const handle = await db.reopen();
    expect(await recoverStaleRuns(handle, 10_000)).toHaveLength(1);
    const summary = await runOnce(handle, custom, inboxConfig(custom, join(dir, 'inbox')));
    expect(summary.status, summary.error).toBe('succeeded');
    outcome.detail = `process SIGKILLed mid-run; its lock edited to name this process's PID ${process.pid}; this process reclaimed it`;
  }
  await checkRecovered(db, dir, outcome);
}, 240_000);

it('a lock left by a killed process under another host name is reclaimed once its lease lapses (a recreated container), and its data is intact', async () => {
  const outcome = tracker('stale-lock-new-hostname');
  const db = await useDatabase('pglite');
  await db.close();
  const dir = makeInbox();
  const file = config(dir);
  bigFile(dir, ROWS);
  const args = ['--config', file, 'run', 'custom-series', '--no-preview'];

  if (containers) {
    await killMidRun(inContainer(args, db.env, 'bubblewatch-3f9c2a'));
    expect(lockLeft(db)).toMatchObject({ pid: 1, host: 'bubblewatch-3f9c2a' });
  } else {
    await killMidRun(bubblewatch(args, db.env));
    const lock = lockLeft(db);
    writeFileSync(lockPathFor(db.openOptions.embeddedDir), JSON.stringify({ ...lock, pid: 1, host: 'bubblewatch-3f9c2a', pidNamespace: 'pid:[4026532999]' }) + '\n');
  }
  outcome.injected = true;
  const started = Date.now();
  const next = containers ? inContainer(args, db.env, 'bubblewatch-8d41e7') : bubblewatch(args, db.env);
  const code = await next.exited;
  expect(code, next.stderr.slice(-1500)).toBe(0);
  expect(next.stderr).toContain('in another container or on another host: watching its lease for up to 15 s');
  expect(next.stderr).toMatch(/reclaimed the lock [^"]*db\.lock of process 1 on bubblewatch-3f9c2a \(.*\): its lease was not renewed for 15 s/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(15_000);
  expect(next.stderr).toMatch(/run 1 of custom-series was left running by a process that stopped; marked interrupted/);
  outcome.detail = `${containers ? 'PID 1 of a container named bubblewatch-3f9c2a' : 'a process whose lock was edited to another host and PID namespace'} SIGKILLed mid-run; the next process (${containers ? 'another container' : 'this host'}) reclaimed the lock after its 15 s lease lapsed`;
  await checkRecovered(db, dir, outcome);
}, 240_000);

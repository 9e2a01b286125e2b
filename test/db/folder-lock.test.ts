import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, realpathSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { openDatabase } from '../../src/db/connect.js';
import { acquireFolderLock, lockPathFor } from '../../src/db/folder-lock.js';
import { LockError } from '../../src/errors.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { cliInProcess } from '../helpers/cli.js';
import { makeInbox } from '../helpers/pipelines.js';

/**
 * The embedded database's folder lock: one process at a time, and a lock whose holder is
 * provably gone is reclaimed — also when its PID is ours now (PID 1 in a restarted container)
 * or it was written in another container or host (its lease is watched until it lapses).
 */

/** Cleanup registration: the global onTestFinished, or a concurrent test's own. */
type Cleanup = (fn: () => void) => void;

function folder(cleanup: Cleanup = onTestFinished): string {
  return join(makeInbox(cleanup), 'db');
}

/** What /proc says about a process, read here independently of the code under test. */
function startTicks(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}
const linux = existsSync('/proc/self/stat') && existsSync('/proc/sys/kernel/random/boot_id');
const bootId = linux ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : undefined;
const pidNamespace = linux ? readlinkSync('/proc/self/ns/pid') : undefined;

/** A lock file as a bubblewatch process writes it, from `fields` over a plausible holder. */
function lockFile(dir: string, fields: Record<string, unknown>): string {
  const path = lockPathFor(dir);
  mkdirSync(join(dir, '..'), { recursive: true });
  writeFileSync(
    path,
    JSON.stringify({
      pid: 4242,
      host: hostname(),
      command: 'bubblewatch start',
      acquiredAt: '2026-11-30T06:15:00.000Z',
      token: 'b1f0c2d4-0000-4000-8000-000000000001',
      bootId,
      pidNamespace,
      startTicks: 1000,
      leaseSeconds: 15,
      renewSeconds: 2,
      ...fields,
    }) + '\n',
  );
  return path;
}

/** The lock format of bubblewatch before leases: pid, host, command, time. */
function legacyLockFile(dir: string, pid: number, host = hostname()): string {
  const path = lockPathFor(dir);
  mkdirSync(join(dir, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify({ pid, host, command: 'bubblewatch run --all', acquiredAt: '2026-11-30T06:15:00.000Z' }));
  return path;
}

function ageFile(path: string, seconds: number): void {
  const then = new Date(Date.now() - seconds * 1000);
  utimesSync(path, then, then);
}

/** A node process that takes the lock with the built code and holds it until killed. */
function holder(dir: string, wrap: string[] = [], cleanup: Cleanup = onTestFinished): ChildProcess & { ready: Promise<string> } {
  const script = join(makeInbox(cleanup), 'hold.mjs');
  writeFileSync(
    script,
    `import { acquireFolderLock } from ${JSON.stringify(join(PACKAGE_ROOT, 'dist/src/db/folder-lock.js'))};
const lock = await acquireFolderLock(${JSON.stringify(dir)}, 'holder');
process.stdout.write('held ' + lock.holder.pid + '\\n');
setInterval(() => {}, 60_000);
`,
  );
  const args = [...wrap, process.execPath, script];
  const child = spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { ready: Promise<string> };
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.ready = new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', (code, signal) => reject(new Error(`holder exited (${code ?? signal}) before taking the lock: ${err}`)));
  });
  child.ready.catch(() => {});
  cleanup(() => void child.kill('SIGKILL'));
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

it('takes the lock beside the folder and frees it on release', async () => {
  const dir = folder();
  const lock = await acquireFolderLock(dir, 'test');
  expect(lock.path).toBe(`${dir}.lock`);
  expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid, command: 'test' });
  lock.release();
  expect(existsSync(lock.path)).toBe(false);
});

it('refuses a second opener in the same process', async () => {
  const dir = folder();
  const lock = await acquireFolderLock(dir, 'first');
  try {
    await expect(acquireFolderLock(dir, 'second')).rejects.toThrow(LockError);
    await expect(acquireFolderLock(dir, 'second')).rejects.toThrow(`the embedded database folder ${dir} is in use by this same process ("first"`);
  } finally {
    lock.release();
  }
});

it('refuses while another live process holds it, naming the folder and the holder', async () => {
  const dir = folder();
  const child = spawn('sleep', ['30']);
  onTestFinished(() => void child.kill());
  legacyLockFile(dir, child.pid!);
  await expect(acquireFolderLock(dir, 'test')).rejects.toThrow(
    `the embedded database folder ${dir} is in use by process ${child.pid} on ${hostname()} ("bubblewatch run --all", since 2026-11-30T06:15:00.000Z); only one process may open it at a time.`,
  );
});

it('never reclaims a live lock: a second bubblewatch process holding it is refused at once, and is still the holder after', async () => {
  const dir = folder();
  const child = holder(dir);
  expect(await child.ready).toBe(`held ${child.pid}`);
  const started = Date.now();
  await expect(acquireFolderLock(dir, 'test')).rejects.toThrow(`the embedded database folder ${dir} is in use by process ${child.pid} on ${hostname()} ("holder", since `);
  expect(Date.now() - started, 'a holder in our own PID namespace is checked, not waited for').toBeLessThan(2000);
  expect(JSON.parse(readFileSync(lockPathFor(dir), 'utf8')).pid).toBe(child.pid);
  child.kill('SIGKILL');
  await exited(child);
  const lock = await acquireFolderLock(dir, 'test');
  expect(lock.holder.pid).toBe(process.pid);
  lock.release();
});

it('reclaims a lock whose holder died (a killed process)', async () => {
  const dir = folder();
  const dead = spawnSync('true').pid!;
  legacyLockFile(dir, dead);
  const lock = await acquireFolderLock(dir, 'test');
  expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid);
  lock.release();
});

describe.skipIf(!linux)('PID reuse (Linux: /proc gives process start times)', () => {
  it('reclaims a lock written by PID 1 of an earlier process start: our own PID, another start (a restarted container)', async () => {
    const dir = folder();
    lockFile(dir, { pid: process.pid, startTicks: startTicks('self') - 500, command: 'bubblewatch start' });
    const lock = await acquireFolderLock(dir, 'test');
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid, command: 'test' });
    lock.release();
  });

  it('reclaims an old-format lock (no start time) that holds our own PID: no other live process can have it', async () => {
    const dir = folder();
    legacyLockFile(dir, process.pid);
    const lock = await acquireFolderLock(dir, 'test');
    expect(lock.holder.command).toBe('test');
    lock.release();
  });

  it('reclaims a lock whose PID now belongs to a process that started later', async () => {
    const dir = folder();
    const child = spawn('sleep', ['30']);
    onTestFinished(() => void child.kill());
    await sleep(50);
    lockFile(dir, { pid: child.pid, startTicks: startTicks(child.pid!) - 1 });
    const lock = await acquireFolderLock(dir, 'test');
    expect(lock.holder.pid).toBe(process.pid);
    lock.release();
  });

  it('refuses a lock whose PID is alive with the start time the lock recorded', async () => {
    const dir = folder();
    const child = spawn('sleep', ['30']);
    onTestFinished(() => void child.kill());
    await sleep(50);
    lockFile(dir, { pid: child.pid, startTicks: startTicks(child.pid!) });
    await expect(acquireFolderLock(dir, 'test')).rejects.toThrow(`is in use by process ${child.pid} on ${hostname()} ("bubblewatch start"`);
  });
});

describe('a holder in another container or on another host: its lease', () => {
  const elsewhere = { host: 'bubblewatch-7f3c9a', pidNamespace: 'pid:[4026532999]', pid: 1 };

  it('reclaims a lock from another host whose lease has lapsed: not renewed while watched', async () => {
    const dir = folder();
    const path = lockFile(dir, { ...elsewhere, leaseSeconds: 1 });
    ageFile(path, 600);
    const notices: string[] = [];
    const started = Date.now();
    const lock = await acquireFolderLock(dir, 'test', { notice: (m) => notices.push(m) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(lock.holder.pid).toBe(process.pid);
    expect(notices.join('\n')).toContain(`reclaimed the lock ${path} of process 1 on bubblewatch-7f3c9a ("bubblewatch start", since 2026-11-30T06:15:00.000Z): its lease was not renewed for 1 s`);
    lock.release();
  });

  it('refuses a lock from another host whose lease is fresh, without waiting when told not to', async () => {
    const dir = folder();
    lockFile(dir, elsewhere);
    await expect(acquireFolderLock(dir, 'test', { maxWaitMs: 0 })).rejects.toThrow(
      `the embedded database folder ${dir} is in use by process 1 on bubblewatch-7f3c9a ("bubblewatch start", since 2026-11-30T06:15:00.000Z), in another container or on another host; only one process may open it at a time. ` +
        `Its lease (renewed every 2 s) is reclaimed once it goes 15 s without renewal`,
    );
  });

  it('refuses a lock from another host whose holder keeps renewing its lease', async () => {
    const dir = folder();
    const path = lockFile(dir, { ...elsewhere, leaseSeconds: 3, renewSeconds: 1 });
    const renew = setInterval(() => utimesSync(path, new Date(), new Date()), 300);
    onTestFinished(() => clearInterval(renew));
    await expect(acquireFolderLock(dir, 'test')).rejects.toThrow(/in use by process 1 on bubblewatch-7f3c9a .*its lease was renewed while this process watched it/);
    expect(JSON.parse(readFileSync(path, 'utf8')).host).toBe('bubblewatch-7f3c9a');
  });

  it('refuses an old-format lock from another host, which has no lease to watch', async () => {
    const dir = folder();
    legacyLockFile(dir, 1, 'some-other-host');
    await expect(acquireFolderLock(dir, 'test')).rejects.toThrow(/in use by process 1 on some-other-host .*If that process is gone, delete .*db\.lock/);
  });
});

it('renews its lease while held, from a thread of its own (a busy main thread does not stop it)', async () => {
  const dir = folder();
  const lock = await acquireFolderLock(dir, 'test');
  try {
    ageFile(lock.path, 600);
    const before = statSync(lock.path).mtimeMs;
    const until = Date.now() + 2600;
    while (Date.now() < until) {
      /* block this thread's event loop, as a long PGlite statement does */
    }
    await sleep(200);
    expect(statSync(lock.path).mtimeMs).toBeGreaterThan(before + 500_000);
  } finally {
    lock.release();
  }
});

it('stops a holder at once when its lock is taken over, so two processes never write the folder', async () => {
  const dir = folder();
  const child = holder(dir);
  await child.ready;
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  // Someone removed the lock and another process took the folder: a new file at the lock's name.
  unlinkSync(lockPathFor(dir));
  lockFile(dir, { host: 'bubblewatch-new', pid: 1, pidNamespace: 'pid:[4026532998]' });
  await exited(child);
  expect(child.signalCode).toBe('SIGKILL');
  expect(stderr).toContain(`the lock ${lockPathFor(dir)} was taken over by process 1 on bubblewatch-new; stopping now`);
});

it('refuses an unreadable lock file and says how to clear it', async () => {
  const dir = folder();
  mkdirSync(join(dir, '..'), { recursive: true });
  writeFileSync(lockPathFor(dir), 'garbage');
  await expect(acquireFolderLock(dir, 'test')).rejects.toThrow(`locked by ${dir}.lock, which cannot be read. If no bubblewatch process is using the folder, delete ${dir}.lock and try again.`);
});

it('opens an embedded database folder that is a symbolic link, and locks the folder it points to', async () => {
  const base = makeInbox();
  mkdirSync(join(base, 'volume'));
  cpSync(inject('pgliteMigratedTemplate'), join(base, 'volume', 'data'), { recursive: true });
  symlinkSync(join(base, 'volume', 'data'), join(base, 'db'));
  // As a user runs it (this failed with "bubblewatch: [object Object]"): main, in this process.
  const migrated = await cliInProcess(['migrate'], { BUBBLEWATCH_EMBEDDED_DIR: join(base, 'db') });
  expect(migrated.stderr).toBe('');
  expect(migrated).toMatchObject({ code: 0, stdout: expect.stringContaining(`pglite database at ${realpathSync(join(base, 'volume', 'data'))} is up to date`) as unknown });

  const handle = await openDatabase({ embeddedDir: join(base, 'db'), command: 'test' });
  try {
    const { rows } = await handle.withConnection((c) => c.query<{ n: number }>('select count(*)::int as n from etl.schema_migrations'));
    expect(rows[0]!.n).toBeGreaterThan(10);
    expect(handle.location).toBe(realpathSync(join(base, 'volume', 'data')));
    expect(existsSync(join(base, 'volume', 'data.lock'))).toBe(true);
    // The same folder through its real path is the same lock.
    await expect(openDatabase({ embeddedDir: join(base, 'volume', 'data'), command: 'second' })).rejects.toThrow(/is in use by this same process \("test"/);
  } finally {
    await handle.close();
  }
});

it('says what is wrong when the embedded database folder is a link to nothing', async () => {
  const base = makeInbox();
  symlinkSync(join(base, 'missing', 'data'), join(base, 'db'));
  await expect(openDatabase({ embeddedDir: join(base, 'db'), command: 'test' })).rejects.toThrow(
    `the embedded database folder ${join(base, 'db')} is a symbolic link to ${join(base, 'missing', 'data')}, which does not exist; create that folder or point BUBBLEWATCH_EMBEDDED_DIR elsewhere`,
  );
});

const root = process.getuid?.() === 0 && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;

// Each case mostly waits for a lease to lapse (15 s): they wait at the same time. Their folders
// and holders are their own; cleanups go through each test's context (`onTestFinished` below).
describe.skipIf(!root)('in PID namespaces, as in containers (unshare, as root)', { concurrent: true }, () => {
  it('PID 1 of a killed container is reclaimed by PID 1 of the next one', async ({ onTestFinished, expect }) => {
    const dir = folder(onTestFinished);
    const first = holder(dir, ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'], onTestFinished);
    expect(await first.ready).toBe('held 1');
    first.kill('SIGKILL');
    await exited(first);
    const second = holder(dir, ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'], onTestFinished);
    // Immediately when the kernel gave the new container the dead one's namespace id; else once the lease lapses.
    expect(await second.ready).toBe('held 1');
  }, 40_000);

  it('a live holder in another container is refused; once it is killed, its lease lapses and the lock is reclaimed', async ({ onTestFinished, expect }) => {
    const dir = folder(onTestFinished);
    const other = holder(dir, ['unshare', '--pid', '--uts', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', 'hostname bubblewatch-other && exec "$@"', 'sh'], onTestFinished);
    expect(await other.ready).toBe('held 1');
    await expect(acquireFolderLock(dir, 'test')).rejects.toThrow(/in use by process 1 on bubblewatch-other .*its lease was renewed while this process watched it/);
    other.kill('SIGKILL');
    await exited(other);
    const lock = await acquireFolderLock(dir, 'test');
    expect(lock.holder.pid).toBe(process.pid);
    lock.release();
  }, 60_000);
});

import { randomUUID } from 'node:crypto';
import { closeSync, fstatSync, futimesSync, linkSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { LockError } from '../errors.js';

/**
 * PGlite keeps no lock on its data folder, and two processes writing to one folder corrupt
 * it. This lock file, beside the folder, makes the embedded database single-process: a second
 * opener is refused with the holder's pid, host and command.
 *
 * Why a lock file and not an OS lock: Node 20 has no flock() or fcntl() locks, and the native
 * addons that add them are not kept up. A lock file alone cannot prove that its holder lives,
 * so it records a start-time token and carries a lease:
 *
 *  - Where the holder's PIDs are ours to check (same boot id and PID namespace, read from
 *    /proc), the holder is alive only if its PID runs with the start time the lock recorded.
 *    A lock holding our own PID, written by another process start, is stale: that is PID 1 of
 *    a container restarted after an unclean stop. So is a PID that now belongs to a process
 *    started later. Elsewhere (no /proc) the host name and a signal-0 probe stand in.
 *  - A holder in another PID namespace (another container) or on another host cannot be
 *    checked. Its lease is its liveness: a holder renews the lock file's modification time
 *    every RENEW_SECONDS from a thread of its own (a long PGlite statement blocks the main
 *    thread), and a lock is reclaimed only after this process has watched it go LEASE_SECONDS
 *    without renewal. Watching on our own clock, rather than comparing the file's time with
 *    ours, keeps clock skew between hosts and suspended machines from making a live lease
 *    look old.
 *  - A holder frozen for longer than its lease (docker pause, SIGSTOP) loses its lock. When it
 *    runs again its renewal thread sees that the lock is no longer its own file and kills the
 *    process at once, before it writes beside the new holder.
 *
 * The lock is taken atomically (write a private file, then hard-link it to the lock name, which
 * fails if the name exists). A stale lock is moved aside with rename (only one claimant can
 * win) and the moved file is checked to be the one judged stale.
 */

/** How often a holder renews its lease, and how long a lease lasts without renewal. */
export const RENEW_SECONDS = 2;
export const LEASE_SECONDS = 15;

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  readonly acquiredAt: string;
  /** Random per process: tells this process from another that has (had) its PID. */
  readonly token?: string | undefined;
  /** /proc/sys/kernel/random/boot_id, /proc/self/ns/pid and field 22 of /proc/self/stat (Linux). */
  readonly bootId?: string | undefined;
  readonly pidNamespace?: string | undefined;
  readonly startTicks?: number | undefined;
  readonly leaseSeconds?: number | undefined;
  readonly renewSeconds?: number | undefined;
}

export interface FolderLock {
  readonly path: string;
  readonly holder: LockHolder;
  release(): void;
}

export interface AcquireOptions {
  /**
   * The longest to watch the lease of a holder that cannot be checked (another container or
   * host) before refusing; default: as long as its lease. 0 refuses at once.
   */
  readonly maxWaitMs?: number;
  /** Told when the lock must be waited for, and when a stale lock was reclaimed. */
  readonly notice?: (message: string) => void;
}

// One token and one registry per process, even if this module is loaded twice (tests, bundles).
const shared = ((globalThis as Record<symbol, unknown>)[Symbol.for('bubblewatch.folder-lock')] ??= {
  token: randomUUID(),
  held: new Map<string, () => void>(),
  exitHook: false,
}) as { token: string; held: Map<string, () => void>; exitHook: boolean };

export function lockPathFor(folder: string): string {
  return `${folder.replace(/[\\/]+$/, '')}.lock`;
}

/** This process as a lock records it. */
function currentProcess(): LockHolder & { readonly token: string } {
  const proc = procIdentity();
  return {
    pid: process.pid,
    host: hostname(),
    command: '',
    acquiredAt: '',
    token: shared.token,
    ...proc,
    leaseSeconds: LEASE_SECONDS,
    renewSeconds: RENEW_SECONDS,
  };
}

export async function acquireFolderLock(folder: string, command: string, options: AcquireOptions = {}): Promise<FolderLock> {
  const path = lockPathFor(folder);
  mkdirSync(dirname(path), { recursive: true });
  const self = currentProcess();
  const holder: LockHolder = { ...self, command, acquiredAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 10; attempt++) {
    const taken = tryLink(path, holder);
    if (taken !== undefined) return makeLock(path, holder, taken);
    const seen = readLock(path);
    if (seen === undefined) continue; // vanished between link and read: try again
    if (seen === 'unreadable') throw new LockError(describeRefusal(folder, path, 'unreadable'));
    const verdict = judge(seen.holder, self, path);
    if (verdict.kind === 'live') throw new LockError(describeRefusal(folder, path, seen.holder, verdict.why));
    let reason = verdict.kind === 'stale' ? verdict.why : '';
    if (verdict.kind === 'lease') {
      const leaseMs = verdict.leaseSeconds * 1000;
      const maxWaitMs = options.maxWaitMs ?? leaseMs;
      if (maxWaitMs < leaseMs) throw new LockError(describeRefusal(folder, path, seen.holder, 'lease'));
      options.notice?.(
        `the embedded database folder ${folder} is locked by process ${seen.holder.pid} on ${seen.holder.host} ("${seen.holder.command}"), ` +
          `in another container or on another host: watching its lease for up to ${verdict.leaseSeconds} s`,
      );
      const outcome = await watchLease(path, seen, leaseMs);
      if (outcome === 'renewed') throw new LockError(describeRefusal(folder, path, seen.holder, 'renewed'));
      if (outcome === 'changed') continue; // another lock file now: judge it afresh
      reason = `its lease was not renewed for ${verdict.leaseSeconds} s`;
    }
    if (reclaim(path, seen.ino)) {
      options.notice?.(`reclaimed the lock ${path} of process ${seen.holder.pid} on ${seen.holder.host} ("${seen.holder.command}", since ${seen.holder.acquiredAt}): ${reason}`);
    }
  }
  throw new LockError(`could not take the lock ${path} on the embedded database folder ${folder}: it keeps changing hands`);
}

// ---------------------------------------------------------------- who holds it, and do they live

type Verdict =
  | { readonly kind: 'stale'; readonly why: string }
  | { readonly kind: 'live'; readonly why: 'same-process' | 'running' | 'legacy-elsewhere' }
  | { readonly kind: 'lease'; readonly leaseSeconds: number };

function judge(holder: LockHolder, self: LockHolder & { token: string }, path: string): Verdict {
  if (holder.token === undefined) return judgeLegacy(holder, self, path);
  if (holder.token === self.token) return { kind: 'live', why: 'same-process' };
  if (!samePidSpace(holder, self)) {
    return { kind: 'lease', leaseSeconds: clamp(holder.leaseSeconds ?? LEASE_SECONDS, 1, 600) };
  }
  // The holder's PIDs are ours: a live PID is unique, so a lock with ours came from another start.
  if (holder.pid === self.pid) return { kind: 'stale', why: `PID ${holder.pid} is this process now; the lock was written by an earlier process with that PID` };
  if (!processExists(holder.pid)) return { kind: 'stale', why: `process ${holder.pid} is gone` };
  const started = startTicksOf(holder.pid);
  if (started !== undefined && holder.startTicks !== undefined && started !== holder.startTicks) {
    return { kind: 'stale', why: `PID ${holder.pid} now belongs to a process started later than the lock's holder` };
  }
  return { kind: 'live', why: 'running' };
}

/** A lock written before leases (pid, host, command, time): only a holder on this host can be checked. */
function judgeLegacy(holder: LockHolder, self: LockHolder, path: string): Verdict {
  if (holder.host !== self.host) return { kind: 'live', why: 'legacy-elsewhere' };
  if (holder.pid === self.pid) {
    return shared.held.has(path) ? { kind: 'live', why: 'same-process' } : { kind: 'stale', why: `PID ${holder.pid} is this process now` };
  }
  return processExists(holder.pid) ? { kind: 'live', why: 'running' } : { kind: 'stale', why: `process ${holder.pid} is gone` };
}

/** Whether `holder`'s PIDs mean the same processes as ours: same kernel boot and PID namespace. */
function samePidSpace(holder: LockHolder, self: LockHolder): boolean {
  if (holder.pidNamespace !== undefined || self.pidNamespace !== undefined) {
    return holder.pidNamespace === self.pidNamespace && holder.bootId !== undefined && holder.bootId === self.bootId;
  }
  // Neither side has /proc (macOS, Windows): no containers there; the host name stands in.
  return holder.host === self.host && holder.bootId === self.bootId;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function clamp(n: number, low: number, high: number): number {
  return Number.isFinite(n) ? Math.min(high, Math.max(low, n)) : low;
}

/** Field 22 of /proc/<pid>/stat: the process's start time in clock ticks after boot. */
function startTicksOf(pid: number | 'self'): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isSafeInteger(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

function procIdentity(): Pick<LockHolder, 'bootId' | 'pidNamespace' | 'startTicks'> {
  let bootId: string | undefined;
  try {
    bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return {};
  }
  try {
    // /proc may belong to another PID namespace than ours (unshare without --mount-proc): then
    // its PIDs are not ours to check, and only the lease can tell.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    if (Number(stat.slice(0, stat.indexOf(' '))) !== process.pid) return { bootId, pidNamespace: `unverifiable:${randomUUID()}` };
    return { bootId, pidNamespace: readlinkSync('/proc/self/ns/pid'), startTicks: startTicksOf('self') };
  } catch {
    return { bootId, pidNamespace: `unverifiable:${randomUUID()}` };
  }
}

// ---------------------------------------------------------------- the lock file

interface SeenLock {
  readonly holder: LockHolder;
  readonly ino: bigint;
  readonly mtimeNs: bigint;
}

/** Write our holder record to a private file and link it to the lock name; the open descriptor, or undefined if taken. */
function tryLink(path: string, holder: LockHolder): number | undefined {
  const temp = `${path}.${randomUUID()}.tmp`;
  const fd = openSync(temp, 'wx');
  let linked = false;
  try {
    writeSync(fd, JSON.stringify(holder) + '\n');
    linkSync(temp, path);
    linked = true;
    return fd;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw error;
  } finally {
    if (!linked) closeSync(fd);
    unlinkSync(temp);
  }
}

function readLock(path: string): SeenLock | 'unreadable' | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return 'unreadable';
  }
  try {
    // The identity and the text come from the same open file, so they belong together.
    const stat = fstatSync(fd, { bigint: true });
    const holder = parseHolder(readFileSync(fd, 'utf8'));
    return holder ? { holder, ino: stat.ino, mtimeNs: stat.mtimeNs } : 'unreadable';
  } catch {
    return 'unreadable';
  } finally {
    closeSync(fd);
  }
}

function parseHolder(text: string): LockHolder | undefined {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return undefined;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  return {
    pid: parsed.pid,
    host: parsed.host,
    command: String(parsed.command ?? '?'),
    acquiredAt: String(parsed.acquiredAt ?? '?'),
    token: str(parsed.token),
    bootId: str(parsed.bootId),
    pidNamespace: str(parsed.pidNamespace),
    startTicks: num(parsed.startTicks),
    leaseSeconds: num(parsed.leaseSeconds),
    renewSeconds: num(parsed.renewSeconds),
  };
}

/**
 * Watch the lock file for `leaseMs` on our own clock: 'renewed' when its holder touched it
 * (alive), 'changed' when it is another file or gone, 'lapsed' when nothing happened.
 */
async function watchLease(path: string, seen: SeenLock, leaseMs: number): Promise<'renewed' | 'changed' | 'lapsed'> {
  const start = performance.now();
  for (;;) {
    const left = leaseMs - (performance.now() - start);
    if (left <= 0) return 'lapsed';
    await sleep(Math.min(250, left));
    let stat;
    try {
      stat = statSync(path, { bigint: true });
    } catch {
      return 'changed';
    }
    if (stat.ino !== seen.ino) return 'changed';
    if (stat.mtimeNs !== seen.mtimeNs) return 'renewed';
  }
}

/** Move a stale lock aside; true when the file moved is the one judged stale (else it is put back). */
function reclaim(path: string, staleIno: bigint): boolean {
  const aside = `${path}.stale-${randomUUID()}`;
  try {
    renameSync(path, aside);
  } catch {
    return false; // someone else moved it; look again
  }
  try {
    if (statSync(aside, { bigint: true }).ino === staleIno) return true;
    // Between our look and our rename, another process reclaimed it and took the lock: give it back.
    try {
      linkSync(aside, path);
    } catch {
      /* a third one took the name meanwhile; the holder whose file this is will see that and stop */
    }
    return false;
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      /* already gone */
    }
  }
}

type Refusal = (Verdict & { kind: 'live' })['why'] | 'lease' | 'renewed';

function describeRefusal(folder: string, path: string, holder: LockHolder | 'unreadable', why?: Refusal): string {
  if (holder === 'unreadable') {
    return (
      `the embedded database folder ${folder} is locked by ${path}, which cannot be read. ` +
      `If no bubblewatch process is using the folder, delete ${path} and try again.`
    );
  }
  const since = `("${holder.command}", since ${holder.acquiredAt})`;
  const alternatives = `Wait for that process to finish or stop it, or use a PostgreSQL server (DATABASE_URL) for concurrent access.`;
  switch (why) {
    case 'same-process':
      return `the embedded database folder ${folder} is in use by this same process ${since}; only one process may open it at a time. ${alternatives}`;
    case 'legacy-elsewhere':
      return (
        `the embedded database folder ${folder} is in use by process ${holder.pid} on ${holder.host} ${since}; only one process may open it at a time. ` +
        `Its lock was written by an older bubblewatch, which renews no lease, so this process cannot tell whether it is still running. ` +
        `If that process is gone, delete ${path} and try again.`
      );
    case 'lease':
    case 'renewed': {
      const lease = clamp(holder.leaseSeconds ?? LEASE_SECONDS, 1, 600);
      const renew = holder.renewSeconds ?? RENEW_SECONDS;
      return (
        `the embedded database folder ${folder} is in use by process ${holder.pid} on ${holder.host} ${since}, in another container or on another host; ` +
        `only one process may open it at a time. Its lease (renewed every ${renew} s) is reclaimed once it goes ${lease} s without renewal` +
        (why === 'renewed' ? `, and its lease was renewed while this process watched it: that process is running. ` : `; try again then. `) +
        alternatives
      );
    }
    default:
      return `the embedded database folder ${folder} is in use by process ${holder.pid} on ${holder.host} ${since}; only one process may open it at a time. ${alternatives}`;
  }
}

// ---------------------------------------------------------------- holding it

/**
 * The renewal thread. It touches the lock through our open descriptor (our file, whatever is
 * at the name) after checking that the name is still our file. If another file holds the name,
 * another process has taken the folder (our lease lapsed while this process was frozen): it
 * kills the process at once, since the main thread may be in the middle of writing.
 */
const RENEWER = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { fd, path, ino, renewMs, released } = workerData;
const isReleased = () => Atomics.load(released, 0) === 1;
setInterval(() => {
  if (isReleased()) return;
  let stat;
  try {
    stat = fs.statSync(path, { bigint: true });
  } catch {
    return; // removed by hand: nothing to compare with; keep holding the folder
  }
  // Released meanwhile (and perhaps taken again by this very process): not a takeover.
  if (isReleased()) return;
  if (String(stat.ino) !== ino) {
    let who = 'another process';
    try {
      const h = JSON.parse(fs.readFileSync(path, 'utf8'));
      who = 'process ' + h.pid + ' on ' + h.host;
    } catch {}
    fs.writeSync(2, 'bubblewatch: the lock ' + path + ' was taken over by ' + who + '; stopping now so that two processes never write the embedded database\\n');
    process.kill(process.pid, 'SIGKILL');
    return;
  }
  const now = new Date();
  try { fs.futimesSync(fd, now, now); } catch {}
}, renewMs);
`;

function makeLock(path: string, holder: LockHolder, fd: number): FolderLock {
  const ino = fstatSync(fd, { bigint: true }).ino;
  // Set before the lock file goes, so that the renewal thread never takes our own release
  // (and a new lock at the name) for a takeover.
  const releasedFlag = new Int32Array(new SharedArrayBuffer(4));
  const renewer = new Worker(RENEWER, {
    eval: true,
    // The script is CommonJS; without this a parent started with --input-type=module runs it as ESM.
    execArgv: [],
    workerData: { fd, path, ino: String(ino), renewMs: RENEW_SECONDS * 1000, released: releasedFlag },
  });
  renewer.unref();
  let fallback: NodeJS.Timeout | undefined;
  renewer.on('error', () => {
    // The thread could not run (or died): renew from the main thread, which a long statement
    // can delay, rather than let the lease lapse while the folder is in use.
    fallback = setInterval(() => {
      if (released) return;
      try {
        if (statSync(path, { bigint: true }).ino === ino) futimesSync(fd, new Date(), new Date());
      } catch {
        /* removed by hand */
      }
    }, RENEW_SECONDS * 1000);
    fallback.unref();
  });
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    Atomics.store(releasedFlag, 0, 1);
    if (fallback) clearInterval(fallback);
    shared.held.delete(path);
    try {
      if (statSync(path, { bigint: true }).ino === ino) unlinkSync(path);
    } catch {
      /* already gone */
    }
    // The descriptor is closed only once the thread has stopped: a number closed under it could
    // be reused for another file, which it would then touch.
    void renewer.terminate().finally(() => {
      try {
        closeSync(fd);
      } catch {
        /* closed at exit */
      }
    });
  };
  shared.held.set(path, release);
  if (!shared.exitHook) {
    shared.exitHook = true;
    // If the process exits without closing the database (an uncaught error), still free the lock.
    process.on('exit', () => {
      for (const release of [...shared.held.values()]) release();
    });
  }
  return { path, holder, release };
}

import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { LockError } from '../errors.js';

/**
 * PGlite keeps no lock on its data folder, and two processes writing to one folder
 * corrupt it. This lock file, beside the folder, makes the embedded database
 * single-process: a second opener is refused with the holder's pid and command.
 *
 * The lock is taken atomically (write a private temp file, then hard-link it to the lock
 * name, which fails if the name exists). A lock whose holder is a dead process on this
 * host is stale: it is moved aside with rename (only one claimant can win that) and taken.
 */

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  readonly acquiredAt: string;
}

export interface FolderLock {
  readonly path: string;
  readonly holder: LockHolder;
  release(): void;
}

const exitHandlers = new Map<string, () => void>();

export function lockPathFor(folder: string): string {
  return `${folder.replace(/[\\/]+$/, '')}.lock`;
}

export function acquireFolderLock(folder: string, command: string): FolderLock {
  const path = lockPathFor(folder);
  mkdirSync(dirname(path), { recursive: true });
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    command,
    acquiredAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryLink(path, holder)) return makeLock(path, holder);
    const current = readHolder(path);
    if (current === undefined) continue; // vanished between link and read: try again
    if (current === 'unreadable' || !isStale(current)) {
      throw new LockError(describeRefusal(folder, path, current));
    }
    // Stale: move it aside. If another process reclaims it first, our rename fails and we retry.
    try {
      renameSync(path, `${path}.stale-${process.pid}`);
      unlinkSync(`${path}.stale-${process.pid}`);
    } catch {
      /* someone else moved it; loop and look again */
    }
  }
  throw new LockError(`could not take the lock ${path} on the embedded database folder ${folder}: it keeps changing hands`);
}

function tryLink(path: string, holder: LockHolder): boolean {
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(temp, 'wx');
  try {
    writeSync(fd, JSON.stringify(holder) + '\n');
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temp);
  }
}

function readHolder(path: string): LockHolder | 'unreadable' | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return 'unreadable';
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return 'unreadable';
    return {
      pid: parsed.pid,
      host: parsed.host,
      command: String(parsed.command ?? '?'),
      acquiredAt: String(parsed.acquiredAt ?? '?'),
    };
  } catch {
    return 'unreadable';
  }
}

/** A holder is stale only when we can prove it: same host and the process is gone. */
function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function describeRefusal(folder: string, path: string, holder: LockHolder | 'unreadable'): string {
  if (holder === 'unreadable') {
    return (
      `the embedded database folder ${folder} is locked by ${path}, which cannot be read. ` +
      `If no bubblewatch process is using the folder, delete ${path} and try again.`
    );
  }
  const who = holder.pid === process.pid ? 'this same process' : `process ${holder.pid} on ${holder.host}`;
  return (
    `the embedded database folder ${folder} is in use by ${who} ` +
    `("${holder.command}", since ${holder.acquiredAt}); only one process may open it at a time. ` +
    `Wait for that process to finish or stop it, or use a PostgreSQL server (DATABASE_URL) for concurrent access.`
  );
}

function makeLock(path: string, holder: LockHolder): FolderLock {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    exitHandlers.delete(path);
    const current = readHolder(path);
    if (current !== undefined && current !== 'unreadable' && current.pid === holder.pid && current.acquiredAt === holder.acquiredAt) {
      try {
        unlinkSync(path);
      } catch {
        /* already gone */
      }
    }
  };
  exitHandlers.set(path, release);
  return { path, holder, release };
}

// If the process exits without closing the database (an uncaught error), still free the lock.
process.on('exit', () => {
  for (const release of [...exitHandlers.values()]) release();
});

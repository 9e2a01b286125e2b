import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { acquireFolderLock, lockPathFor } from '../../src/db/folder-lock.js';
import { LockError } from '../../src/errors.js';
import { makeInbox } from '../helpers/pipelines.js';

function folder(): string {
  return join(makeInbox(), 'db');
}

function holderFile(path: string, pid: number, host = hostname()): void {
  writeFileSync(lockPathFor(path), JSON.stringify({ pid, host, command: 'bubblewatch run --all', acquiredAt: '2026-11-30T06:15:00.000Z' }));
}

it('takes the lock beside the folder and frees it on release', () => {
  const dir = folder();
  const lock = acquireFolderLock(dir, 'test');
  expect(lock.path).toBe(`${dir}.lock`);
  expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid, command: 'test' });
  lock.release();
  expect(existsSync(lock.path)).toBe(false);
});

it('refuses a second opener in the same process', () => {
  const dir = folder();
  const lock = acquireFolderLock(dir, 'first');
  try {
    expect(() => acquireFolderLock(dir, 'second')).toThrow(LockError);
    expect(() => acquireFolderLock(dir, 'second')).toThrow(`the embedded database folder ${dir} is in use by this same process ("first"`);
  } finally {
    lock.release();
  }
});

it('refuses while another live process holds it, naming the folder and the holder', () => {
  const dir = folder();
  const child = spawn('sleep', ['30']);
  onTestFinished(() => void child.kill());
  holderFile(dir, child.pid!);
  expect(() => acquireFolderLock(dir, 'test')).toThrow(
    `the embedded database folder ${dir} is in use by process ${child.pid} on ${hostname()} ("bubblewatch run --all", since 2026-11-30T06:15:00.000Z); only one process may open it at a time.`,
  );
});

it('reclaims a lock whose holder died (a killed process)', () => {
  const dir = folder();
  const dead = spawnSync('true').pid!;
  holderFile(dir, dead);
  const lock = acquireFolderLock(dir, 'test');
  expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid);
  lock.release();
});

it('does not reclaim a lock held from another host: it cannot tell whether that process lives', () => {
  const dir = folder();
  holderFile(dir, 1, 'some-other-host');
  expect(() => acquireFolderLock(dir, 'test')).toThrow(/in use by process 1 on some-other-host/);
});

it('refuses an unreadable lock file and says how to clear it', () => {
  const dir = folder();
  writeFileSync(lockPathFor(dir), 'garbage');
  expect(() => acquireFolderLock(dir, 'test')).toThrow(`locked by ${dir}.lock, which cannot be read. If no bubblewatch process is using the folder, delete ${dir}.lock and try again.`);
});

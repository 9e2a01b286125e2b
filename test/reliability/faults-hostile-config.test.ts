import { cpSync, existsSync, mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect, inject, it, onTestFinished } from 'vitest';
import { webhookNotifier, type Notification } from '../../src/alerts/notify.js';
import type { AlertRule } from '../../src/alerts/rules.js';
import { cli } from '../helpers/cli.js';
import { makeInbox, memoryLogger } from '../helpers/pipelines.js';
import { tracker } from './processes.js';

/**
 * Issue 14, items 13 and 17: settings a user really writes that used to leak a secret or break
 * the CLI. A DATABASE_URL whose password holds `@` or spaces was printed (cut at its first `@`,
 * or not redacted at all) in errors, trace logs and `sql` output; a webhook token in the query
 * of a URL without a path was logged; an embedded database folder that is a symbolic link (a
 * mounted volume) failed with "bubblewatch: [object Object]". Each is recovered from when the
 * command does its job, or fails with a clear message, and no part of the secret is printed.
 */

it.each([
  { id: 'dsn-password-with-at' as const, url: 'postgres://bw:hunter2@SECRETTAIL@127.0.0.1:1/warehouse', secrets: ['hunter2', 'SECRETTAIL'] },
  { id: 'dsn-password-with-spaces' as const, url: 'postgres://bw:my secret pw@127.0.0.1:1/warehouse', secrets: ['my secret pw', 'secret'] },
])('$id: run --all and sql print the server without any part of the password', async ({ id, url, secrets }) => {
  const outcome = tracker(id);
  const run = await cli(['run', '--all'], { DATABASE_URL: url, LOG_LEVEL: 'trace' });
  const sql = await cli(['sql'], { DATABASE_URL: url });
  outcome.injected = true;
  const printed = run.stdout + run.stderr + sql.stdout + sql.stderr;
  outcome.detail = `DATABASE_URL with a password holding ${id.endsWith('at') ? '@' : 'spaces'}; run --all exited ${run.code}`;
  expect(run.code, 'nothing listens on port 1: the run fails').toBe(1);
  expect(run.stderr).toContain('cannot connect to PostgreSQL at postgres://bw:***@127.0.0.1:1/warehouse');
  expect(sql.stdout).toContain('DATABASE_URL points at a PostgreSQL server (postgres://bw:***@127.0.0.1:1/warehouse)');
  for (const secret of secrets) expect(printed, `no output holds "${secret}"`).not.toContain(secret);
  outcome.detail += '; the error and `sql` name postgres://bw:***@127.0.0.1:1/warehouse, and no output holds the password';
});

it('webhook-token-pathless-url: a webhook that answers 500 is logged without the token of its URL', async () => {
  const outcome = tracker('webhook-token-pathless-url');
  const server = createServer((_, res) => res.writeHead(500).end('down'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const { logger, lines } = memoryLogger();
  const notifier = webhookNotifier({ url: `http://127.0.0.1:${port}?token=SECRETTOKEN`, maxAttempts: 1, timeoutMs: 5000, logger });
  const rule = { id: 'buffett_indicator_above_200', severity: 'warning', indicator: 'buffett_indicator_pct', threshold: 200 } as unknown as AlertRule;
  const notification: Notification = { rule, subject: 'US', state: 'firing', period: '2025-09-30', value: 218, message: 'Buffett indicator at 218%', repeat: false };
  const result = await notifier.send(notification);
  outcome.injected = true;
  outcome.detail = `posted to http://127.0.0.1:${port}?token=… answering 500; outcome ${result.outcome}`;
  expect(result).toMatchObject({ outcome: 'failed', status: 500 });
  const printed = JSON.stringify(lines) + JSON.stringify(result);
  expect(printed).toContain(`alert webhook at http://127.0.0.1:${port}`);
  expect(printed).not.toContain('SECRETTOKEN');
  outcome.detail += '; the log and the delivery result name the host without the token';
});

it('embedded-folder-symlink: an embedded database folder that is a symbolic link opens, locked at the folder it points to', async () => {
  const outcome = tracker('embedded-folder-symlink');
  const base = makeInbox();
  mkdirSync(join(base, 'volume'));
  cpSync(inject('pgliteMigratedTemplate'), join(base, 'volume', 'data'), { recursive: true });
  symlinkSync(join(base, 'volume', 'data'), join(base, 'db'));
  const status = await cli(['migrate'], { BUBBLEWATCH_EMBEDDED_DIR: join(base, 'db') });
  outcome.injected = true;
  outcome.detail = `BUBBLEWATCH_EMBEDDED_DIR is a link to ${join(base, 'volume', 'data')}; migrate exited ${status.code}`;
  expect(status.stderr, 'no error, and never "[object Object]"').toBe('');
  expect(status.code).toBe(0);
  expect(status.stdout).toContain(`pglite database at ${realpathSync(join(base, 'volume', 'data'))} is up to date`);
  expect(existsSync(join(base, 'volume', 'data.lock')), 'the lock was taken beside the real folder (and released)').toBe(false);
  outcome.detail += '; it opened the folder the link points to and said it is up to date';
});

import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { bubblewatch, cli, type Proc } from '../helpers/cli.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { makeInbox, rows, writeFile } from '../helpers/pipelines.js';
import { ENDLESS_BOUND, startReceiver, type Receiver } from '../alerts/receiver.js';
import { tracker } from './processes.js';

/**
 * Issue 14, items 9 and 12, through real `bubblewatch` processes. The alert is the bundled
 * `buffett_indicator_above_200` on the bundled FRED sample (US equities at 218% of GDP):
 *  - the webhook is down when the alert fires (PGlite: it answers 500; PostgreSQL: nothing
 *    listens). After it comes back, the scheduler delivers the notification with no new data and
 *    no run, exactly once (on PostgreSQL with two scheduler processes sharing the database);
 *  - the webhook answers with a body that never ends: the run reads a bounded part of it, closes
 *    it, and finishes.
 */

function setup(webhook = ''): { dir: string; config: string } {
  const dir = makeInbox();
  cpSync(join(PACKAGE_ROOT, 'data', 'sample', 'fred'), join(dir, 'fred'), { recursive: true });
  const config = writeFile(
    dir,
    'bubblewatch.yaml',
    `log: { level: debug }
alerts:
  webhook: { max_attempts: 2, timeout_ms: 10000, retry_base_seconds: 1, retry_max_seconds: 2${webhook} }
  rules:
    - id: buffett_indicator_above_200
      indicator: buffett_indicator_pct
      subject: US
      op: ">"
      threshold: 200
      recover_below: 180
      severity: warning
      message: "US equities are {value}% of GDP in {period}, above {threshold}%"
pipelines:
  fred:
    schedule: { cron: "0 8 1 1 *", timezone: UTC }
    sources: [{ path: ./fred, pattern: "*.csv" }]
    options:
      series:
        GDP: { unit: USD, scale: billions }
        NCBEILQ027S: { unit: USD, scale: millions }
`,
  );
  return { dir, config };
}

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function until(what: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!what() && Date.now() < deadline) await sleep(50);
  return what();
}

describeEachDatabase('the webhook is down when an alert fires', (kind) => {
  it('delivers the notification exactly once after the webhook comes back, with no new data', async () => {
    const outcome = tracker(kind === 'pglite' ? 'webhook-down-when-alert-fires-pglite' : 'webhook-down-when-alert-fires-postgres');
    const db = await useDatabase(kind);
    await db.close();
    const { config } = setup();
    receiver = await startReceiver([], 500);
    const port = new URL(receiver.url).port;
    if (kind === 'postgres') await receiver.close(); // down: nothing listens on the port
    const env = { ...db.env, BUBBLEWATCH_ALERT_WEBHOOK: receiver.url };

    const run = await cli(['--config', config, 'run', 'fred', '--no-preview'], env);
    expect(run.code, run.stderr.slice(-1500)).toBe(0);
    expect(run.stderr).toMatch(/ALERT WARNING buffett_indicator_above_200 firing for US/);
    expect(run.stderr).toMatch(/alert buffett_indicator_above_200 for US: firing notification \([0-9-]+\) not delivered \((HTTP 500|connect ECONNREFUSED|no answer within the timeout)/);
    expect(receiver.delivered()).toEqual([]);
    outcome.injected = true;
    outcome.detail = kind === 'pglite' ? 'the webhook answered 500 when the alert fired' : 'nothing listened at the webhook when the alert fired';

    const open = await cli(['--config', config, 'alerts'], env);
    expect(open.stdout).toMatch(/buffett_indicator_above_200\s+US\s+.*undelivered: 1 attempt, last (HTTP 500|ECONNREFUSED|no answer within the timeout), next try \d{4}-\d\d-\d\d \d\d:\d\dZ/);

    // The webhook comes back (on PostgreSQL at the same address); schedulers start with no
    // initial run and no tick due: only their delivery timers can deliver it.
    if (kind === 'postgres') receiver = await startReceiver([], 200, Number(port));
    else receiver.fallback = 200;
    const back = { ...db.env, BUBBLEWATCH_ALERT_WEBHOOK: receiver.url };
    const schedulers: Proc[] = (kind === 'postgres' ? [1, 2] : [1]).map(() => bubblewatch(['--config', config, 'start', '--no-initial-run'], back));
    try {
      expect(await until(() => receiver!.delivered().length > 0, 45_000), schedulers.map((s) => s.stderr.slice(-1500)).join('\n')).toBe(true);
      // Several more delivery passes in each process: nothing is posted again.
      await sleep(3500);
    } finally {
      for (const s of schedulers) s.child.kill('SIGINT');
      await Promise.all(schedulers.map((s) => s.exited));
    }
    expect(receiver.delivered()).toHaveLength(1);
    expect(receiver.delivered()[0]).toMatchObject({ rule: 'buffett_indicator_above_200', subject: 'US', state: 'firing', repeat: false });
    expect(String(receiver.delivered()[0]!.text)).toMatch(/^:warning: Firing \[warning\] buffett_indicator_above_200 — US: US equities are [\d.]+% of GDP/);

    const handle = await db.reopen();
    const [event] = await rows<{ delivery: string; notified_at: Date | null }>(
      handle,
      `select delivery, notified_at from analytics.alert_history where rule_id = 'buffett_indicator_above_200' and transition = 'fired' order by period_end desc limit 1`,
    );
    expect(event?.delivery).toBe('delivered');
    expect(event?.notified_at).toBeInstanceOf(Date);
    expect(await rows(handle, 'select count(*)::int as runs from etl.runs')).toEqual([{ runs: 1 }]);
    await db.close();
    const after = await cli(['--config', config, 'alerts'], back);
    expect(after.stdout).toMatch(/buffett_indicator_above_200\s+US\s+.*delivered \d{4}-\d\d-\d\d \d\d:\d\dZ/);
    outcome.detail += `; delivered once after it came back (${kind === 'postgres' ? 'two schedulers' : 'one scheduler'}, no run)`;
  });
});

it('a webhook whose answer never ends: the run reads a bounded part, closes it, and finishes', async () => {
  const outcome = tracker('webhook-endless-body');
  const db = await useDatabase('pglite');
  await db.close();
  const { config } = setup();
  receiver = await startReceiver(['endless']);
  const run = await cli(['--config', config, 'run', 'fred', '--no-preview'], { ...db.env, BUBBLEWATCH_ALERT_WEBHOOK: receiver.url });
  expect(receiver.endless).toHaveLength(1);
  outcome.injected = true;
  outcome.detail = 'the webhook answered 200 with a body that does not end';
  expect(run.code, run.stderr.slice(-1500)).toBe(0);
  const [body] = receiver.endless;
  await body!.done;
  expect(body!.closedByClient, 'the notifier closed the connection mid-body').toBe(true);
  expect(body!.bytesWritten).toBeLessThan(32 * 1024 * 1024);
  expect(body!.bytesWritten).toBeLessThan(ENDLESS_BOUND);
  const handle = await db.reopen();
  expect(await rows(handle, `select delivery from analytics.alert_history where rule_id = 'buffett_indicator_above_200' and transition = 'fired' order by period_end desc limit 1`)).toEqual([
    { delivery: 'delivered' },
  ]);
  outcome.detail += `; it wrote ${(body!.bytesWritten / 1024 / 1024).toFixed(1)} MiB before the notifier closed it, and the run finished`;
});

import { copyFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { evaluateAlerts, replayRules, type AlertEnvironment } from '../../src/alerts/engine.js';
import { webhookNotifier } from '../../src/alerts/notify.js';
import { alertsSchema } from '../../src/alerts/rules.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, memoryLogger, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/**
 * Alert evaluation against a database. The series are real: OpenAI's annualised revenue
 * run-rate from the bundled sample (2023-12-31 $2B … 2026-08-23 $40B) and FRED GDP.
 */

const custom = customSeries as unknown as AnyPipeline;

const RULES = alertsSchema.parse({
  rules: [
    {
      id: 'openai_run_rate_above_10bn',
      indicator: 'openai_revenue_annualized',
      subject: 'OpenAI',
      op: '>',
      threshold: 10e9,
      severity: 'warning',
      message: '{subject} run-rate {value} in {period}',
    },
    { id: 'openai_run_rate_above_100bn', indicator: 'openai_revenue_annualized', subject: 'OpenAI', op: '>', threshold: 100e9, severity: 'critical' },
  ],
  webhook: { repeat_interval_hours: 1 },
});

let server: Server;
let url = '';
let received: Record<string, unknown>[] = [];
let failNext = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (failNext > 0) {
        failNext--;
        res.writeHead(503).end('busy');
        return;
      }
      received.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T000/B000/secret-token`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function environment(handle: AlertEnvironment['handle'], options: { webhook?: boolean; now?: Date } = {}): AlertEnvironment {
  const { logger } = memoryLogger();
  return {
    handle,
    logger,
    config: RULES,
    notifier: options.webhook ? webhookNotifier({ url, maxAttempts: 3, timeoutMs: 2000, logger, baseDelayMs: 1 }) : undefined,
    now: () => options.now ?? new Date('2026-11-30T12:00:00Z'),
  };
}

async function loadSample(handle: AlertEnvironment['handle']) {
  const inbox = makeInbox();
  copyFileSync(join(PACKAGE_ROOT, 'data', 'sample', 'custom-series', 'ai_series.csv'), join(inbox, 'ai_series.csv'));
  return runOnce(handle, custom, inboxConfig(custom, inbox));
}

describeEachDatabase('alert evaluation', (kind) => {
  it('records each transition once, keeps one open alert per rule and subject, and re-evaluation adds nothing', async () => {
    const db = await useDatabase(kind);
    const run = await loadSample(db.handle);
    const { logger, lines } = memoryLogger();
    const first = await evaluateAlerts({ ...environment(db.handle), logger }, { runId: run.runId, isBackfill: false });
    expect(first.newEvents).toBe(1);
    // The log line's period and value are the transition's; latest_* are today's (its message quotes those).
    expect(lines.find((l) => l.rule === 'openai_run_rate_above_10bn')).toMatchObject({
      level: 40, period: '2025-07-31', value: 12e9, latest_period: '2026-08-23', latest_value: 40e9,
      msg: 'ALERT WARNING openai_run_rate_above_10bn firing for OpenAI (since 2025-07-31; latest 2026-08-23): OpenAI run-rate 40,000,000,000 in 2026-08-23',
    });
    expect(first.firing).toEqual([{ rule: 'openai_run_rate_above_10bn', subject: 'OpenAI', severity: 'warning', message: 'OpenAI run-rate 40,000,000,000 in 2026-08-23' }]);
    const events = await rows(db.handle, 'select rule_id, subject, period_end, from_state, to_state, value, reason, run_id, is_backfill from etl.alert_events');
    // The run-rate first exceeded $10B with $12B on 2025-07-31 ($10B on 2025-06-09 is not above 10B).
    expect(events).toEqual([
      { rule_id: 'openai_run_rate_above_10bn', subject: 'OpenAI', period_end: '2025-07-31', from_state: 'inactive', to_state: 'firing', value: 12e9, reason: 'breach', run_id: run.runId, is_backfill: false },
    ]);
    const open = await rows(db.handle, 'select rule_id, subject, since_period, last_period, value from analytics.alerts_open');
    expect(open).toEqual([{ rule_id: 'openai_run_rate_above_10bn', subject: 'OpenAI', since_period: '2025-07-31', last_period: '2026-08-23', value: 40e9 }]);
    const states = await rows(db.handle, 'select rule_id, state from etl.alert_state order by rule_id');
    expect(states).toEqual([
      { rule_id: 'openai_run_rate_above_100bn', state: 'inactive' },
      { rule_id: 'openai_run_rate_above_10bn', state: 'firing' },
    ]);

    const again = await evaluateAlerts(environment(db.handle), { runId: run.runId, isBackfill: false });
    expect(again.newEvents).toBe(0);
    expect(await rows(db.handle, 'select count(*)::int as n from etl.alert_events')).toEqual([{ n: 1 }]);
  });

  it('marks events found by a backfill and sends no webhook for them', async () => {
    const db = await useDatabase(kind);
    const run = await loadSample(db.handle);
    received = [];
    await evaluateAlerts(environment(db.handle, { webhook: true }), { runId: run.runId, isBackfill: true });
    expect(received).toEqual([]);
    expect(await rows(db.handle, 'select is_backfill, notified_at from etl.alert_events')).toEqual([{ is_backfill: true, notified_at: null }]);
  });

  it('posts to the webhook with retries, repeats while firing, and posts the resolution', async () => {
    const db = await useDatabase(kind);
    const run = await loadSample(db.handle);
    received = [];
    failNext = 2; // two 503s, then success
    await evaluateAlerts(environment(db.handle, { webhook: true }), { runId: run.runId, isBackfill: false });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ rule: 'openai_run_rate_above_10bn', subject: 'OpenAI', state: 'firing', severity: 'warning', repeat: false, period: '2025-07-31' });
    expect(String(received[0]!.text)).toMatch(/Firing \[warning\] openai_run_rate_above_10bn — OpenAI: OpenAI run-rate/);
    const [notified] = await rows<{ notified_at: Date | null }>(db.handle, 'select notified_at from etl.alert_events');
    expect(notified!.notified_at).toBeInstanceOf(Date);

    // Within the repeat interval: nothing more. After it: a reminder.
    await evaluateAlerts(environment(db.handle, { webhook: true }), { runId: run.runId, isBackfill: false });
    expect(received).toHaveLength(1);
    await evaluateAlerts(environment(db.handle, { webhook: true, now: new Date(Date.now() + 2 * 3_600_000) }), { runId: run.runId, isBackfill: false });
    expect(received).toHaveLength(2);
    expect(received[1]).toMatchObject({ state: 'firing', repeat: true });

    // A later figure back under the threshold resolves it (a real OpenAI figure below $10B: $5.5B at end-2024).
    const inbox = makeInbox();
    writeFile(inbox, 'later.csv', 'series,subject,date,value,unit\nopenai_revenue_annualized,OpenAI,2026-12-31,5500000000,USD\n');
    const later = await runOnce(db.handle, custom, inboxConfig(custom, inbox));
    await evaluateAlerts(environment(db.handle, { webhook: true }), { runId: later.runId, isBackfill: false });
    expect(received.at(-1)).toMatchObject({ state: 'inactive', rule: 'openai_run_rate_above_10bn', period: '2026-12-31' });
    expect(String(received.at(-1)!.text)).toMatch(/^:white_check_mark: Resolved/);
    expect(await rows(db.handle, 'select count(*)::int as n from analytics.alerts_open')).toEqual([{ n: 0 }]);
    const history = await rows<{ transition: string }>(db.handle, 'select transition from analytics.alert_history order by period_end');
    expect(history.map((h) => h.transition)).toEqual(['fired', 'resolved']);
  });

  it('gives up on a webhook that refuses the notification (4xx) without failing the evaluation', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const { logger, lines } = memoryLogger();
    const refusing = webhookNotifier({ url: url.replace('/hooks/', '/nowhere/'), maxAttempts: 3, timeoutMs: 2000, logger, baseDelayMs: 1 });
    const env = { ...environment(db.handle), logger, notifier: { send: async (n: Parameters<typeof refusing.send>[0]) => ({ ...(await refusing.send(n)), outcome: 'refused' as const }) } };
    const result = await evaluateAlerts(env, { runId: null, isBackfill: false });
    expect(result.newEvents).toBe(1);
    expect(lines.some((l) => String(l.msg).includes('secret-token'))).toBe(false);
  });

  it('replays rules without writing, matching the events a real evaluation writes', async () => {
    const db = await useDatabase(kind);
    const run = await loadSample(db.handle);
    const replayed = await replayRules(environment(db.handle));
    expect(await rows(db.handle, 'select count(*)::int as n from etl.alert_events')).toEqual([{ n: 0 }]);
    await evaluateAlerts(environment(db.handle), { runId: run.runId, isBackfill: false });
    const stored = await rows<{ rule_id: string; subject: string; period_end: string; to_state: string }>(
      db.handle,
      'select rule_id, subject, period_end, to_state from etl.alert_events order by rule_id, period_end',
    );
    const expected = replayed
      .flatMap((r) => r.transitions.map((t) => ({ rule_id: r.rule.id, subject: r.subject, period_end: t.period, to_state: t.to })))
      .sort((a, b) => a.rule_id.localeCompare(b.rule_id) || a.period_end.localeCompare(b.period_end));
    expect(stored).toEqual(expected);
  });
});

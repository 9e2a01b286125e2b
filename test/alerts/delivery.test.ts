import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { evaluateAlerts, type AlertEnvironment } from '../../src/alerts/engine.js';
import { webhookNotifier } from '../../src/alerts/notify.js';
import { alertsSchema } from '../../src/alerts/rules.js';
import { openDatabase } from '../../src/db/connect.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, memoryLogger, rows, runOnce, writeFile } from '../helpers/pipelines.js';
import { ENDLESS_BOUND, startReceiver, type Answer, type Receiver } from './receiver.js';

/**
 * At-least-once delivery of alert notifications (issue 14, items 9 and 12). The alert is a real
 * one: OpenAI's annualised revenue run-rate from the bundled sample passed $10B with $12B on
 * 2025-07-31 (latest $40B on 2026-08-23). The receiver is a local HTTP server that fails as told.
 * Time is the evaluation's clock (`now`), so backoff is tested without sleeping.
 */

const custom = customSeries as unknown as AnyPipeline;
const RULE = 'openai_run_rate_above_10bn';
const RULES = alertsSchema.parse({
  rules: [{ id: RULE, indicator: 'openai_revenue_annualized', subject: 'OpenAI', op: '>', threshold: 10e9, severity: 'warning', message: '{subject} run-rate {value} in {period}' }],
  webhook: { repeat_interval_hours: 1 },
});
const T0 = new Date('2026-11-30T12:00:00Z');
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);

let receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  receivers = [];
});

async function receiver(plan: Answer[], fallback: Answer = 200): Promise<Receiver> {
  const r = await startReceiver(plan, fallback);
  receivers.push(r);
  return r;
}

function environment(handle: AlertEnvironment['handle'], to: Receiver, clock: { now: Date }, config = RULES): AlertEnvironment {
  const { logger } = memoryLogger();
  return {
    handle,
    logger,
    config,
    notifier: webhookNotifier({ url: to.url, maxAttempts: 3, timeoutMs: 5000, logger, baseDelayMs: 1 }),
    now: () => clock.now,
  };
}

async function loadSample(handle: AlertEnvironment['handle']) {
  const inbox = makeInbox();
  copyFileSync(join(PACKAGE_ROOT, 'data', 'sample', 'custom-series', 'ai_series.csv'), join(inbox, 'ai_series.csv'));
  const run = await runOnce(handle, custom, inboxConfig(custom, inbox));
  expect(run.status, run.error).toBe('succeeded');
  return run;
}

/** A real OpenAI figure below $10B ($5.5B, end of 2024) dated after the latest one: the alert resolves. */
async function resolveIt(handle: AlertEnvironment['handle']) {
  const inbox = makeInbox();
  writeFile(inbox, 'later.csv', 'series,subject,date,value,unit\nopenai_revenue_annualized,OpenAI,2026-12-31,5500000000,USD\n');
  const run = await runOnce(handle, custom, inboxConfig(custom, inbox));
  expect(run.status, run.error).toBe('succeeded');
  return run;
}

const evaluate = (env: AlertEnvironment, runId: number | null = null) => evaluateAlerts(env, { runId, isBackfill: false });

describeEachDatabase('alert delivery', (kind) => {
  it('delivers a firing notification that the webhook failed (HTTP 500) on a later evaluation, exactly once', async () => {
    const db = await useDatabase(kind);
    const run = await loadSample(db.handle);
    const hook = await receiver([500, 500, 500]); // every post of the first delivery attempt fails
    const clock = { now: T0 };
    const env = environment(db.handle, hook, clock);

    await evaluate(env, run.runId);
    expect(hook.posts.map((p) => p.status)).toEqual([500, 500, 500]);
    expect(await rows(db.handle, 'select notified_at from etl.alert_events')).toEqual([{ notified_at: null }]);

    // No new data: the next evaluation (after the backoff) delivers what the first could not.
    clock.now = minutes(2);
    await evaluate(env);
    expect(hook.delivered()).toHaveLength(1);
    expect(hook.delivered()[0]).toMatchObject({ rule: RULE, subject: 'OpenAI', state: 'firing', repeat: false, period: '2025-07-31', value: 40e9 });
    expect(await rows(db.handle, 'select notified_at from etl.alert_events')).toEqual([{ notified_at: minutes(2) }]);

    // Delivered once: later evaluations post nothing more (until a reminder is due).
    clock.now = minutes(10);
    await evaluate(env);
    await evaluate(env);
    expect(hook.posts).toHaveLength(4);
  });

  it('retries with a growing backoff and shows attempts, last error and next try in the views', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const hook = await receiver([], 500);
    const clock = { now: T0 };
    const env = environment(db.handle, hook, clock);

    await evaluate(env);
    const open = 'select delivery, delivery_attempts, last_attempt_at, next_attempt_at, last_delivery_error from analytics.alerts_open';
    expect(await rows(db.handle, open)).toEqual([
      { delivery: 'undelivered', delivery_attempts: 1, last_attempt_at: T0, next_attempt_at: minutes(1), last_delivery_error: 'HTTP 500: receiver says 500' },
    ]);
    // Not due yet: nothing is posted.
    clock.now = minutes(0.5);
    await evaluate(env);
    expect(hook.posts).toHaveLength(3);
    // Due: tried again, and the wait doubles.
    clock.now = minutes(1);
    await evaluate(env);
    expect(hook.posts).toHaveLength(6);
    expect(await rows(db.handle, open)).toEqual([
      { delivery: 'undelivered', delivery_attempts: 2, last_attempt_at: minutes(1), next_attempt_at: minutes(3), last_delivery_error: 'HTTP 500: receiver says 500' },
    ]);
    hook.fallback = 200;
    clock.now = minutes(3);
    await evaluate(env);
    expect(hook.delivered()).toHaveLength(1);
    expect(await rows(db.handle, open)).toEqual([
      { delivery: 'delivered', delivery_attempts: 3, last_attempt_at: minutes(3), next_attempt_at: null, last_delivery_error: null },
    ]);
    expect(await rows(db.handle, 'select transition, delivery, delivery_attempts, notified_at from analytics.alert_history')).toEqual([
      { transition: 'fired', delivery: 'delivered', delivery_attempts: 3, notified_at: minutes(3) },
    ]);
  });

  it('sends reminders for an alert whose first delivery failed, once it is delivered', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const hook = await receiver([500, 500, 500]);
    const clock = { now: T0 };
    const env = environment(db.handle, hook, clock);
    await evaluate(env);
    clock.now = minutes(2);
    await evaluate(env);
    expect(hook.delivered().map((b) => b.repeat)).toEqual([false]);

    // repeat_interval_hours is 1: a reminder an hour after the delivery, not an hour after the first try.
    clock.now = minutes(61);
    await evaluate(env);
    expect(hook.delivered()).toHaveLength(1);
    clock.now = minutes(63);
    await evaluate(env);
    expect(hook.delivered().map((b) => [b.state, b.repeat])).toEqual([['firing', false], ['firing', true]]);
    // A reminder that fails is retried too.
    hook.plan = [503, 503, 503];
    clock.now = minutes(124);
    await evaluate(env);
    expect(hook.delivered()).toHaveLength(2);
    clock.now = minutes(126);
    await evaluate(env);
    expect(hook.delivered().map((b) => b.repeat)).toEqual([false, true, true]);
  });

  it('records a refusal (HTTP 404) for good and never retries it', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const hook = await receiver([404]);
    const clock = { now: T0 };
    const env = environment(db.handle, hook, clock);
    await evaluate(env);
    expect(hook.posts.map((p) => p.status)).toEqual([404]);
    for (const m of [2, 60, 24 * 60]) {
      clock.now = minutes(m);
      await evaluate(env);
    }
    expect(hook.posts).toHaveLength(1);
    expect(await rows(db.handle, 'select transition, delivery, delivery_attempts, next_attempt_at, last_delivery_error, notified_at from analytics.alert_history')).toEqual([
      { transition: 'fired', delivery: 'refused', delivery_attempts: 1, next_attempt_at: null, last_delivery_error: 'HTTP 404: receiver says 404', notified_at: null },
    ]);
  });

  it('retries HTTP 408 and 429, which are not refusals', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const hook = await receiver([408, 408, 408, 429, 429, 429]);
    const clock = { now: T0 };
    const env = environment(db.handle, hook, clock);
    await evaluate(env);
    clock.now = minutes(1);
    await evaluate(env);
    expect(hook.delivered()).toHaveLength(0);
    clock.now = minutes(3);
    await evaluate(env);
    expect(hook.posts.map((p) => p.status)).toEqual([408, 408, 408, 429, 429, 429, 200]);
  });

  it('reads an endless response body only up to the cap, closes it, and still delivers', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    // First a 500 whose error page never ends, then a 200 whose body never ends.
    const hook = await receiver(['endless-500', 500, 500, 'endless']);
    const clock = { now: T0 };
    const env = environment(db.handle, hook, clock);
    await evaluate(env);
    clock.now = minutes(2);
    await evaluate(env);
    expect(hook.posts.map((p) => p.status)).toEqual([500, 500, 500, 200]);
    expect(await rows(db.handle, 'select delivery from analytics.alert_history')).toEqual([{ delivery: 'delivered' }]);
    await Promise.all(hook.endless.map((e) => e.done));
    for (const body of hook.endless) {
      // The notifier reads 64 KiB and cancels the body; what the server wrote beyond that sat in
      // socket buffers. A client that read it all would have taken the whole 256 MiB.
      expect(body.closedByClient, 'the notifier closed the connection mid-body').toBe(true);
      expect(body.bytesWritten).toBeLessThan(32 * 1024 * 1024);
      expect(body.bytesWritten).toBeLessThan(ENDLESS_BOUND);
    }
  });

  it('sends neither a firing notification overtaken by its resolution nor that resolution; a delivered firing gets its resolution', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const hook = await receiver([], 500);
    const clock = { now: T0 };
    const env = environment(db.handle, hook, clock);
    await evaluate(env);
    // The alert resolves while the receiver is still down; then the receiver comes back.
    const later = await resolveIt(db.handle);
    clock.now = minutes(2);
    await evaluate(env, later.runId);
    hook.fallback = 200;
    const failedPosts = hook.posts.length;
    clock.now = minutes(30);
    await evaluate(env);
    // The receiver never heard that it fired; telling it now that it fired, or that it resolved,
    // would be news about a state that is over (Alertmanager does not send either).
    expect(hook.posts.length).toBe(failedPosts);
    expect(await rows(db.handle, 'select transition, delivery, notified_at from analytics.alert_history order by period_end')).toEqual([
      { transition: 'fired', delivery: 'superseded', notified_at: null },
      { transition: 'resolved', delivery: 'skipped', notified_at: null },
    ]);

    // The other order: the firing is delivered, the resolution fails, and is delivered later, once.
    const db2 = await useDatabase(kind);
    await loadSample(db2.handle);
    const hook2 = await receiver([]);
    const clock2 = { now: T0 };
    const env2 = environment(db2.handle, hook2, clock2);
    await evaluate(env2);
    hook2.plan = [502, 502, 502];
    await resolveIt(db2.handle);
    clock2.now = minutes(5);
    await evaluate(env2);
    clock2.now = minutes(7);
    await evaluate(env2);
    await evaluate(env2);
    expect(hook2.delivered().map((b) => [b.state, b.period])).toEqual([['firing', '2025-07-31'], ['inactive', '2026-12-31']]);
    expect(await rows(db2.handle, 'select transition, delivery from analytics.alert_history order by period_end')).toEqual([
      { transition: 'fired', delivery: 'delivered' },
      { transition: 'resolved', delivery: 'delivered' },
    ]);
  });

  it('tries one notification per pass while the receiver fails, and delivers every alert once it is back', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    // Two alerts: the run-rate passed $10B with $12B on 2025-07-31, and $20B with $25B on 2026-03-29.
    const two = alertsSchema.parse({
      rules: [...RULES.rules, { id: 'openai_run_rate_above_20bn', indicator: 'openai_revenue_annualized', subject: 'OpenAI', op: '>', threshold: 20e9, severity: 'critical' }],
      webhook: RULES.webhook,
    });
    const hook = await receiver([], 503);
    const clock = { now: T0 };
    const env = environment(db.handle, hook, clock, two);
    await evaluate(env);
    // A failing receiver is not hammered with every notification in turn: the other waits.
    expect(hook.posts).toHaveLength(3);
    expect(await rows(db.handle, 'select rule_id, delivery, delivery_attempts from analytics.alerts_open order by rule_id')).toEqual([
      { rule_id: 'openai_run_rate_above_10bn', delivery: 'undelivered', delivery_attempts: 1 },
      { rule_id: 'openai_run_rate_above_20bn', delivery: 'undelivered', delivery_attempts: 0 },
    ]);
    hook.fallback = 200;
    clock.now = minutes(2);
    await evaluate(env);
    expect(hook.delivered().map((b) => [b.rule, b.period]).sort()).toEqual([
      ['openai_run_rate_above_10bn', '2025-07-31'],
      ['openai_run_rate_above_20bn', '2026-03-29'],
    ]);
    clock.now = minutes(5);
    await evaluate(env);
    expect(hook.delivered()).toHaveLength(2);
  });

  if (kind === 'postgres') {
    it('delivers a pending notification once when two processes try it at the same time', async () => {
      const db = await useDatabase(kind);
      await loadSample(db.handle);
      const hook = await receiver([500, 500, 500]);
      const clock = { now: T0 };
      await evaluate(environment(db.handle, hook, clock));
      const other = await openDatabase({ ...db.openOptions, command: 'second process' });
      try {
        hook.delayMs = 300; // both are in flight at once
        clock.now = minutes(2);
        await Promise.all([evaluate(environment(db.handle, hook, clock)), evaluate(environment(other, hook, clock))]);
      } finally {
        await other.close();
      }
      expect(hook.delivered()).toHaveLength(1);
      expect(hook.posts).toHaveLength(4);
    });
  }
});

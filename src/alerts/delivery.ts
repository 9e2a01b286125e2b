import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { SqlConnection } from '../db/connect.js';
import { errorMessage } from '../errors.js';
import type { AlertEnvironment } from './engine.js';
import type { DeliveryResult, Notification } from './notify.js';

/**
 * At-least-once delivery of alert notifications, as Alertmanager does it: what the webhook must be
 * told is kept in etl.alert_notifications until it is delivered, and every run's evaluation and
 * every scheduler tick works through what is due.
 *
 * The queue follows the alerts' state rather than the process that saw a transition, so nothing
 * depends on that process staying up or having the webhook URL:
 *  - the latest transition to or from firing of each alert is queued unless it was notified
 *    already, found by a backfill (backfills never notify), or queued before;
 *  - a reminder is queued while an alert keeps firing, `repeat_interval_hours` after the receiver
 *    was last told;
 *  - a newer transition of the same alert supersedes a notification still waiting: the receiver
 *    gets the current state, not a replay of what it missed;
 *  - a resolution is sent only if the receiver was told that the alert fired. An alert that fired
 *    and resolved while the webhook was failing is news about a state that is over; Alertmanager
 *    does not send it either. Both stay in analytics.alert_history.
 *
 * A failed attempt is tried again after a wait that doubles from `retry_base_seconds` up to
 * `retry_max_seconds` (longer if the receiver sent Retry-After); a refusal (a 4xx other than 408
 * and 429) is final. A process claims what it sends for a lease, so two processes on one
 * PostgreSQL never post the same notification at once; a claim left by a process that died
 * expires, and the notification is tried again.
 */

export interface DeliverySummary {
  readonly delivered: number;
  readonly failed: number;
  readonly refused: number;
}

interface Claimed {
  notification_id: number;
  event_id: number;
  kind: 'firing' | 'resolved' | 'reminder';
  attempts: number;
  rule_id: string;
  subject: string;
  period_end: string;
  to_state: Notification['state'];
  event_message: string;
  last_period: string | null;
  value: number | null;
  state_message: string | null;
}

/** Notifications sent per pass at most; the rest wait for the next one. */
const PER_PASS = 20;

/**
 * The lock of settleQueue: a row of etl.pipeline_locks, like the pipelines' own. A row lock needs
 * UPDATE on the table, which the read-only analyst role lacks (any role can take an advisory lock).
 */
const SETTLE_LOCK = 'alerts:notification-queue';

/** The latest transition to or from firing of alert `a` (rule_id, subject), as a lateral subquery. */
const LATEST_NOTIFIABLE = (a: string) => `
  select e.event_id, e.period_end, e.to_state, e.is_backfill, e.notified_at
  from etl.alert_events e
  where e.rule_id = ${a}.rule_id and e.subject = ${a}.subject and (e.to_state = 'firing' or e.from_state = 'firing')
  order by e.period_end desc, e.event_id desc
  limit 1`;

/** Supersede, skip and queue: bring the queue in line with the alerts' state. */
async function settleQueue(conn: SqlConnection, now: Date, reminderCutoff: Date): Promise<void> {
  // A notification still waiting whose alert has a newer transition, or no longer exists (its rule was removed).
  await conn.query(
    `update etl.alert_notifications n
     set status = 'superseded', next_attempt_at = null
     from etl.alert_events ne
     where ne.event_id = n.event_id and n.status = 'undelivered'
       and (not exists (select 1 from etl.alert_state s where s.rule_id = n.rule_id and s.subject = n.subject)
            or exists (select 1 from etl.alert_events e
                       where e.rule_id = n.rule_id and e.subject = n.subject and (e.to_state = 'firing' or e.from_state = 'firing')
                         and (e.period_end, e.event_id) > (ne.period_end, ne.event_id)))`,
  );
  // The current transition of each alert, if nobody told the receiver yet.
  await conn.query(
    `insert into etl.alert_notifications (event_id, rule_id, subject, kind, next_attempt_at, created_at)
     select t.event_id, s.rule_id, s.subject, case when t.to_state = 'firing' then 'firing' else 'resolved' end, $1, $1
     from etl.alert_state s
     join lateral (${LATEST_NOTIFIABLE('s')}) t on true
     where not t.is_backfill and t.notified_at is null
       and not exists (select 1 from etl.alert_notifications n where n.event_id = t.event_id and n.kind <> 'reminder')
     on conflict do nothing`,
    [now],
  );
  // A resolution of a firing the receiver never heard of is not sent (unless that firing is being
  // sent right now: then the resolution waits for it).
  await conn.query(
    `with waiting as (
       select n.notification_id,
              (select f.event_id from etl.alert_events f
               where f.rule_id = r.rule_id and f.subject = r.subject and f.to_state = 'firing'
                 and (f.period_end, f.event_id) < (r.period_end, r.event_id)
               order by f.period_end desc, f.event_id desc
               limit 1) as fired_event_id
       from etl.alert_notifications n
       join etl.alert_events r on r.event_id = n.event_id
       where n.status = 'undelivered' and n.kind = 'resolved'
     )
     update etl.alert_notifications n
     set status = 'skipped', next_attempt_at = null
     from waiting w
     where n.notification_id = w.notification_id
       and not exists (select 1 from etl.alert_events f where f.event_id = w.fired_event_id and f.notified_at is not null)
       and not exists (select 1 from etl.alert_notifications fn where fn.event_id = w.fired_event_id and fn.claimed_until > $1)`,
    [now],
  );
  // Reminders: an alert still firing whose receiver was last told before the cutoff, with no
  // notification waiting and no reminder queued since the cutoff (a refused one waits a full interval).
  await conn.query(
    `insert into etl.alert_notifications (event_id, rule_id, subject, kind, next_attempt_at, created_at)
     select f.event_id, s.rule_id, s.subject, 'reminder', $1, $1
     from etl.alert_state s
     join lateral (
       select e.event_id from etl.alert_events e
       where e.rule_id = s.rule_id and e.subject = s.subject and e.to_state = 'firing'
       order by e.period_end desc, e.event_id desc
       limit 1
     ) f on true
     where s.state = 'firing' and s.last_notified_at is not null and s.last_notified_at <= $2
       and not exists (select 1 from etl.alert_notifications n
                       where n.rule_id = s.rule_id and n.subject = s.subject
                         and (n.status = 'undelivered' or n.claimed_until > $1 or (n.kind = 'reminder' and n.created_at > $2)))
     on conflict do nothing`,
    [now, reminderCutoff],
  );
}

/**
 * Claim the next notification that is due: not claimed by a live process, and no other notification of the same alert
 * in flight (a resolution waits for its firing). `skip locked` lets two processes claim at once
 * without waiting on each other or taking the same row.
 */
async function claimNext(conn: SqlConnection, me: string, now: Date, until: Date): Promise<Claimed | undefined> {
  const { rows } = await conn.query<Claimed>(
    `with claimed as (
       update etl.alert_notifications n
       set claimed_by = $1, claimed_until = $3, attempts = n.attempts + 1, last_attempt_at = $2
       where n.notification_id in (
         select c.notification_id from etl.alert_notifications c
         where c.status = 'undelivered' and c.next_attempt_at <= $2
           and (c.claimed_until is null or c.claimed_until <= $2)
           and not exists (select 1 from etl.alert_notifications o
                           where o.rule_id = c.rule_id and o.subject = c.subject
                             and o.notification_id <> c.notification_id and o.claimed_until > $2)
         order by c.next_attempt_at, c.notification_id
         limit 1
         for update skip locked
       )
       returning n.notification_id, n.event_id, n.kind, n.attempts
     )
     select c.notification_id, c.event_id, c.kind, c.attempts, e.rule_id, e.subject, e.period_end, e.to_state, e.message as event_message,
            s.last_period, s.value, s.message as state_message
     from claimed c
     join etl.alert_events e on e.event_id = c.event_id
     left join etl.alert_state s on s.rule_id = e.rule_id and s.subject = e.subject`,
    [me, now, until],
  );
  return rows[0];
}

function notificationOf(env: AlertEnvironment, c: Claimed): Notification | undefined {
  const rule = env.config.rules.find((r) => r.id === c.rule_id && r.enabled);
  if (!rule) return undefined;
  if (c.kind === 'reminder') {
    return { rule, subject: c.subject, state: 'firing', period: c.last_period ?? c.period_end, value: c.value, message: c.state_message ?? c.event_message, repeat: true };
  }
  return { rule, subject: c.subject, state: c.to_state, period: c.period_end, value: c.value, message: c.event_message, repeat: false };
}

/** The wait before the next attempt: doubling from the base, capped; at least what Retry-After asked. */
export function nextAttemptDelayMs(attempts: number, policy: { baseMs: number; maxMs: number }, retryAfterMs?: number): number {
  const backoff = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(30, attempts - 1)));
  return retryAfterMs === undefined ? backoff : Math.max(backoff, Math.min(retryAfterMs, policy.maxMs));
}

async function record(env: AlertEnvironment, me: string, c: Claimed, result: DeliveryResult, now: Date, next: Date): Promise<void> {
  await env.handle.withTransaction(async (conn) => {
    if (result.outcome === 'delivered') {
      // Delivered is what happened, even if a newer transition superseded it meanwhile.
      await conn.query(
        `update etl.alert_notifications
         set status = 'delivered', delivered_at = $2, next_attempt_at = null, last_http_status = $3, last_error = null, claimed_by = null, claimed_until = null
         where notification_id = $1`,
        [c.notification_id, now, result.status],
      );
      if (c.kind !== 'reminder') await conn.query('update etl.alert_events set notified_at = coalesce(notified_at, $2) where event_id = $1', [c.event_id, now]);
      await conn.query(
        `update etl.alert_state set last_notified_at = $3
         where rule_id = $1 and subject = $2 and (state = 'firing') = $4`,
        [c.rule_id, c.subject, now, c.kind !== 'resolved'],
      );
      return;
    }
    await conn.query(
      `update etl.alert_notifications
       set status = case when status = 'undelivered' and $3 then 'refused' else status end,
           next_attempt_at = case when status = 'undelivered' and not $3 then $4::timestamptz end,
           last_http_status = $5, last_error = $6, claimed_by = null, claimed_until = null
       where notification_id = $1 and claimed_by = $2`,
      [c.notification_id, me, result.outcome === 'refused', next, result.status, result.error],
    );
  });
}

/** Give a claim back untried (shutting down, or a rule this process does not know). */
async function release(env: AlertEnvironment, me: string, c: Claimed): Promise<void> {
  await env.handle.withConnection((conn) =>
    conn.query(
      `update etl.alert_notifications set attempts = attempts - 1, claimed_by = null, claimed_until = null
       where notification_id = $1 and claimed_by = $2`,
      [c.notification_id, me],
    ),
  );
}

/**
 * One delivery pass: bring the queue in line with the alerts' state, then send what is due.
 * Without a webhook it does nothing (nothing is queued either).
 */
export async function deliverNotifications(env: AlertEnvironment, options: { signal?: AbortSignal } = {}): Promise<DeliverySummary> {
  const summary = { delivered: 0, failed: 0, refused: 0 };
  const notifier = env.notifier;
  if (!notifier) return summary;
  const { logger } = env;
  const webhook = env.config.webhook;
  const now = env.now?.() ?? new Date();
  const started = Date.now();
  const me = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  // Longer than one attempt can take (every post timing out, and the waits between them).
  const leaseMs = webhook.max_attempts * (webhook.timeout_ms + 10_000) + 60_000;
  const backoff = { baseMs: webhook.retry_base_seconds * 1000, maxMs: webhook.retry_max_seconds * 1000 };

  await env.handle.withTransaction(async (conn) => {
    // One process settles at a time (two would only do the same work, and could deadlock on
    // each other's rows); one that finds it taken goes on to send what is due.
    await conn.query('insert into etl.pipeline_locks (pipeline) values ($1) on conflict do nothing', [SETTLE_LOCK]);
    const { rows } = await conn.query<{ pipeline: string }>('select pipeline from etl.pipeline_locks where pipeline = $1 for update skip locked', [SETTLE_LOCK]);
    if (rows.length > 0) await settleQueue(conn, now, new Date(now.getTime() - webhook.repeat_interval_hours * 3_600_000));
  });
  // One claim at a time, each for as long as its own attempt can take: a claim never lapses
  // while it waits behind others in this process.
  const unknown = new Set<number>();
  for (let sent = 0; sent < PER_PASS && !options.signal?.aborted; sent++) {
    const until = new Date(now.getTime() + (Date.now() - started) + leaseMs);
    const c = await env.handle.withConnection((conn) => claimNext(conn, me, now, until));
    if (!c || unknown.has(c.notification_id)) {
      if (c) await release(env, me, c);
      break;
    }
    const notification = notificationOf(env, c);
    if (!notification) {
      // A rule this process's config does not have (another process's config is newer): left to it.
      unknown.add(c.notification_id);
      await release(env, me, c);
      continue;
    }
    const result = await notifier.send(notification, options.signal).catch(
      (e: unknown): DeliveryResult => ({ outcome: 'failed', status: null, error: errorMessage(e), posts: 0 }),
    );
    if (result.posts === 0 && options.signal?.aborted) {
      await release(env, me, c);
      break;
    }
    // The clock at the end of the attempt: a wait counts from when the attempt failed.
    const done = env.now?.() ?? new Date();
    const next = new Date(done.getTime() + nextAttemptDelayMs(c.attempts, backoff, result.retryAfterMs));
    await record(env, me, c, result, done, next);
    const what = `alert ${c.rule_id} for ${c.subject}: ${c.kind === 'reminder' ? 'reminder' : `${c.kind} notification (${c.period_end})`}`;
    const fields = { rule: c.rule_id, subject: c.subject, kind: c.kind, attempts: c.attempts, status: result.status };
    if (result.outcome === 'delivered') {
      summary.delivered++;
      if (c.attempts > 1) logger.info(fields, `${what} delivered on attempt ${c.attempts}`);
    } else if (result.outcome === 'refused') {
      summary.refused++;
      logger.warn(fields, `${what} refused by the webhook (${result.error ?? 'no answer'}); not retried`);
    } else {
      summary.failed++;
      logger.warn({ ...fields, next_attempt_at: next.toISOString() }, `${what} not delivered (${result.error ?? 'no answer'}); attempt ${c.attempts}, next try at ${next.toISOString()}`);
      // The receiver is failing: the others wait for the next pass rather than fail one by one now.
      break;
    }
  }
  return summary;
}

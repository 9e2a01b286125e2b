-- At-least-once delivery of alert notifications: a queue of what the webhook must be told, with
-- each notification's attempts, last error and next try. A notification that fails stays in the
-- queue and is tried again on later runs and scheduler ticks, with a growing wait, until it is
-- delivered, refused by the receiver for good (a 4xx other than 408 and 429), or overtaken by a
-- later transition of the same alert.

create table etl.alert_notifications (
  notification_id  bigint generated always as identity primary key,
  -- The transition it announces; for a reminder, the transition to firing of the alert still open.
  event_id         bigint not null references etl.alert_events (event_id) on delete cascade,
  rule_id          text not null,
  subject          text not null,
  kind             text not null check (kind in ('firing', 'resolved', 'reminder')),
  status           text not null default 'undelivered'
                   check (status in ('undelivered', 'delivered', 'refused', 'superseded', 'skipped')),
  attempts         integer not null default 0,
  last_attempt_at  timestamptz,
  -- While undelivered: not tried before this. NULL once it is settled.
  next_attempt_at  timestamptz,
  last_http_status integer,
  last_error       text,
  delivered_at     timestamptz,
  -- A process sending it holds it until claimed_until, so that two processes never post it at once;
  -- a process that dies mid-send leaves a claim that expires, and the notification is tried again.
  claimed_by       text,
  claimed_until    timestamptz,
  created_at       timestamptz not null default now(),
  check ((status = 'undelivered') = (next_attempt_at is not null))
);
comment on table etl.alert_notifications is 'Webhook notifications of alert transitions and reminders, delivered at least once: status, attempts, last error and next try of each';

-- One notification per transition; reminders are repeated, so they are not bound by it.
create unique index alert_notifications_event_key on etl.alert_notifications (event_id) where kind <> 'reminder';
-- An alert has at most one notification waiting: a newer one supersedes the one before it.
create unique index alert_notifications_waiting_key on etl.alert_notifications (rule_id, subject) where status = 'undelivered';
create index alert_notifications_due_idx on etl.alert_notifications (next_attempt_at) where status = 'undelivered';
create index alert_notifications_alert_idx on etl.alert_notifications (rule_id, subject, notification_id);

-- The views, restated from 0011 with the delivery columns added at the end.

create or replace view analytics.alerts_open as
select
  s.rule_id,
  s.subject,
  s.severity,
  s.since_period,
  s.last_period,
  s.value,
  s.threshold,
  s.message,
  s.last_notified_at,
  s.updated_at,
  d.status as delivery,
  d.attempts as delivery_attempts,
  d.last_attempt_at,
  d.next_attempt_at,
  d.last_error as last_delivery_error
from etl.alert_state s
-- The latest notification about this alert's current firing: its transition or a reminder.
left join lateral (
  select n.status, n.attempts, n.last_attempt_at, n.next_attempt_at, n.last_error
  from etl.alert_notifications n
  where n.rule_id = s.rule_id
    and n.subject = s.subject
    and n.event_id = (
      select e.event_id from etl.alert_events e
      where e.rule_id = s.rule_id and e.subject = s.subject and e.to_state = 'firing'
      order by e.period_end desc, e.event_id desc
      limit 1
    )
  order by n.notification_id desc
  limit 1
) d on true
where s.state = 'firing';

comment on column analytics.alerts_open.delivery is 'Webhook delivery of the latest notification about this alert (its firing, or a reminder): undelivered (being retried), delivered, refused (by the receiver, for good: a 4xx other than 408 and 429); NULL when none was queued (no webhook configured, or found by a backfill)';
comment on column analytics.alerts_open.delivery_attempts is 'Delivery attempts of that notification so far; each posts up to alerts.webhook.max_attempts times, seconds apart';
comment on column analytics.alerts_open.last_attempt_at is 'When delivery of that notification was last attempted';
comment on column analytics.alerts_open.next_attempt_at is 'When an undelivered notification is tried next (on a run or scheduler tick at or after it); NULL once settled';
comment on column analytics.alerts_open.last_delivery_error is 'Why the last attempt failed, e.g. HTTP 500 and the start of the receiver''s answer, or a network error; NULL after a delivery';

create or replace view analytics.alert_history as
select
  e.event_id,
  e.rule_id,
  e.subject,
  e.period_end,
  e.from_state,
  e.to_state,
  case
    when e.to_state = 'firing' then 'fired'
    when e.from_state = 'firing' then 'resolved'
    when e.to_state = 'pending' then 'pending'
    else 'cleared'
  end as transition,
  e.value,
  e.threshold,
  e.severity,
  e.message,
  e.reason,
  e.run_id,
  e.is_backfill,
  e.notified_at,
  e.created_at,
  n.status as delivery,
  n.attempts as delivery_attempts,
  n.last_attempt_at,
  n.next_attempt_at,
  n.last_error as last_delivery_error
from etl.alert_events e
left join etl.alert_notifications n on n.event_id = e.event_id and n.kind <> 'reminder';

comment on column analytics.alert_history.delivery is 'Webhook delivery of this transition: undelivered (being retried), delivered, refused (by the receiver, for good), superseded (a later transition of the alert came first), skipped (a resolution of a firing the receiver was never told of); NULL when none was queued (pending and cleared transitions, earlier history, backfills, no webhook)';
comment on column analytics.alert_history.delivery_attempts is 'Delivery attempts so far; each posts up to alerts.webhook.max_attempts times, seconds apart';
comment on column analytics.alert_history.last_attempt_at is 'When delivery was last attempted';
comment on column analytics.alert_history.next_attempt_at is 'When an undelivered notification is tried next (on a run or scheduler tick at or after it); NULL once settled';
comment on column analytics.alert_history.last_delivery_error is 'Why the last attempt failed, e.g. HTTP 500 and the start of the receiver''s answer, or a network error; NULL after a delivery';

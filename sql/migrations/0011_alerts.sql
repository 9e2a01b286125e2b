-- Alert rules: the state of each rule and subject, and every transition.

-- One row per rule and subject: its current state. A row in state 'firing' is the one open
-- alert of that rule and subject.
create table etl.alert_state (
  rule_id           text not null,
  subject           text not null,
  indicator         text not null,
  state             text not null check (state in ('inactive', 'pending', 'firing')),
  since_period      date,
  last_period       date,
  value             numeric,
  threshold         numeric not null,
  severity          text not null check (severity in ('info', 'warning', 'critical')),
  message           text,
  last_notified_at  timestamptz,
  updated_at        timestamptz not null default now(),
  primary key (rule_id, subject)
);
comment on table etl.alert_state is 'Current state of each alert rule per subject (inactive, pending, firing); a firing row is an open alert';

-- Every transition, once: evaluating the same periods again inserts nothing new.
create table etl.alert_events (
  event_id     bigint generated always as identity primary key,
  rule_id      text not null,
  subject      text not null,
  period_end   date not null,
  from_state   text not null check (from_state in ('inactive', 'pending', 'firing')),
  to_state     text not null check (to_state in ('inactive', 'pending', 'firing')),
  value        numeric,
  threshold    numeric not null,
  severity     text not null check (severity in ('info', 'warning', 'critical')),
  message      text not null,
  reason       text not null check (reason in ('breach', 'held', 'recovered', 'cleared', 'no_data')),
  run_id       bigint references etl.runs (run_id),
  is_backfill  boolean not null default false,
  notified_at  timestamptz,
  created_at   timestamptz not null default now(),
  unique (rule_id, subject, period_end, from_state, to_state)
);
create index alert_events_rule_idx on etl.alert_events (rule_id, subject, period_end);
comment on table etl.alert_events is 'Every state transition of every alert rule and subject, with the value, threshold, message, the run that found it and whether it came from a backfill';

create view analytics.alerts_open as
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
  s.updated_at
from etl.alert_state s
where s.state = 'firing';

comment on view analytics.alerts_open is 'Alerts firing now: one row per rule and subject, with the period it started, the latest value and the threshold';
comment on column analytics.alerts_open.rule_id is 'Alert rule id, as configured';
comment on column analytics.alerts_open.subject is 'Subject the alert is about (a ticker, big5, SP500, US, a pipeline for stale sources, …)';
comment on column analytics.alerts_open.severity is 'info, warning or critical';
comment on column analytics.alerts_open.since_period is 'Period end at which it started firing';
comment on column analytics.alerts_open.last_period is 'Latest period evaluated';
comment on column analytics.alerts_open.value is 'Latest value of the measure the rule compares';
comment on column analytics.alerts_open.threshold is 'The rule''s threshold';
comment on column analytics.alerts_open.message is 'The rule''s message, filled in';
comment on column analytics.alerts_open.last_notified_at is 'When the webhook was last told (NULL if never)';
comment on column analytics.alerts_open.updated_at is 'When this state was last written';

create view analytics.alert_history as
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
  e.created_at
from etl.alert_events e;

comment on view analytics.alert_history is 'Every transition of every alert rule and subject, in period order: when it would have or did fire and resolve';
comment on column analytics.alert_history.event_id is 'Event id';
comment on column analytics.alert_history.rule_id is 'Alert rule id';
comment on column analytics.alert_history.subject is 'Subject of the alert';
comment on column analytics.alert_history.period_end is 'Period end at which the transition happened';
comment on column analytics.alert_history.from_state is 'State before: inactive, pending or firing';
comment on column analytics.alert_history.to_state is 'State after';
comment on column analytics.alert_history.transition is 'fired, resolved, pending or cleared (a pending breach that ended before it fired)';
comment on column analytics.alert_history.value is 'Value of the measure at that period';
comment on column analytics.alert_history.threshold is 'The rule''s threshold';
comment on column analytics.alert_history.severity is 'info, warning or critical';
comment on column analytics.alert_history.message is 'The rule''s message, filled in';
comment on column analytics.alert_history.reason is 'breach, held (for N periods), recovered (past the recovery threshold), cleared, or no_data';
comment on column analytics.alert_history.run_id is 'Run whose evaluation recorded it';
comment on column analytics.alert_history.is_backfill is 'Recorded by a backfill (no notification was sent)';
comment on column analytics.alert_history.notified_at is 'When the webhook was told (NULL if not)';
comment on column analytics.alert_history.created_at is 'When it was recorded';

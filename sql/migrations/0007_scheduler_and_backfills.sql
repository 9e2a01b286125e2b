-- Scheduling, partitions and backfills.

-- One row per (pipeline, scheduled tick). Every scheduler process tries to insert the tick it
-- was woken for; the primary key lets exactly one of them claim it (insert … on conflict do
-- nothing), so a tick runs once however many `bubblewatch start` processes share the database.
create table etl.schedule_ticks (
  pipeline       text not null,
  scheduled_for  timestamptz not null,
  claimed_by     text not null,
  claimed_at     timestamptz not null default now(),
  kind           text not null check (kind in ('tick', 'catch-up')),
  outcome        text check (outcome in ('ran', 'skipped')),
  run_id         bigint references etl.runs (run_id),
  primary key (pipeline, scheduled_for)
);
comment on table etl.schedule_ticks is 'Each scheduled tick of each pipeline, claimed by exactly one scheduler process, and what came of it';

alter table etl.runs add column backfill_id bigint;
alter table etl.runs add column retry_of bigint references etl.runs (run_id);
create index runs_status_idx on etl.runs (status) where status in ('running', 'queued');

-- A partition is one period of a pipeline's data (a trading day, a filing quarter). Its row
-- says how it last ran.
create table etl.partitions (
  pipeline        text not null,
  partition_key   text not null,
  status          text not null check (status in ('succeeded', 'failed', 'interrupted', 'no_input')),
  last_run_id     bigint references etl.runs (run_id),
  rows_read       bigint not null default 0,
  rows_loaded     bigint not null default 0,
  rows_rejected   bigint not null default 0,
  files           integer not null default 0,
  error           text,
  updated_at      timestamptz not null default now(),
  primary key (pipeline, partition_key)
);
comment on table etl.partitions is 'Per pipeline and partition (period): how it last ran';

create table etl.backfills (
  backfill_id      bigint generated always as identity primary key,
  pipeline         text not null,
  from_partition   text not null,
  to_partition     text not null,
  only_mode        text not null check (only_mode in ('missing', 'failed', 'all')),
  status           text not null check (status in ('running', 'succeeded', 'failed', 'interrupted')),
  partitions_total integer not null,
  started_at       timestamptz not null default now(),
  finished_at      timestamptz,
  host             text,
  pid              integer
);
comment on table etl.backfills is 'Each backfill invocation: pipeline, range, selection and outcome; the runs it made carry its backfill_id';

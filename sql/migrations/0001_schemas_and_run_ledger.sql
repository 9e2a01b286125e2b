-- bubblewatch schemas and the run ledger.
--   etl        the machinery: runs, the files each run saw, rejected rows, data-check results
--   raw        facts as loaded, one row per source line, with provenance
--   core       cleaned and derived tables, computed by sql/transforms
--   analytics  views for analysts (every view and column has a COMMENT)
create schema if not exists raw;
create schema if not exists core;
create schema if not exists analytics;

comment on schema etl is 'bubblewatch internals: run ledger, source files, rejected rows, data-check results';
comment on schema raw is 'Facts as loaded from source files, one row per source line, with provenance';
comment on schema core is 'Cleaned and derived tables, recomputed by bubblewatch transforms';
comment on schema analytics is 'Views for analysts; every view and column is documented with COMMENT';

create table etl.runs (
  run_id          bigint generated always as identity primary key,
  pipeline        text not null,
  trigger         text not null check (trigger in ('manual', 'schedule', 'backfill', 'catch-up')),
  scheduled_for   timestamptz,
  partition_key   text,
  status          text not null check (status in ('queued', 'running', 'succeeded', 'failed', 'skipped', 'interrupted')),
  attempt         integer not null default 1,
  started_at      timestamptz not null default now(),
  finished_at     timestamptz,
  heartbeat_at    timestamptz,
  files_seen      integer not null default 0,
  files_loaded    integer not null default 0,
  files_skipped   integer not null default 0,
  rows_read       bigint not null default 0,
  rows_loaded     bigint not null default 0,
  rows_rejected   bigint not null default 0,
  rows_skipped    bigint not null default 0,
  error           text,
  host            text,
  pid             integer,
  constraint runs_rows_reconcile check (rows_read = rows_loaded + rows_rejected + rows_skipped),
  constraint runs_finished_after_start check (finished_at is null or finished_at >= started_at)
);
create index runs_pipeline_started_idx on etl.runs (pipeline, started_at desc);
comment on table etl.runs is 'One row per pipeline run: trigger, status, timing and row counts (rows_read = rows_loaded + rows_rejected + rows_skipped)';

-- One row per distinct file content a pipeline has loaded. A file is identified by its
-- SHA-256: the same bytes are never loaded twice. A changed file at the same source key
-- is a new version; the old version is marked superseded and its facts stop counting.
create table etl.source_files (
  file_id         bigint generated always as identity primary key,
  pipeline        text not null,
  source_key      text not null,
  uri             text not null,
  sha256          text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes      bigint not null check (size_bytes >= 0),
  run_id          bigint not null references etl.runs (run_id),
  loaded_at       timestamptz not null default now(),
  rows_read       bigint not null default 0,
  rows_loaded     bigint not null default 0,
  rows_rejected   bigint not null default 0,
  rows_skipped    bigint not null default 0,
  superseded_by   bigint references etl.source_files (file_id),
  superseded_at   timestamptz,
  superseded_run_id bigint references etl.runs (run_id),
  constraint source_files_rows_reconcile check (rows_read = rows_loaded + rows_rejected + rows_skipped)
);
create unique index source_files_pipeline_sha256_key on etl.source_files (pipeline, sha256);
create unique index source_files_current_key on etl.source_files (pipeline, source_key) where superseded_at is null;
comment on table etl.source_files is 'Each distinct file content loaded by a pipeline (by SHA-256), with its counts and whether a newer version superseded it';

-- What each run did with each file it found: loaded, skipped (already loaded) or failed.
create table etl.run_files (
  run_id          bigint not null references etl.runs (run_id),
  uri             text not null,
  sha256          text,
  size_bytes      bigint,
  action          text not null check (action in ('loaded', 'skipped', 'failed')),
  file_id         bigint references etl.source_files (file_id),
  rows_read       bigint not null default 0,
  rows_loaded     bigint not null default 0,
  rows_rejected   bigint not null default 0,
  rows_skipped    bigint not null default 0,
  message         text,
  recorded_at     timestamptz not null default now(),
  primary key (run_id, uri)
);
comment on table etl.run_files is 'What each run did with each source file it found: loaded, skipped (same SHA-256 already loaded) or failed';

-- Rows that failed validation. The rest of the file loads; nothing is lost.
create table etl.rejects (
  reject_id       bigint generated always as identity primary key,
  run_id          bigint not null references etl.runs (run_id),
  file_id         bigint not null references etl.source_files (file_id),
  pipeline        text not null,
  uri             text not null,
  line_no         integer not null,
  column_name     text,
  column_no       integer,
  value           text,
  reason          text not null,
  problems        jsonb not null default '[]'::jsonb,
  raw_text        text not null,
  rejected_at     timestamptz not null default now()
);
create index rejects_file_idx on etl.rejects (file_id, line_no);
create index rejects_run_idx on etl.rejects (run_id);
comment on table etl.rejects is 'Source rows that failed validation: file, line, first failing column and value, every problem found, and the row as read';

-- Data checks run after transforms. Failing rows are sampled here for inspection.
create table etl.check_results (
  run_id          bigint not null references etl.runs (run_id),
  pipeline        text not null,
  check_name      text not null,
  severity        text not null check (severity in ('error', 'warn')),
  status          text not null check (status in ('passed', 'failed')),
  failing_rows    bigint not null,
  sample          jsonb not null default '[]'::jsonb,
  description     text not null,
  checked_at      timestamptz not null default now(),
  primary key (run_id, check_name)
);
comment on table etl.check_results is 'Result of each data check after a run''s transforms, with up to 20 failing rows kept for inspection';

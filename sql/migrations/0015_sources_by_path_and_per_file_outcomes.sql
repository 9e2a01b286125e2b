-- The inbox as it stands is the truth (issue 14).
--
-- A source file is identified by its pipeline and source key (its path relative to the config
-- folder, or its URL), no longer by its content: the newest bytes read at a path replace that
-- path's earlier version, also when they equal a version seen before (a file restored after a
-- bad edit), and identical bytes under two paths are two sources whose rows live and die apart.
drop index etl.source_files_pipeline_sha256_key;
create index source_files_pipeline_sha256_idx on etl.source_files (pipeline, sha256);
comment on table etl.source_files is 'Each version of each source file a pipeline loaded (identified by pipeline and source key, i.e. path or URL; its bytes by SHA-256), with its counts, and when and why it stopped counting';

-- Why a version stopped counting: a newer version at the same path replaced it, or the file left
-- the inbox and the pipeline retires missing files (pipelines.<name>.on_missing: retire).
alter table etl.source_files add column superseded_reason text
  check (superseded_reason in ('replaced', 'retired'));
update etl.source_files set superseded_reason = 'replaced' where superseded_at is not null;
alter table etl.source_files add constraint source_files_superseded_reason_set
  check ((superseded_at is null) = (superseded_reason is null));
-- A current version whose file is no longer in the inbox, kept because the pipeline keeps the rows
-- of missing files (on_missing: keep, the default): the run that first found it missing.
alter table etl.source_files add column missing_since_run_id bigint references etl.runs (run_id);
comment on column etl.source_files.superseded_reason is 'replaced: a newer version at the same path; retired: the file left the inbox and the pipeline retires missing files';
comment on column etl.source_files.missing_since_run_id is 'For a current version: the run that first found its file gone from the inbox (its rows are kept); NULL while the file is there';

-- A run can now end partial: some files failed alone (each refused whole, nothing of it kept)
-- while the others loaded.
alter table etl.runs drop constraint runs_status_check;
alter table etl.runs add constraint runs_status_check
  check (status in ('queued', 'running', 'succeeded', 'partial', 'failed', 'skipped', 'interrupted'));
alter table etl.runs add column files_failed integer not null default 0;
comment on column etl.runs.files_failed is 'Source files this run refused whole (their errors are in etl.run_files); the run is partial when other files loaded';
comment on table etl.runs is 'One row per pipeline run: trigger, status (partial: some files failed alone, the rest loaded), timing and row counts (rows_read = rows_loaded + rows_rejected + rows_skipped)';

alter table etl.partitions drop constraint partitions_status_check;
alter table etl.partitions add constraint partitions_status_check
  check (status in ('succeeded', 'partial', 'failed', 'interrupted', 'no_input'));

-- What a run did with each file: loaded, skipped (unchanged), failed (refused whole, or unchanged
-- since it failed), missing (gone from the inbox, rows kept), retired (gone, rows no longer count),
-- changed (its bytes changed between listing and reading: left for the next run).
alter table etl.run_files drop constraint run_files_action_check;
alter table etl.run_files add constraint run_files_action_check
  check (action in ('loaded', 'skipped', 'failed', 'missing', 'retired', 'changed'));
comment on table etl.run_files is 'What each run did with each source file: loaded, skipped (unchanged since it loaded), failed (refused whole), missing (gone from the inbox; rows kept), retired (gone; rows no longer count) or changed (its bytes changed while it was read; left for the next run)';

-- The latest failure of each source path: a file refused whole is not read again until its
-- bytes change (or `run --retry-failed`); the row goes when the path loads or leaves the inbox.
create table etl.file_failures (
  pipeline      text not null,
  source_key    text not null,
  uri           text not null,
  sha256        text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes    bigint not null check (size_bytes >= 0),
  first_run_id  bigint not null references etl.runs (run_id),
  run_id        bigint not null references etl.runs (run_id),
  error         text not null,
  failed_at     timestamptz not null default now(),
  primary key (pipeline, source_key)
);
comment on table etl.file_failures is 'Source files that failed and have not changed since: one row per pipeline and path, with the error; a failed file is read again only when its bytes change';

-- One row per pipeline, locked (select … for update) by the run that loads it, so that one run
-- per pipeline works at a time. A row lock needs UPDATE on the table, which the read-only analyst
-- role lacks, so an analyst session cannot stall the pipelines (an advisory lock is open to any role).
create table etl.pipeline_locks (
  pipeline   text primary key
);
comment on table etl.pipeline_locks is 'One row per pipeline; a run holds its row locked while it loads, so one run per pipeline works at a time';

-- A period's file the publisher has not published yet (issue 16): the SEC answers 404 for the
-- Financial Statement Data Set of a quarter until it is out. Such a file is not a failure: the
-- run records it as not_available, succeeds, and the next tick asks again.
alter table etl.run_files drop constraint run_files_action_check;
alter table etl.run_files add constraint run_files_action_check
  check (action in ('loaded', 'skipped', 'failed', 'missing', 'retired', 'changed', 'not_available'));
comment on table etl.run_files is 'What each run did with each source file: loaded, skipped (unchanged since it loaded), failed (refused whole), missing (gone from the inbox; rows kept), retired (gone; rows no longer count), changed (its bytes changed while it was read; left for the next run) or not_available (the publisher has not published it yet, e.g. HTTP 404 for the latest quarter; asked again next run)';

alter table etl.partitions drop constraint partitions_status_check;
alter table etl.partitions add constraint partitions_status_check
  check (status in ('succeeded', 'partial', 'failed', 'interrupted', 'no_input', 'not_available'));
comment on column etl.partitions.status is 'How the last run of this partition went; not_available: its file is not published yet (the run succeeded and the next one asks again)';

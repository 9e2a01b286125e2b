-- core.index_refresh_scope: the index dates this run recomputes.
-- reads: raw.index_constituents, run_scope, etl.source_files, core.index_settings, core.index_issuer_overrides, core.index_sector_overrides, core.gics_sector_names
-- reads previous: core.index_concentration
-- writes: core.index_refresh_scope
--
-- The dates held by the cap files in this run's scope, run_scope (loaded, replaced or retired:
-- a replaced or retired file's dates are recomputed from what remains, and vanish if no
-- current file holds them any more). Every
-- date when an issuer map was loaded or superseded, the settings changed (full refresh) or
-- the run is a full refresh: issuers and sectors of every date may have changed.
-- A BRIN index summarizes a range of pages when VACUUM runs, not when COPY fills them, and an
-- index scan has to read every page that no summary covers: on a table that was loaded and not
-- vacuumed since, every page. The lookups below by file and by date then read the whole table
-- (a new trading day took 1 s here and 1.5 s in constituents_20_rows.sql over 4.4M rows).
-- Summarizing the new ranges reads only the pages loaded since the last summary; after that,
-- each insert keeps its range's summary up to date.
do $$
begin
  perform brin_summarize_new_values('raw.index_constituents_file_brin'::regclass);
  perform brin_summarize_new_values('raw.index_constituents_as_of_brin'::regclass);
end $$;

-- The rows this run loaded are not in the planner's statistics yet; without them it picks nested
-- loops over thousands of rows. That matters when they are a sizeable part of the table (a first
-- load, a backfill); one new day among years of them changes nothing, and sampling the table
-- would cost more than the rest of the run.
do $$
begin
  if (select coalesce(sum(s.rows_loaded), 0) from run_scope s) * 10
     >= (select greatest(c.reltuples, 0) from pg_class c where c.oid = 'raw.index_constituents'::regclass) then
    analyze raw.index_constituents;
  end if;
end $$;
-- The one-row settings and the override lists too: never analyzed, they are guessed at hundreds
-- of rows, which multiplies every estimate that joins them and switches on JIT compilation that
-- costs more than the query. And the file list (one row a file): constituents_20_rows.sql leaves
-- out the rows of superseded files by an anti-join that is estimated from it.
analyze core.index_settings, core.index_issuer_overrides, core.index_sector_overrides, core.gics_sector_names, etl.source_files;

insert into core.index_refresh_scope (run_id, index_code, as_of)
with settings as (
  select current_setting('bubblewatch.run_id')::bigint      as run_id,
         current_setting('bubblewatch.full_refresh') = 'on' as full_refresh
),

everything as (
  select s.full_refresh
         or exists (
           select 1
           from raw.index_constituents r
           join run_scope t on t.file_id = r.file_id
           where r.record_kind = 'issuer'
         ) as yes
  from settings s
),

-- The range lets the BRIN index on file_id skip the rest of the table.
touched_dates as (
  select distinct r.index_code, r.as_of
  from raw.index_constituents r
  join run_scope t on t.file_id = r.file_id
  where r.record_kind = 'cap'
    and r.file_id between (select min(file_id) from run_scope) and (select max(file_id) from run_scope)
),

all_dates as (
  select distinct r.index_code, r.as_of
  from raw.index_constituents r
  join etl.source_files f on f.file_id = r.file_id and f.superseded_at is null
  cross join everything e
  where e.yes and r.record_kind = 'cap'
  union
  select c.index_code, c.as_of
  from core.index_concentration c
  cross join everything e
  where e.yes
),

final as (
  select index_code, as_of from touched_dates
  union
  select index_code, as_of from all_dates
)

select s.run_id, f.index_code, f.as_of
from final f
cross join settings s
on conflict do nothing;

-- The scope drives every later transform: give the planner its size.
analyze core.index_refresh_scope;

-- core.fred_observations: the current value of each (series_id, observation_date).
-- reads: raw.fred_observations, etl.source_files, run_scope
-- writes: core.fred_observations
--
-- The current value comes from the newest current file version that holds the key
-- (versions a changed file superseded no longer count); within one file the last line wins.
-- Only keys held by the files in this run's scope (loaded, replaced or retired) are
-- recomputed, unless the run is a full refresh: then every key of every file and every stored
-- key. Keys that no current file holds any more are removed. Unchanged rows are not
-- rewritten, so a re-run changes nothing. analytics.buffett_indicator reads this table
-- directly, so the indicator follows without a transform of its own.
with settings as (
  select current_setting('bubblewatch.full_refresh') = 'on' as full_refresh
),

affected_keys as (
  select distinct r.series_id, r.observation_date
  from raw.fred_observations r
  join run_scope t on t.file_id = r.file_id
  union
  select r.series_id, r.observation_date
  from raw.fred_observations r
  cross join settings s
  where s.full_refresh
  union
  select c.series_id, c.observation_date
  from core.fred_observations c
  cross join settings s
  where s.full_refresh
),

current_values as (
  select distinct on (r.series_id, r.observation_date)
         r.series_id, r.observation_date, r.value, r.file_id, r.line_no, r.run_id
  from raw.fred_observations r
  join etl.source_files f on f.file_id = r.file_id and f.superseded_at is null
  join affected_keys k on k.series_id = r.series_id and k.observation_date = r.observation_date
  order by r.series_id, r.observation_date, r.file_id desc, r.line_no desc
),

removed as (
  delete from core.fred_observations c
  using affected_keys k
  where c.series_id = k.series_id and c.observation_date = k.observation_date
    and not exists (
      select 1 from current_values v
      where v.series_id = c.series_id and v.observation_date = c.observation_date
    )
  returning 1
)

insert into core.fred_observations (series_id, observation_date, value, file_id, line_no, run_id, updated_at)
select series_id, observation_date, value, file_id, line_no, run_id, now()
from current_values
on conflict (series_id, observation_date) do update
  set value      = excluded.value,
      file_id    = excluded.file_id,
      line_no    = excluded.line_no,
      run_id     = excluded.run_id,
      updated_at = excluded.updated_at
  where (core.fred_observations.value, core.fred_observations.file_id, core.fred_observations.line_no)
        is distinct from (excluded.value, excluded.file_id, excluded.line_no);

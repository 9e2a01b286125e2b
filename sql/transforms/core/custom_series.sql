-- core.custom_series: the current value of each (series, subject, observation_date).
-- reads: raw.custom_series, etl.source_files, run_scope
-- writes: core.custom_series
--
-- The current value comes from the newest file version that holds the key (versions a
-- changed file superseded no longer count); within one file the last line wins.
-- Only keys held by the files in this run's scope (loaded, replaced or retired) are
-- recomputed, unless the run is a full refresh: then every key of every file and every stored
-- key. Keys that no current file holds any more are removed. Unchanged rows are not
-- rewritten, so a re-run changes nothing.
with settings as (
  select current_setting('bubblewatch.full_refresh') = 'on' as full_refresh
),

affected_keys as (
  select distinct r.series, r.subject, r.observation_date
  from raw.custom_series r
  join run_scope t on t.file_id = r.file_id
  union
  select r.series, r.subject, r.observation_date
  from raw.custom_series r
  cross join settings s
  where s.full_refresh
  union
  select c.series, c.subject, c.observation_date
  from core.custom_series c
  cross join settings s
  where s.full_refresh
),

current_values as (
  select distinct on (r.series, r.subject, r.observation_date)
         r.series, r.subject, r.observation_date, r.value, r.unit, r.source,
         r.file_id, r.line_no, r.run_id
  from raw.custom_series r
  join etl.source_files f on f.file_id = r.file_id and f.superseded_at is null
  join affected_keys k
    on k.series = r.series and k.subject = r.subject and k.observation_date = r.observation_date
  order by r.series, r.subject, r.observation_date, r.file_id desc, r.line_no desc
),

removed as (
  delete from core.custom_series c
  using affected_keys k
  where c.series = k.series and c.subject = k.subject and c.observation_date = k.observation_date
    and not exists (
      select 1 from current_values v
      where v.series = c.series and v.subject = c.subject and v.observation_date = c.observation_date
    )
  returning 1
),

final as (
  select * from current_values
)

insert into core.custom_series
  (series, subject, observation_date, value, unit, source, file_id, line_no, run_id, updated_at)
select series, subject, observation_date, value, unit, source, file_id, line_no, run_id, now()
from final
on conflict (series, subject, observation_date) do update
  set value      = excluded.value,
      unit       = excluded.unit,
      source     = excluded.source,
      file_id    = excluded.file_id,
      line_no    = excluded.line_no,
      run_id     = excluded.run_id,
      updated_at = excluded.updated_at
  where (core.custom_series.value, core.custom_series.unit, core.custom_series.source,
         core.custom_series.file_id, core.custom_series.line_no)
        is distinct from
        (excluded.value, excluded.unit, excluded.source, excluded.file_id, excluded.line_no);

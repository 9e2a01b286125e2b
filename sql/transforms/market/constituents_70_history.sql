-- core.index_concentration, history columns: each date against the index's own history.
-- reads: index_concentration_dates, core.index_settings, core.index_concentration
-- writes: core.index_concentration
--
-- A changed date moves the previous-snapshot changes, rolling averages and percentiles of
-- the dates after it and of no date before it, so the dates from the first one in this
-- run's scope whose figures constituents_40_concentration.sql rebuilt on are recomputed (a new
-- trading day: that day only; a full refresh that changes nothing: none), each against the whole
-- history before it. Rows whose figures do not change are not rewritten.
--   previous_as_of, *_change   the index's snapshot before this one, and the change since
--   *_rolling_avg              average over the snapshots of the last rolling_window_days days
--   *_percentile               share of the snapshots up to this date at or below this value
-- Fresh statistics for the dates just rebuilt (constituents_40_concentration.sql), read here and in
-- constituents_80_cap_changes.sql, when this run's dates are a tenth of the history or more.
-- Sorts and windows over the whole history: at the default 4 MB they spill to disk.
set local work_mem = '256MB';
set local jit = off;

do $$
begin
  if (select count(*) from index_concentration_dates) * 10
     >= (select count(*) from core.index_concentration) then
    analyze core.index_concentration;
  end if;
end $$;

with settings as (
  select rolling_window_days from core.index_settings
  union all
  select 365 where not exists (select 1 from core.index_settings)
),

indices as (
  select index_code, min(as_of) as recompute_from
  from index_concentration_dates
  group by index_code
),

snapshots as (
  select c.index_code, c.as_of, c.top10_share, c.effective_n, c.tech_sector_share,
         c.as_of >= i.recompute_from as is_recomputed,
         lag(c.as_of) over w as previous_as_of,
         c.top10_share - lag(c.top10_share) over w as top10_share_change,
         c.effective_n - lag(c.effective_n) over w as effective_n_change
  from core.index_concentration c
  join indices i on i.index_code = c.index_code
  window w as (partition by c.index_code order by c.as_of)
),

rolling as (
  select s.index_code, s.as_of, st.rolling_window_days,
         count(h.as_of)::integer as rolling_snapshots,
         avg(h.top10_share) as top10_share_rolling_avg,
         avg(h.effective_n) as effective_n_rolling_avg,
         avg(h.tech_sector_share) as tech_sector_share_rolling_avg
  from snapshots s
  cross join settings st
  join snapshots h
    on h.index_code = s.index_code
   and h.as_of <= s.as_of
   and h.as_of > s.as_of - st.rolling_window_days
  where s.is_recomputed
  group by s.index_code, s.as_of, st.rolling_window_days
),

ranks as (
  select s.index_code, s.as_of,
         count(h.as_of)::integer as history_snapshots,
         case when count(h.top10_share) > 0 and s.top10_share is not null
              then (count(*) filter (where h.top10_share <= s.top10_share))::numeric / count(h.top10_share) end as top10_share_percentile,
         case when count(h.effective_n) > 0 and s.effective_n is not null
              then (count(*) filter (where h.effective_n <= s.effective_n))::numeric / count(h.effective_n) end as effective_n_percentile
  from snapshots s
  join snapshots h on h.index_code = s.index_code and h.as_of <= s.as_of
  where s.is_recomputed
  group by s.index_code, s.as_of, s.top10_share, s.effective_n
),

final as (
  select s.index_code, s.as_of, s.previous_as_of, s.top10_share_change, s.effective_n_change,
         r.rolling_window_days, r.rolling_snapshots, r.top10_share_rolling_avg, r.effective_n_rolling_avg,
         r.tech_sector_share_rolling_avg, k.history_snapshots, k.top10_share_percentile, k.effective_n_percentile
  from snapshots s
  join rolling r on r.index_code = s.index_code and r.as_of = s.as_of
  join ranks k on k.index_code = s.index_code and k.as_of = s.as_of
)

update core.index_concentration c
set previous_as_of                = f.previous_as_of,
    top10_share_change            = f.top10_share_change,
    effective_n_change            = f.effective_n_change,
    rolling_window_days           = f.rolling_window_days,
    rolling_snapshots             = f.rolling_snapshots,
    top10_share_rolling_avg       = f.top10_share_rolling_avg,
    effective_n_rolling_avg       = f.effective_n_rolling_avg,
    tech_sector_share_rolling_avg = f.tech_sector_share_rolling_avg,
    history_snapshots             = f.history_snapshots,
    top10_share_percentile        = f.top10_share_percentile,
    effective_n_percentile        = f.effective_n_percentile
from final f
where c.index_code = f.index_code and c.as_of = f.as_of
  and (c.previous_as_of, c.top10_share_change, c.effective_n_change, c.rolling_window_days, c.rolling_snapshots,
       c.top10_share_rolling_avg, c.effective_n_rolling_avg, c.tech_sector_share_rolling_avg, c.history_snapshots,
       c.top10_share_percentile, c.effective_n_percentile)
      is distinct from
      (f.previous_as_of, f.top10_share_change, f.effective_n_change, f.rolling_window_days, f.rolling_snapshots,
       f.top10_share_rolling_avg, f.effective_n_rolling_avg, f.tech_sector_share_rolling_avg, f.history_snapshots,
       f.top10_share_percentile, f.effective_n_percentile);

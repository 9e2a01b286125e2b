-- core.shiller_monthly: one vintage of Shiller's monthly data with CAPE recomputed.
-- reads: raw.shiller_monthly, etl.source_files
-- writes: core.shiller_monthly
--
-- Which vintage: each file is a complete history as of its release (Shiller revises earnings
-- and CPI every month), so the series is taken from one file, never spliced: the current
-- (not superseded) file whose data reach the latest month with a price and a CPI; on a tie
-- the most recently loaded. Within that file the last line of a month wins.
--
-- CAPE, with Shiller's convention (it reproduces his published CAPE for every month):
--   real_x(t)  = x(t) × CPI_latest / CPI(t)
--   CAPE(t)    = real_price(t) / mean(real_earnings(k) for the 120 months k = t−120 … t−1)
-- The window ends the month BEFORE t, and months without earnings (the latest ones, which
-- Shiller leaves blank) are left out of the mean, as his spreadsheet's AVERAGE does. CPI_latest
-- cancels out of the ratio, so CAPE(t) = (price(t)/CPI(t)) / mean(earnings(k)/CPI(k)) and is
-- stored independent of the CPI base; real levels are derived in analytics.cape.
-- CAPE is NULL until the series reaches 120 months back, or when fewer than 108 of the 120
-- months have earnings.
--
-- Percentile, z-score, mean and standard deviation are over the history up to and including each month
-- (expanding window, no look-ahead), NULL until 120 months of CAPE exist.
--
-- Recomputed in full whenever the pipeline runs its transforms (a file was loaded, or a full
-- refresh): ~1,900 months. A new vintage revises the whole history anyway. Rows whose values
-- did not change are not rewritten, so a re-run changes nothing.
-- Every current version counts, not only this run's: the vintage is chosen among all of them.
with current_files as (
  select f.file_id
  from etl.source_files f
  where f.superseded_at is null
),

primary_file as (
  select r.file_id
  from raw.shiller_monthly r
  join current_files c on c.file_id = r.file_id
  where r.price is not null
    and r.cpi is not null
  group by r.file_id
  order by max(r.month) desc, r.file_id desc
  limit 1
),

months as (
  select distinct on (r.month) r.*
  from raw.shiller_monthly r
  join primary_file p on p.file_id = r.file_id
  order by r.month, r.line_no desc
),

deflated as (
  select m.*,
         m.price / m.cpi        as price_per_cpi,
         m.earnings / m.cpi     as earnings_per_cpi,
         min(m.month) over ()   as first_month
  from months m
),

windowed as (
  select d.*,
         avg(d.earnings_per_cpi) over w     as earnings_10y_per_cpi,
         count(d.earnings_per_cpi) over w   as earnings_months_in_window
  from deflated d
  window w as (order by d.month range between interval '120 months' preceding and interval '1 month' preceding)
),

with_cape as (
  select w.*,
         case when w.first_month <= (w.month - interval '120 months')::date
               and w.earnings_months_in_window >= 108
               and w.earnings_10y_per_cpi > 0
              then w.price_per_cpi / w.earnings_10y_per_cpi
         end as cape
  from windowed w
),

history as (
  select c.*,
         count(c.cape) over h         as history_months,
         avg(c.cape) over h           as cape_mean_to_date,
         stddev_samp(c.cape) over h   as cape_stddev_to_date
  from with_cape c
  window h as (order by c.month rows between unbounded preceding and current row)
),

ranks as (
  -- For each month, the CAPEs up to and including it, and the share of them at or below its
  -- own. (An expanding array is several times faster than a self-join on the embedded database.)
  select e.month,
         (select count(*) from unnest(e.history) as k(cape) where k.cape <= e.cape)::numeric
           / cardinality(e.history) as cape_percentile
  from (
    select c.month, c.cape::float8 as cape,
           array_agg(c.cape::float8) over (order by c.month rows between unbounded preceding and current row) as history
    from with_cape c
    where c.cape is not null
  ) e
),

final as (
  select
    h.month, h.layout, h.price, h.dividend, h.earnings, h.cpi, h.gs10, h.cape_published,
    h.earnings_10y_per_cpi,
    h.earnings_months_in_window::integer                                      as earnings_months_in_window,
    h.cape,
    h.history_months::integer                                                 as history_months,
    case when h.history_months >= 120 then h.cape_mean_to_date end            as cape_mean_to_date,
    case when h.history_months >= 120 then h.cape_stddev_to_date end          as cape_stddev_to_date,
    case when h.history_months >= 120 then r.cape_percentile end              as cape_percentile,
    case when h.history_months >= 120 and h.cape_stddev_to_date > 0
         then (h.cape - h.cape_mean_to_date) / h.cape_stddev_to_date end      as cape_zscore,
    h.file_id, h.line_no, h.run_id
  from history h
  left join ranks r on r.month = h.month
),

removed as (
  delete from core.shiller_monthly c
  where not exists (select 1 from final f where f.month = c.month)
  returning 1
)

insert into core.shiller_monthly
  (month, layout, price, dividend, earnings, cpi, gs10, cape_published,
   earnings_10y_per_cpi, earnings_months_in_window, cape, history_months,
   cape_mean_to_date, cape_stddev_to_date, cape_percentile, cape_zscore,
   file_id, line_no, run_id, updated_at)
select month, layout, price, dividend, earnings, cpi, gs10, cape_published,
       earnings_10y_per_cpi, earnings_months_in_window, cape, history_months,
       cape_mean_to_date, cape_stddev_to_date, cape_percentile, cape_zscore,
       file_id, line_no, run_id, now()
from final
on conflict (month) do update
  set layout                    = excluded.layout,
      price                     = excluded.price,
      dividend                  = excluded.dividend,
      earnings                  = excluded.earnings,
      cpi                       = excluded.cpi,
      gs10                      = excluded.gs10,
      cape_published            = excluded.cape_published,
      earnings_10y_per_cpi      = excluded.earnings_10y_per_cpi,
      earnings_months_in_window = excluded.earnings_months_in_window,
      cape                      = excluded.cape,
      history_months            = excluded.history_months,
      cape_mean_to_date         = excluded.cape_mean_to_date,
      cape_stddev_to_date       = excluded.cape_stddev_to_date,
      cape_percentile           = excluded.cape_percentile,
      cape_zscore               = excluded.cape_zscore,
      file_id                   = excluded.file_id,
      line_no                   = excluded.line_no,
      run_id                    = excluded.run_id,
      updated_at                = excluded.updated_at
  where (core.shiller_monthly.layout, core.shiller_monthly.price, core.shiller_monthly.dividend,
         core.shiller_monthly.earnings, core.shiller_monthly.cpi, core.shiller_monthly.gs10,
         core.shiller_monthly.cape_published, core.shiller_monthly.earnings_10y_per_cpi,
         core.shiller_monthly.earnings_months_in_window, core.shiller_monthly.cape,
         core.shiller_monthly.history_months, core.shiller_monthly.cape_mean_to_date,
         core.shiller_monthly.cape_stddev_to_date, core.shiller_monthly.cape_percentile,
         core.shiller_monthly.cape_zscore, core.shiller_monthly.file_id, core.shiller_monthly.line_no)
        is distinct from
        (excluded.layout, excluded.price, excluded.dividend, excluded.earnings, excluded.cpi, excluded.gs10,
         excluded.cape_published, excluded.earnings_10y_per_cpi, excluded.earnings_months_in_window,
         excluded.cape, excluded.history_months, excluded.cape_mean_to_date, excluded.cape_stddev_to_date,
         excluded.cape_percentile, excluded.cape_zscore, excluded.file_id, excluded.line_no);

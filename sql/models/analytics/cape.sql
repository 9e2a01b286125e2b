with cpi_base as (
  -- Real values are in dollars of the latest month with a CPI ("latest CPI"), as Shiller's are.
  select m.month as cpi_base_month, m.cpi as cpi_base
  from core.shiller_monthly m
  where m.cpi is not null
  order by m.month desc
  limit 1
),

dotcom_peak as (
  select m.cape as cape_1999_12
  from core.shiller_monthly m
  where m.month = date '1999-12-01'
)

select
  c.month,
  (c.month + interval '1 month' - interval '1 day')::date     as period_end,
  c.price,
  c.dividend,
  c.earnings,
  c.cpi,
  c.gs10,
  c.price * b.cpi_base / c.cpi                                 as real_price,
  c.earnings * b.cpi_base / c.cpi                              as real_earnings,
  c.earnings_10y_per_cpi * b.cpi_base                          as real_earnings_10y_avg,
  c.earnings_months_in_window,
  c.cape,
  c.cape_published                                             as cape_shiller,
  c.cape / c.cape_published - 1                                as cape_vs_shiller,
  c.cape_percentile,
  c.cape_zscore,
  c.cape_mean_to_date,
  c.cape_stddev_to_date,
  c.history_months,
  p.cape_1999_12,
  c.cape / p.cape_1999_12                                      as cape_to_1999_peak,
  p.cape_1999_12 - c.cape                                      as cape_points_below_1999_peak,
  b.cpi_base_month,
  b.cpi_base,
  c.layout,
  f.uri                                                        as source_file,
  f.sha256                                                     as source_sha256,
  c.line_no                                                    as source_line,
  c.run_id,
  f.loaded_at
from core.shiller_monthly c
left join cpi_base b on true
left join dotcom_peak p on true
join etl.source_files f on f.file_id = c.file_id

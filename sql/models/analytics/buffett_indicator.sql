with inputs as (
  select o.series_id, o.observation_date, o.value, o.value * s.multiplier as amount, s.unit, o.file_id, o.line_no
  from core.fred_observations o
  join core.fred_series s on s.series_id = o.series_id
  where o.series_id in ('NCBEILQ027S', 'GDP')
    -- FRED dates a quarter by its first day.
    and extract(day from o.observation_date) = 1
    and extract(month from o.observation_date) in (1, 4, 7, 10)
),

quarters as (
  select
    e.observation_date                                                     as quarter_start,
    e.value                                                                as equities_value,
    e.amount                                                               as equities_usd,
    g.value                                                                as gdp_value,
    g.amount                                                               as gdp_usd,
    case when e.unit = g.unit and g.amount > 0 then 100 * e.amount / g.amount end as buffett_indicator_pct,
    e.file_id as equities_file_id, e.line_no as equities_line,
    g.file_id as gdp_file_id, g.line_no as gdp_line
  from inputs e
  join inputs g on g.series_id = 'GDP' and g.observation_date = e.observation_date
  where e.series_id = 'NCBEILQ027S'
),

history as (
  select q.*,
         count(q.buffett_indicator_pct) over h        as history_quarters,
         avg(q.buffett_indicator_pct) over h          as mean_pct_to_date,
         stddev_samp(q.buffett_indicator_pct) over h  as stddev_pct_to_date
  from quarters q
  window h as (order by q.quarter_start rows between unbounded preceding and current row)
),

ranks as (
  select t.quarter_start,
         count(*) filter (where h.buffett_indicator_pct <= t.buffett_indicator_pct)::numeric / count(*) as percentile
  from quarters t
  join quarters h on h.quarter_start <= t.quarter_start and h.buffett_indicator_pct is not null
  where t.buffett_indicator_pct is not null
  group by t.quarter_start
)

select
  h.quarter_start,
  (h.quarter_start + interval '3 months' - interval '1 day')::date           as period_end,
  to_char(h.quarter_start, 'YYYY-"Q"Q')                                      as quarter,
  h.equities_value                                                           as equities_usd_mn,
  h.gdp_value                                                                as gdp_usd_bn_saar,
  h.equities_usd / 1e9                                                       as equities_usd_bn,
  h.buffett_indicator_pct,
  h.history_quarters,
  case when h.history_quarters >= 40 then h.mean_pct_to_date end           as mean_pct_to_date,
  case when h.history_quarters >= 40 then h.stddev_pct_to_date end         as stddev_pct_to_date,
  case when h.history_quarters >= 40 and h.stddev_pct_to_date > 0
       then (h.buffett_indicator_pct - h.mean_pct_to_date) / h.stddev_pct_to_date end as zscore,
  case when h.history_quarters >= 40 then r.percentile end                  as percentile,
  ef.uri    as equities_source_file,
  h.equities_line,
  gf.uri    as gdp_source_file,
  h.gdp_line
from history h
left join ranks r on r.quarter_start = h.quarter_start
join etl.source_files ef on ef.file_id = h.equities_file_id
join etl.source_files gf on gf.file_id = h.gdp_file_id

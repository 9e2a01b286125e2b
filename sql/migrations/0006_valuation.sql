-- Valuation: Shiller's CAPE (pipeline shiller) and the Buffett indicator (pipeline fred).
--
-- raw.*   as loaded, one row per source line (or per line and series for FRED), with provenance
-- core.*  the current series, computed by sql/transforms/market/valuation_*.sql
-- analytics.cape, analytics.fred_series, analytics.buffett_indicator  views for analysts

---------------------------------------------------------------------------------------------
-- Shiller monthly data
---------------------------------------------------------------------------------------------

-- Raw tables carry file_id and run_id without foreign keys: they are bulk-loaded (see 0008).
create table raw.shiller_monthly (
  file_id         bigint not null,
  line_no         integer not null,
  run_id          bigint not null,
  layout          text not null check (layout in ('shiller-xls', 'datasets-sp500')),
  month           date not null check (extract(day from month) = 1),
  price           numeric check (price > 0),
  dividend        numeric,
  earnings        numeric,
  cpi             numeric check (cpi > 0),
  gs10            numeric,
  cape_published  numeric,
  primary key (file_id, line_no)
);
comment on table raw.shiller_monthly is
  'Shiller monthly S&P Composite data as loaded: one row per month line of a source file (missing values are NULL), with the file and line it came from';

-- The series analysts see: one vintage (one file) of Shiller's data, with CAPE recomputed.
-- Real values are not stored: they depend on the latest CPI and are derived in analytics.cape.
create table core.shiller_monthly (
  month                     date primary key,
  layout                    text not null,
  price                     numeric,
  dividend                  numeric,
  earnings                  numeric,
  cpi                       numeric,
  gs10                      numeric,
  cape_published            numeric,
  earnings_10y_per_cpi      numeric,
  earnings_months_in_window integer not null,
  cape                      numeric,
  history_months            integer not null,
  cape_mean_to_date         numeric,
  cape_stddev_to_date       numeric,
  cape_percentile           numeric check (cape_percentile between 0 and 1),
  cape_zscore               numeric,
  file_id                   bigint not null references etl.source_files (file_id),
  line_no                   integer not null,
  run_id                    bigint not null references etl.runs (run_id),
  updated_at                timestamptz not null default now()
);
comment on table core.shiller_monthly is
  'Shiller monthly series from one vintage (the current file reaching the latest month with price and CPI; newest load on a tie) with CAPE recomputed and ranked against its history';
comment on column core.shiller_monthly.earnings_10y_per_cpi is
  'Mean of earnings / CPI over the 120 months before this month (months with earnings only); times the base CPI it is the 10-year average real earnings';

create view analytics.cape as
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
join etl.source_files f on f.file_id = c.file_id;

comment on view analytics.cape is
  'S&P Composite cyclically adjusted P/E (CAPE), monthly, recomputed from Shiller''s price, earnings and CPI: '
  'real price / mean real earnings of the 120 months before the month (Shiller''s convention: the window ends the month before; '
  'months without earnings are left out of the mean, as his spreadsheet does). Shiller''s published CAPE is kept beside it. '
  'Percentile, z-score, mean and standard deviation use the history up to and including each month (no look-ahead: what an analyst could have known then), '
  'and are NULL until 120 months of CAPE exist. One vintage (source file) is shown; see core.shiller_monthly.';
comment on column analytics.cape.month is 'Month (first day); Shiller''s prices are monthly averages of daily closes';
comment on column analytics.cape.period_end is 'Last day of the month, for joining with other indicators by period end';
comment on column analytics.cape.price is 'S&P Composite price index, nominal (Shiller P; datasets SP500)';
comment on column analytics.cape.dividend is 'Dividends per share, trailing twelve months, nominal (Shiller D); NULL where not yet published';
comment on column analytics.cape.earnings is 'Earnings per share, trailing twelve months, nominal (Shiller E); NULL for the latest months, which Shiller leaves blank';
comment on column analytics.cape.cpi is 'Consumer price index, CPI-U, 1982-84 = 100 (Shiller CPI)';
comment on column analytics.cape.gs10 is 'Ten-year US Treasury yield, percent (Shiller Rate GS10; datasets Long Interest Rate)';
comment on column analytics.cape.real_price is 'Price in dollars of cpi_base_month: price × cpi_base / cpi. Changes whenever a newer month''s CPI arrives';
comment on column analytics.cape.real_earnings is 'Earnings in dollars of cpi_base_month: earnings × cpi_base / cpi';
comment on column analytics.cape.real_earnings_10y_avg is 'Mean real earnings over the 120 months before this month, in dollars of cpi_base_month (the CAPE denominator)';
comment on column analytics.cape.earnings_months_in_window is 'How many of the 120 months before this month have earnings (CAPE needs at least 108)';
comment on column analytics.cape.cape is 'CAPE computed here: real_price / real_earnings_10y_avg. NULL until 120 months of history exist. Independent of the CPI base';
comment on column analytics.cape.cape_shiller is 'CAPE as published in the source file (Shiller CAPE; datasets PE10), for comparison';
comment on column analytics.cape.cape_vs_shiller is 'cape / cape_shiller − 1 (0.001 = computed CAPE 0.1% above the published one)';
comment on column analytics.cape.cape_percentile is 'Share of months up to and including this one whose CAPE is at or below this month''s (1 = highest so far); NULL before 120 months of CAPE';
comment on column analytics.cape.cape_zscore is '(cape − cape_mean_to_date) / cape_stddev_to_date; NULL before 120 months of CAPE';
comment on column analytics.cape.cape_mean_to_date is 'Long-run mean of CAPE over all months up to and including this one (for the latest month, the whole history); NULL before 120 months of CAPE';
comment on column analytics.cape.cape_stddev_to_date is 'Sample standard deviation of CAPE over all months up to and including this one; NULL before 120 months of CAPE';
comment on column analytics.cape.history_months is 'Number of months with a CAPE up to and including this one';
comment on column analytics.cape.cape_1999_12 is 'CAPE of December 1999, the dot-com peak (44.2 in Shiller''s data); NULL if the series lacks that month';
comment on column analytics.cape.cape_to_1999_peak is 'cape / cape_1999_12 (0.9 = 10% below the December 1999 peak)';
comment on column analytics.cape.cape_points_below_1999_peak is 'cape_1999_12 − cape, in CAPE points (negative above the peak)';
comment on column analytics.cape.cpi_base_month is 'Latest month with a CPI: real values are in its dollars';
comment on column analytics.cape.cpi_base is 'CPI of cpi_base_month';
comment on column analytics.cape.layout is 'Source layout: shiller-xls (Shiller ie_data Data sheet) or datasets-sp500 (github.com/datasets/s-and-p-500)';
comment on column analytics.cape.source_file is 'Location of the file the month was loaded from';
comment on column analytics.cape.source_sha256 is 'SHA-256 of that file''s content';
comment on column analytics.cape.source_line is 'Line number of the month in that file';
comment on column analytics.cape.run_id is 'bubblewatch run that loaded the line (etl.runs.run_id)';
comment on column analytics.cape.loaded_at is 'When the file was loaded';

---------------------------------------------------------------------------------------------
-- FRED series
---------------------------------------------------------------------------------------------

create table raw.fred_observations (
  file_id           bigint not null,
  line_no           integer not null,
  run_id            bigint not null,
  series_id         text not null,
  observation_date  date not null,
  value             numeric not null,
  primary key (file_id, line_no, series_id)
);
comment on table raw.fred_observations is
  'FRED observations as loaded: one row per line and series column of a FRED CSV; missing values ("." or empty) are not stored (counted as skipped)';

-- Units per series come from the configuration (pipelines.fred.options.series), written by each run.
create table core.fred_series (
  series_id    text primary key,
  unit         text not null,
  scale        text not null check (scale in ('ones', 'thousands', 'millions', 'billions', 'trillions')),
  multiplier   numeric not null check (multiplier > 0),
  description  text,
  updated_at   timestamptz not null default now()
);
comment on table core.fred_series is 'Configured FRED series: unit, scale (millions, billions, …) and the multiplier that turns a value into whole units';

create table core.fred_observations (
  series_id         text not null,
  observation_date  date not null,
  value             numeric not null,
  file_id           bigint not null references etl.source_files (file_id),
  line_no           integer not null,
  run_id            bigint not null references etl.runs (run_id),
  updated_at        timestamptz not null default now(),
  primary key (series_id, observation_date)
);
comment on table core.fred_observations is
  'Current value of each FRED series observation: from the newest current file that holds it; within a file the last line wins';

create view analytics.fred_series as
select
  o.series_id,
  o.observation_date,
  o.value,
  s.unit,
  s.scale,
  o.value * s.multiplier   as value_in_unit,
  s.description,
  f.uri                    as source_file,
  f.sha256                 as source_sha256,
  o.line_no                as source_line,
  o.run_id,
  f.loaded_at
from core.fred_observations o
left join core.fred_series s on s.series_id = o.series_id
join etl.source_files f on f.file_id = o.file_id;

comment on view analytics.fred_series is
  'Every FRED series loaded, long format (series_id, observation_date, value), with its configured unit and scale and the file and line each value came from.';
comment on column analytics.fred_series.series_id is 'FRED series ID, from the CSV header (e.g. GDP, NCBEILQ027S)';
comment on column analytics.fred_series.observation_date is 'Observation date as FRED gives it: the first day of the period (2025-10-01 is 2025 Q4 for a quarterly series)';
comment on column analytics.fred_series.value is 'The value exactly as in the file, in the series'' scale (GDP in billions, NCBEILQ027S in millions)';
comment on column analytics.fred_series.unit is 'Configured unit (e.g. USD); NULL for a series the configuration does not describe';
comment on column analytics.fred_series.scale is 'Configured scale of value: ones, thousands, millions, billions or trillions';
comment on column analytics.fred_series.value_in_unit is 'value × scale, in whole units (USD rather than USD millions); NULL without a configured scale';
comment on column analytics.fred_series.description is 'Configured description of the series';
comment on column analytics.fred_series.source_file is 'Location of the file the value was loaded from';
comment on column analytics.fred_series.source_sha256 is 'SHA-256 of that file''s content';
comment on column analytics.fred_series.source_line is 'Line number in that file';
comment on column analytics.fred_series.run_id is 'bubblewatch run that loaded the value (etl.runs.run_id)';
comment on column analytics.fred_series.loaded_at is 'When the file was loaded';

-- Buffett indicator: computed on read (a few hundred quarters), so a change of configured
-- scale or a newly loaded quarter shows at once.
create view analytics.buffett_indicator as
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
join etl.source_files gf on gf.file_id = h.gdp_file_id;

comment on view analytics.buffett_indicator is
  'Buffett indicator per quarter: market value of US nonfinancial corporate equities (FRED NCBEILQ027S, Z.1 L.223/B.103, USD millions, end of quarter) '
  '/ nominal GDP of the same quarter (FRED GDP, USD billions, SAAR), as a percent; both scaled to dollars by their configured scale first. '
  'Mean, standard deviation, z-score and percentile use the quarters up to and including each one, and are NULL until 40 quarters (10 years) of the indicator exist.';
comment on column analytics.buffett_indicator.quarter_start is 'First day of the quarter, as FRED dates quarterly observations';
comment on column analytics.buffett_indicator.period_end is 'Last day of the quarter (the equities value is measured at this date)';
comment on column analytics.buffett_indicator.quarter is 'Quarter label, e.g. 2025-Q4';
comment on column analytics.buffett_indicator.equities_usd_mn is 'NCBEILQ027S as loaded, in its configured scale (millions of USD)';
comment on column analytics.buffett_indicator.gdp_usd_bn_saar is 'GDP as loaded, in its configured scale (billions of USD, seasonally adjusted annual rate)';
comment on column analytics.buffett_indicator.equities_usd_bn is 'Equities market value in billions of USD, for reading beside GDP';
comment on column analytics.buffett_indicator.buffett_indicator_pct is 'Equities market value / GDP × 100, after converting both to USD (228.4 = 228.4% of GDP); NULL if the two series'' configured units differ';
comment on column analytics.buffett_indicator.history_quarters is 'Number of quarters with the indicator up to and including this one';
comment on column analytics.buffett_indicator.mean_pct_to_date is 'Long-run mean of the indicator over the quarters up to and including this one, percent; NULL until 40 quarters of history';
comment on column analytics.buffett_indicator.stddev_pct_to_date is 'Sample standard deviation of the indicator over those quarters, percentage points; NULL until 40 quarters of history';
comment on column analytics.buffett_indicator.zscore is '(buffett_indicator_pct − mean_pct_to_date) / stddev_pct_to_date; NULL until 40 quarters of history (a shorter history gives no meaningful z-score)';
comment on column analytics.buffett_indicator.percentile is 'Share of quarters up to and including this one at or below this quarter''s value; NULL until 40 quarters of history';
comment on column analytics.buffett_indicator.equities_source_file is 'File the NCBEILQ027S value came from';
comment on column analytics.buffett_indicator.equities_line is 'Line of the NCBEILQ027S value in that file';
comment on column analytics.buffett_indicator.gdp_source_file is 'File the GDP value came from';
comment on column analytics.buffett_indicator.gdp_line is 'Line of the GDP value in that file';

-- Index price-to-sales: the article's "the S&P 500's price-to-sales is above its 1999 level".
--
-- A cap file can give each constituent a price-to-sales ratio (the S&P 500 snapshots'
-- Price/Sales: Yahoo Finance's market cap / trailing-twelve-month revenue) or its TTM
-- revenue. A constituent's TTM revenue is the revenue given, else its cap / its P/S. Share
-- classes of one issuer count once, by the rule that counts their caps (whole_company: the
-- largest class's figures; per_class: the sum). The index price-to-sales on a date is
-- Σ cap / Σ TTM revenue over the issuers that have both, and the coverage says how many
-- issuers and what share of the index's cap that is.
--
-- Only columns are added here; the views gain theirs at the end (create or replace), and
-- analytics.indicator_values (0009) is replaced with the same columns and more rows.

-- ---------------------------------------------------------------- raw: as read
-- Still no foreign keys: the table is bulk-loaded (see migration 0008).
alter table raw.index_constituents
  add column price_to_sales numeric check (price_to_sales >= 0),
  add column revenue_ttm    numeric check (revenue_ttm >= 0);
comment on column raw.index_constituents.price_to_sales is 'Price-to-sales ratio as read (market cap / trailing-twelve-month revenue); NULL when the file has none';
comment on column raw.index_constituents.revenue_ttm is 'Trailing-twelve-month revenue as read, in the unit of market_cap; NULL when the file has none';

-- ---------------------------------------------------------------- derived
alter table core.index_constituents
  add column price_to_sales        numeric,
  add column revenue_ttm_reported  numeric,
  add column revenue_ttm_usd       numeric check (revenue_ttm_usd > 0),
  add column revenue_source        text check (revenue_source in ('reported', 'price_to_sales')),
  add constraint index_constituents_revenue_known check ((revenue_source is null) = (revenue_ttm_usd is null));

alter table core.index_issuers
  add column revenue_ttm     numeric check (revenue_ttm > 0),
  add column price_to_sales  numeric check (price_to_sales > 0);

alter table core.index_concentration
  add column price_to_sales               numeric,
  add column price_to_sales_issuers       integer,
  add column price_to_sales_cap_coverage  numeric,
  add column price_to_sales_market_cap    numeric,
  add column revenue_ttm                  numeric;

-- ---------------------------------------------------------------- analyst views (columns added at the end)
create or replace view analytics.index_concentration as
select
  c.index_code,
  c.as_of,
  c.previous_as_of,
  c.issuers,
  c.issuers_with_cap,
  c.multi_class_issuers,
  c.constituent_rows,
  c.rows_missing_cap,
  c.missing_cap_tickers,
  c.total_market_cap,
  c.top10_market_cap,
  c.top10_share,
  c.top10_share_change,
  c.hhi,
  c.effective_n,
  c.effective_n_change,
  c.largest_weight,
  c.it_sector_share,
  c.communication_services_share,
  c.tech_sector_share,
  c.top10_tech_issuers,
  c.top10_tickers,
  c.top10_names,
  p.top10_contribution as top10_contribution_to_change,
  p.matched_cap_change  as cap_change_since_previous,
  c.rolling_window_days,
  c.rolling_snapshots,
  c.top10_share_rolling_avg,
  c.effective_n_rolling_avg,
  c.tech_sector_share_rolling_avg,
  c.history_snapshots,
  c.top10_share_percentile,
  c.effective_n_percentile,
  c.share_class_caps,
  c.source_files,
  c.price_to_sales,
  c.price_to_sales_issuers,
  c.price_to_sales_cap_coverage,
  c.price_to_sales_market_cap,
  c.revenue_ttm
from core.index_concentration c
left join core.index_cap_changes p
  on p.index_code = c.index_code and p.as_of = c.as_of and p.comparison = 'previous_snapshot';

comment on column analytics.index_concentration.price_to_sales is 'Index price-to-sales: the summed cap / the summed trailing-twelve-month revenue of the issuers that have both (price_to_sales_issuers); NULL when the source gives no price-to-sales or revenue for the date';
comment on column analytics.index_concentration.price_to_sales_issuers is 'Issuers with a cap and a positive TTM revenue (from the source''s revenue, or its cap / a positive price-to-sales): the ones price_to_sales counts';
comment on column analytics.index_concentration.price_to_sales_cap_coverage is 'Their share of the total cap, as a fraction (1 = every issuer with a cap has a revenue); 0 when the source gives no price-to-sales or revenue';
comment on column analytics.index_concentration.price_to_sales_market_cap is 'Their summed cap, USD: the numerator of price_to_sales';
comment on column analytics.index_concentration.revenue_ttm is 'Their summed trailing-twelve-month revenue, USD (× float factor where the source gives one): the denominator of price_to_sales';

create or replace view analytics.index_issuers as
select
  i.index_code,
  i.as_of,
  i.cap_rank,
  i.issuer_id,
  i.issuer_source,
  i.issuer_name,
  i.primary_ticker,
  i.tickers,
  i.share_classes,
  i.classes_with_cap,
  i.cap_rule,
  i.gics_sector,
  i.market_cap,
  i.weight,
  sum(i.weight) over (partition by i.index_code, i.as_of order by i.cap_rank rows between unbounded preceding and current row) as cumulative_weight,
  i.revenue_ttm,
  i.price_to_sales
from core.index_issuers i;

comment on column analytics.index_issuers.revenue_ttm is 'Issuer''s trailing-twelve-month revenue, USD (× float factor where the source gives one): under whole_company that of the largest class that gives one, under per_class the sum over the classes with a cap (NULL unless each gives one); a class''s revenue is its revenue_ttm, else its cap / its price-to-sales';
comment on column analytics.index_issuers.price_to_sales is 'Issuer''s price-to-sales: market_cap / revenue_ttm; NULL without both';

create or replace view analytics.index_constituents as
select
  c.index_code,
  c.as_of,
  c.ticker,
  c.issuer_id,
  c.issuer_source,
  c.name,
  c.source_sector,
  c.gics_sector,
  c.sector_source,
  c.market_cap_reported,
  c.market_cap_unit,
  c.market_cap_unit_source,
  c.market_cap_usd,
  c.float_factor,
  c.is_cap_missing,
  (i.primary_ticker = c.ticker or i.cap_rule = 'per_class_sum') and not c.is_cap_missing as is_counted,
  i.cap_rank  as issuer_rank,
  i.weight    as issuer_weight,
  f.uri       as source_file,
  f.sha256    as source_sha256,
  c.line_no   as source_line,
  c.run_id,
  c.price_to_sales,
  c.revenue_ttm_reported,
  c.revenue_ttm_usd,
  c.revenue_source
from core.index_constituents c
join core.index_issuers i on i.index_code = c.index_code and i.as_of = c.as_of and i.issuer_id = c.issuer_id
join etl.source_files f on f.file_id = c.file_id;

comment on column analytics.index_constituents.price_to_sales is 'Price-to-sales ratio as written in the source (Price/Sales in the S&P 500 snapshots: market cap / trailing-twelve-month revenue); NULL when empty; 0 counts as unknown';
comment on column analytics.index_constituents.revenue_ttm_reported is 'Trailing-twelve-month revenue as written in the source, in the unit of market_cap_reported; NULL when empty';
comment on column analytics.index_constituents.revenue_ttm_usd is 'Trailing-twelve-month revenue in USD: revenue_ttm_reported × market_cap_unit where positive, else market_cap_usd / price_to_sales where both are positive, else NULL';
comment on column analytics.index_constituents.revenue_source is 'Where revenue_ttm_usd came from: reported (the source''s revenue) or price_to_sales (cap / price-to-sales); NULL when there is none';

-- ---------------------------------------------------------------- the long-form indicator view (0009), with price-to-sales
create or replace view analytics.indicator_values as
with company as (
  select i.*, c.name from core.company_indicators i join core.companies c on c.ticker = i.ticker where c.is_enabled
),
company_long as (
  select x.indicator, c.ticker as subject, c.period_end, x.value, x.unit
  from company c
  cross join lateral (values
    ('capex', c.capex, 'USD'),
    ('revenue', c.revenue, 'USD'),
    ('operating_cash_flow', c.operating_cash_flow, 'USD'),
    ('free_cash_flow', c.free_cash_flow, 'USD'),
    ('debt_proceeds', c.debt_proceeds, 'USD'),
    ('rpo', c.rpo, 'USD'),
    ('capex_ttm', c.capex_ttm, 'USD'),
    ('revenue_ttm', c.revenue_ttm, 'USD'),
    ('operating_cash_flow_ttm', c.operating_cash_flow_ttm, 'USD'),
    ('free_cash_flow_ttm', c.free_cash_flow_ttm, 'USD'),
    ('capex_yoy', c.capex_yoy, 'ratio'),
    ('capex_ttm_yoy', c.capex_ttm_yoy, 'ratio'),
    ('revenue_ttm_yoy', c.revenue_ttm_yoy, 'ratio'),
    ('capex_minus_revenue_growth_pp', c.capex_minus_revenue_growth_pp, 'pp'),
    ('capex_intensity', c.capex_intensity, 'ratio'),
    ('self_funding_ratio', c.self_funding_ratio, 'ratio'),
    ('rpo_yoy', c.rpo_yoy, 'ratio'),
    ('rpo_coverage_years', c.rpo_coverage_years, 'years'),
    ('rpo_to_capex_ttm', c.rpo_to_capex_ttm, 'ratio')
  ) as x(indicator, value, unit)
  where x.value is not null
),
group_long as (
  select x.indicator, g.group_name as subject, g.period_end, x.value, x.unit
  from core.group_indicators g
  cross join lateral (values
    ('capex', g.capex, 'USD'),
    ('revenue', g.revenue, 'USD'),
    ('operating_cash_flow', g.operating_cash_flow, 'USD'),
    ('free_cash_flow', g.free_cash_flow, 'USD'),
    ('rpo', g.rpo, 'USD'),
    ('capex_ttm', g.capex_ttm, 'USD'),
    ('revenue_ttm', g.revenue_ttm, 'USD'),
    ('operating_cash_flow_ttm', g.operating_cash_flow_ttm, 'USD'),
    ('capex_yoy', g.capex_yoy, 'ratio'),
    ('capex_ttm_yoy', g.capex_ttm_yoy, 'ratio'),
    ('revenue_ttm_yoy', g.revenue_ttm_yoy, 'ratio'),
    ('capex_minus_revenue_growth_pp', g.capex_minus_revenue_growth_pp, 'pp'),
    ('capex_intensity', g.capex_intensity, 'ratio'),
    ('self_funding_ratio', g.self_funding_ratio, 'ratio')
  ) as x(indicator, value, unit)
  where x.value is not null
)
select indicator, subject, period_end, value, unit, 'hyperscaler' as family, 'quarter' as frequency from company_long
union all
select indicator, subject, period_end, value, unit, 'hyperscaler_group', 'quarter' from group_long
union all
select s.series, s.subject, s.observation_date, s.value, coalesce(s.unit, ''), 'custom', 'irregular' from core.custom_series s
union all
-- valuation: Shiller CAPE (monthly) and the Buffett indicator (quarterly)
select x.indicator, 'SP500', (m.month + interval '1 month' - interval '1 day')::date, x.value, x.unit, 'valuation', 'month'
from core.shiller_monthly m
cross join lateral (values
  ('cape', m.cape, 'multiple'),
  ('cape_shiller', m.cape_published, 'multiple')
) as x(indicator, value, unit)
where x.value is not null
union all
select 'buffett_indicator_pct', 'US', b.period_end, b.buffett_indicator_pct, 'pct', 'valuation', 'quarter'
from analytics.buffett_indicator b
where b.buffett_indicator_pct is not null
union all
-- index concentration, per snapshot date
select x.indicator, c.index_code, c.as_of, x.value, x.unit, 'index_concentration', 'irregular'
from analytics.index_concentration c
cross join lateral (values
  ('top10_share', c.top10_share, 'ratio'),
  ('hhi', c.hhi, 'ratio'),
  ('effective_n', c.effective_n, 'count'),
  ('largest_weight', c.largest_weight, 'ratio'),
  ('tech_sector_share', c.tech_sector_share, 'ratio'),
  ('it_sector_share', c.it_sector_share, 'ratio'),
  ('communication_services_share', c.communication_services_share, 'ratio'),
  ('top10_tech_issuers', c.top10_tech_issuers::numeric, 'count'),
  ('issuers', c.issuers_with_cap::numeric, 'count'),
  ('missing_caps', c.rows_missing_cap::numeric, 'count'),
  ('total_market_cap', c.total_market_cap, 'USD'),
  ('top10_contribution_to_change', c.top10_contribution_to_change, 'ratio')
) as x(indicator, value, unit)
where x.value is not null
union all
select 'top' || t.n || '_share', t.index_code, t.as_of, t.share, 'ratio', 'index_concentration', 'irregular'
from analytics.index_top_n_shares t
where t.n <> 10 and t.share is not null
union all
select 'top10_contribution_since_base', b.index_code, b.as_of, b.top10_contribution, 'ratio', 'index_concentration', 'irregular'
from (
  select distinct on (g.index_code, g.as_of) g.index_code, g.as_of, g.top10_contribution
  from analytics.index_cap_changes g
  where g.comparison = 'since_base' and g.top10_contribution is not null
  order by g.index_code, g.as_of, g.base_as_of
) b
union all
-- index price-to-sales and its coverage, per snapshot date where the source gives sales
select x.indicator, c.index_code, c.as_of, x.value, x.unit, 'index_concentration', 'irregular'
from analytics.index_concentration c
cross join lateral (values
  ('price_to_sales', c.price_to_sales, 'multiple'),
  ('price_to_sales_issuers', c.price_to_sales_issuers::numeric, 'count'),
  ('price_to_sales_cap_coverage', c.price_to_sales_cap_coverage, 'ratio')
) as x(indicator, value, unit)
where c.price_to_sales is not null and x.value is not null;

comment on column analytics.indicator_values.indicator is 'Indicator name, snake_case: capex_ttm, self_funding_ratio, cape, buffett_indicator_pct, top10_share, effective_n, price_to_sales, … or a custom series id';
comment on column analytics.indicator_values.unit is 'USD; ratio (a fraction: 0.45 = 45%); pp (percentage points); pct (percent); multiple (price / earnings, price / sales); years; count; or a custom series unit';

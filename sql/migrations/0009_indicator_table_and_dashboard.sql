-- One indicator table for every pipeline, and the bubble dashboard over it.

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
) b;

comment on view analytics.indicator_values is
  'Every indicator value from every pipeline in long form: one row per indicator, subject and period end. Alert rules, the dashboard and charts read this.';
comment on column analytics.indicator_values.indicator is 'Indicator name, snake_case: capex_ttm, self_funding_ratio, cape, buffett_indicator_pct, top10_share, effective_n, … or a custom series id';
comment on column analytics.indicator_values.subject is 'What the value is about: a ticker (MSFT), a company group (big5), an index (SP500), a country (US), or a custom series subject';
comment on column analytics.indicator_values.period_end is 'End of the period the value describes: fiscal quarter end (company), calendar quarter end (group, Buffett indicator), month end (CAPE), snapshot date (index)';
comment on column analytics.indicator_values.value is 'The value, in the unit of the unit column';
comment on column analytics.indicator_values.unit is 'USD; ratio (a fraction: 0.45 = 45%); pp (percentage points); pct (percent); multiple (price / earnings); years; count; or a custom series unit';
comment on column analytics.indicator_values.family is 'hyperscaler (per company), hyperscaler_group (totals), valuation (CAPE, Buffett indicator), index_concentration, or custom';
comment on column analytics.indicator_values.frequency is 'quarter, month, or irregular (snapshot dates, custom series)';

-- How stretched each indicator is against its own history, in one query.
create view analytics.bubble_dashboard as
with v as (
  select indicator, subject, period_end, value, unit, family, frequency from analytics.indicator_values
),
ranked as (
  select v.*,
         row_number() over (partition by v.indicator, v.subject order by v.period_end desc) as recency,
         count(*) over (partition by v.indicator, v.subject) as history_points,
         avg(v.value) over (partition by v.indicator, v.subject) as long_run_mean,
         stddev_samp(v.value) over (partition by v.indicator, v.subject) as long_run_stddev,
         min(v.period_end) over (partition by v.indicator, v.subject) as history_start,
         cume_dist() over (partition by v.indicator, v.subject order by v.value) as value_cume_dist
  from v
),
latest as (
  select * from ranked where recency = 1
),
previous as (
  select * from ranked where recency = 2
)
select
  l.family,
  l.indicator,
  l.subject,
  l.unit,
  l.frequency,
  l.period_end                                                     as latest_period,
  l.value                                                          as latest_value,
  p.period_end                                                     as previous_period,
  p.value                                                          as previous_value,
  l.value - p.value                                                as change,
  case when p.value > 0 then l.value / p.value - 1 end             as change_pct,
  case when l.history_points >= 8 then l.value_cume_dist end       as percentile,
  case when l.history_points >= 8 and l.long_run_stddev > 0
       then (l.value - l.long_run_mean) / l.long_run_stddev end    as z_score,
  case when l.history_points >= 8 then l.long_run_mean end         as long_run_mean,
  l.history_points,
  l.history_start,
  null::text                                                       as alert_state
from latest l
left join previous p on p.indicator = l.indicator and p.subject = l.subject;

comment on view analytics.bubble_dashboard is
  'One row per indicator and subject: the latest value and period, the previous value and the change, and how stretched the latest value is against the indicator''s own history (percentile, z-score, long-run mean). Statistics need at least 8 observations.';
comment on column analytics.bubble_dashboard.family is 'Indicator family: hyperscaler, hyperscaler_group, valuation, index_concentration, custom';
comment on column analytics.bubble_dashboard.indicator is 'Indicator name (see analytics.indicator_values)';
comment on column analytics.bubble_dashboard.subject is 'Ticker, group, index, country or custom subject';
comment on column analytics.bubble_dashboard.unit is 'Unit of the values (USD, ratio, pp, pct, multiple, years, count, …)';
comment on column analytics.bubble_dashboard.frequency is 'quarter, month or irregular';
comment on column analytics.bubble_dashboard.latest_period is 'Period end of the latest value';
comment on column analytics.bubble_dashboard.latest_value is 'The latest value';
comment on column analytics.bubble_dashboard.previous_period is 'Period end of the value before it';
comment on column analytics.bubble_dashboard.previous_value is 'The value before the latest';
comment on column analytics.bubble_dashboard.change is 'latest_value - previous_value, in the indicator''s unit';
comment on column analytics.bubble_dashboard.change_pct is 'latest_value / previous_value - 1, as a fraction (NULL unless the previous value is positive)';
comment on column analytics.bubble_dashboard.percentile is 'Share of the indicator''s history (this subject, all periods) at or below the latest value, 0 to 1; NULL with fewer than 8 observations';
comment on column analytics.bubble_dashboard.z_score is '(latest value - long-run mean) / standard deviation of the whole history; NULL with fewer than 8 observations';
comment on column analytics.bubble_dashboard.long_run_mean is 'Mean of all the indicator''s values for this subject; NULL with fewer than 8 observations';
comment on column analytics.bubble_dashboard.history_points is 'How many values the history has';
comment on column analytics.bubble_dashboard.history_start is 'Period end of the oldest value';
comment on column analytics.bubble_dashboard.alert_state is 'State of the alert rules on this indicator and subject (filled in once alert rules exist)';

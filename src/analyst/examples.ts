/**
 * Example queries for each analytics view, shown in docs/views.md. Hand-written, but not
 * trusted: a test runs every one on a database loaded with the bundled sample and expects
 * rows back, and another fails when a view has no examples or an example names no view.
 */

export interface ExampleQuery {
  readonly title: string;
  readonly sql: string;
}

export const VIEW_EXAMPLES: Readonly<Record<string, readonly ExampleQuery[]>> = {
  alert_history: [
    {
      title: 'When each rule fired and resolved, latest first (backfilled history included)',
      sql: `select period_end, rule_id, subject, transition, round(value, 3) as value, threshold, severity, is_backfill
from analytics.alert_history
where transition in ('fired', 'resolved')
order by period_end desc, rule_id, subject
limit 20;`,
    },
  ],
  alerts_open: [
    {
      title: 'Alerts firing now, most severe first',
      sql: `select severity, rule_id, subject, since_period, last_period, round(value, 3) as value, threshold, message
from analytics.alerts_open
order by case severity when 'critical' then 1 when 'warning' then 2 else 3 end, rule_id, subject;`,
    },
    {
      title: 'Open alerts the webhook has not taken yet, and why',
      sql: `select rule_id, subject, since_period, delivery, delivery_attempts, last_attempt_at, next_attempt_at, last_delivery_error
from analytics.alerts_open
where delivery is distinct from 'delivered'
order by since_period;`,
    },
  ],
  bubble_dashboard: [
    {
      title: 'The most stretched indicators against their own history',
      sql: `select family, indicator, subject, latest_period, latest_value, unit,
       round(percentile::numeric, 2) as percentile, round(z_score, 2) as z_score, alert_state
from analytics.bubble_dashboard
where z_score is not null
order by abs(z_score) desc
limit 15;`,
    },
    {
      title: 'Valuation indicators with their latest change',
      sql: `select indicator, subject, latest_period, latest_value, previous_value, change, round(change_pct, 4) as change_pct
from analytics.bubble_dashboard
where family = 'valuation'
order by indicator, subject;`,
    },
  ],
  buffett_indicator: [
    {
      title: 'The last eight quarters against the long-run mean',
      sql: `select quarter, round(buffett_indicator_pct, 1) as pct_of_gdp, round(mean_pct_to_date, 1) as long_run_mean_pct,
       round(zscore, 2) as zscore, round(percentile, 3) as percentile
from analytics.buffett_indicator
where buffett_indicator_pct is not null
order by period_end desc
limit 8;`,
    },
    {
      title: 'The five highest quarters on record',
      sql: `select quarter, round(buffett_indicator_pct, 1) as pct_of_gdp
from analytics.buffett_indicator
where buffett_indicator_pct is not null
order by buffett_indicator_pct desc
limit 5;`,
    },
  ],
  cape: [
    {
      title: 'The last twelve months of CAPE beside Shiller\'s published value and the December 1999 peak',
      sql: `select month, round(cape, 1) as cape, round(cape_shiller, 1) as cape_shiller, round(cape_1999_12, 1) as cape_dec_1999,
       round(cape_to_1999_peak, 3) as to_1999_peak, round(cape_percentile, 3) as percentile
from analytics.cape
where cape is not null
order by month desc
limit 12;`,
    },
    {
      title: 'Years in which CAPE went above 35',
      sql: `select extract(year from month)::int as year, round(max(cape), 1) as highest_cape
from analytics.cape
where cape > 35
group by 1
order by 1;`,
    },
  ],
  company_facts: [
    {
      title: 'The filed facts behind Microsoft\'s capex, with their filings and source lines',
      sql: `select period_start, period_end, duration_class, value, tag, form, accession, filed, source_line
from analytics.company_facts
where ticker = 'MSFT' and metric = 'capex' and vintage = 'latest'
order by period_end desc, period_start
limit 10;`,
    },
  ],
  custom_series: [
    {
      title: 'Every custom series with its coverage',
      sql: `select series, count(*) as observations, min(observation_date) as first_date, max(observation_date) as last_date
from analytics.custom_series
group by series
order by series;`,
    },
    {
      title: 'OpenAI\'s annualised revenue run-rate, with sources',
      sql: `select subject, observation_date, value, unit, source
from analytics.custom_series
where series = 'openai_revenue_annualized'
order by observation_date;`,
    },
  ],
  fred_series: [
    {
      title: 'Nominal GDP, latest quarters, as loaded and in dollars',
      sql: `select series_id, observation_date, value, scale, value_in_unit
from analytics.fred_series
where series_id = 'GDP'
order by observation_date desc
limit 8;`,
    },
  ],
  hyperscaler_facts_as_first_reported: [
    {
      title: 'The largest revisions between first-reported and latest values',
      sql: `select ticker, metric, fiscal_label, first_reported_value, latest_value, revision, first_reported_filed, latest_filed
from analytics.hyperscaler_facts_as_first_reported
where revision <> 0
order by abs(revision) desc
limit 10;`,
    },
  ],
  hyperscaler_quarterly: [
    {
      title: 'Latest self-funding ratio per company (TTM capex / TTM operating cash flow)',
      sql: `select distinct on (ticker) ticker, fiscal_label, calendar_label, round(self_funding_ratio, 3) as self_funding_ratio,
       round(capex_ttm / 1e9, 1) as capex_ttm_bn, round(operating_cash_flow_ttm / 1e9, 1) as ocf_ttm_bn
from analytics.hyperscaler_quarterly
where self_funding_ratio is not null
order by ticker, period_end desc;`,
    },
    {
      title: 'Capex growth against revenue growth since 2024',
      sql: `select ticker, calendar_label, round(capex_ttm_yoy, 3) as capex_ttm_yoy, round(revenue_ttm_yoy, 3) as revenue_ttm_yoy,
       round(capex_minus_revenue_growth_pp, 1) as gap_pp
from analytics.hyperscaler_quarterly
where calendar_year >= 2024 and capex_minus_revenue_growth_pp is not null
order by ticker, period_end;`,
    },
  ],
  hyperscaler_totals_quarterly: [
    {
      title: 'Big-five capex per calendar year, $bn',
      sql: `select calendar_year, count(capex) as quarters, round(sum(capex) / 1e9, 1) as capex_bn
from analytics.hyperscaler_totals_quarterly
where group_name = 'big5' and capex is not null
group by calendar_year
order by calendar_year;`,
    },
    {
      title: 'The last eight calendar quarters of big-five capex and self-funding',
      sql: `select calendar_label, companies_reporting, round(capex / 1e9, 1) as capex_bn, round(capex_ttm / 1e9, 1) as capex_ttm_bn,
       round(self_funding_ratio, 3) as self_funding_ratio
from analytics.hyperscaler_totals_quarterly
where group_name = 'big5'
order by period_end desc
limit 8;`,
    },
  ],
  index_cap_changes: [
    {
      title: 'How much of the S&P 500\'s gain came from its top 10',
      sql: `select as_of, comparison, base_as_of, issuers_matched, round(matched_cap_change / 1e12, 2) as change_tn,
       round(top10_contribution, 3) as top10_contribution
from analytics.index_cap_changes
where index_code = 'SP500'
order by as_of desc, comparison;`,
    },
  ],
  index_concentration: [
    {
      title: 'S&P 500 concentration over time',
      sql: `select as_of, round(top10_share, 3) as top10_share, round(effective_n, 1) as effective_n,
       round(tech_sector_share, 3) as tech_sector_share, top10_tech_issuers, top10_tickers
from analytics.index_concentration
where index_code = 'SP500'
order by as_of;`,
    },
    {
      title: 'Index price-to-sales where the source gives revenue',
      sql: `select index_code, as_of, round(price_to_sales, 2) as price_to_sales, round(price_to_sales_cap_coverage, 3) as cap_coverage
from analytics.index_concentration
where price_to_sales is not null
order by index_code, as_of;`,
    },
  ],
  index_constituents: [
    {
      title: 'Share classes of one issuer, and which cap is counted (Alphabet)',
      sql: `select as_of, ticker, issuer_id, market_cap_usd, is_counted, issuer_rank
from analytics.index_constituents
where ticker in ('GOOGL', 'GOOG')
order by as_of desc, ticker
limit 10;`,
    },
    {
      title: 'Constituents per snapshot, and how many lack a cap',
      sql: `select index_code, as_of, count(*) as constituent_rows, count(*) filter (where is_cap_missing) as missing_caps
from analytics.index_constituents
group by index_code, as_of
order by index_code, as_of;`,
    },
  ],
  index_issuers: [
    {
      title: 'The ten largest S&P 500 issuers on the latest snapshot',
      sql: `select cap_rank, issuer_name, tickers, round(market_cap / 1e12, 2) as cap_tn, round(weight, 4) as weight,
       round(cumulative_weight, 4) as cumulative_weight
from analytics.index_issuers
where index_code = 'SP500'
  and as_of = (select max(as_of) from analytics.index_issuers where index_code = 'SP500')
  and cap_rank <= 10
order by cap_rank;`,
    },
  ],
  index_sector_shares: [
    {
      title: 'Sector shares of the S&P 500 on the latest snapshot',
      sql: `select gics_sector, issuers, round(share, 3) as share, is_tech
from analytics.index_sector_shares
where index_code = 'SP500'
  and as_of = (select max(as_of) from analytics.index_sector_shares where index_code = 'SP500')
order by share desc;`,
    },
  ],
  index_top_n_shares: [
    {
      title: 'Top-5, top-10 and top-20 shares side by side',
      sql: `select as_of,
       round(max(share) filter (where n = 5), 3) as top5,
       round(max(share) filter (where n = 10), 3) as top10,
       round(max(share) filter (where n = 20), 3) as top20
from analytics.index_top_n_shares
where index_code = 'SP500'
group by as_of
order by as_of;`,
    },
  ],
  indicator_values: [
    {
      title: 'Every indicator and subject, with its unit and coverage',
      sql: `select family, indicator, subject, unit, count(*) as points, min(period_end) as first_period, max(period_end) as last_period
from analytics.indicator_values
group by family, indicator, subject, unit
order by family, indicator, subject;`,
    },
    {
      title: 'One series, ready to chart: Microsoft\'s self-funding ratio',
      sql: `select period_end, value
from analytics.indicator_values
where indicator = 'self_funding_ratio' and subject = 'MSFT'
order by period_end;`,
    },
  ],
};

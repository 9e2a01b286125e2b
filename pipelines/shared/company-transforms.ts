import type { DataCheck, FreshnessSpec, Preview } from '../../src/sdk.js';

/**
 * The fundamentals pipelines (SEC companyfacts, SEC financial statement data sets, analyst
 * CSVs) feed one fact table; after any of them loads, the same transforms recompute the
 * companies it touched.
 */
export const COMPANY_TRANSFORMS = [
  'company/10_refresh_scope.sql',
  'company/20_company_facts.sql',
  'company/30_company_quarterly.sql',
  'company/40_company_indicators.sql',
  'company/50_group_indicators.sql',
] as const;

export const COMPANY_CHECKS: readonly DataCheck[] = [
  {
    name: 'company_quarterly_key_unique',
    description: 'core.company_quarterly has one row per company, metric, vintage and quarter end',
    severity: 'error',
    sql: `select ticker, metric, vintage, end_key, count(*) as n from core.company_quarterly group by 1, 2, 3, 4 having count(*) > 1`,
  },
  {
    name: 'company_quarterly_capex_not_negative',
    description: 'quarterly capex is not negative (a negative value means the year-to-date facts it was derived from disagree)',
    severity: 'warn',
    sql: `select ticker, vintage, fiscal_year, fiscal_quarter, value, derivation, inputs
          from core.company_quarterly where metric = 'capex' and value < 0`,
  },
  {
    name: 'company_indicators_ratios_in_range',
    description: 'capex intensity is within [0, 1] and the self-funding ratio is not negative',
    severity: 'warn',
    sql: `select ticker, period_end, capex_intensity, self_funding_ratio from core.company_indicators
          where capex_intensity not between 0 and 1 or self_funding_ratio < 0`,
  },
  {
    name: 'company_quarterly_quarter_length',
    description: 'every flow quarter spans 80 to 100 days',
    severity: 'error',
    sql: `select ticker, metric, vintage, start_key, end_key from core.company_quarterly
          where start_key is not null and (end_key - start_key + 1) not between 80 and 100`,
  },
];

export const COMPANY_PREVIEWS: readonly Preview[] = [
  {
    title: 'Big-five capex by calendar quarter, $bn (analytics.hyperscaler_totals_quarterly)',
    sql: `select calendar_label as quarter, companies_reporting as reported,
                 round(capex / 1e9, 1) as capex_bn, round(capex_ttm / 1e9, 1) as capex_ttm_bn,
                 round(capex_ttm_yoy * 100, 1) as capex_ttm_yoy_pct,
                 round(capex_minus_revenue_growth_pp, 1) as capex_minus_rev_growth_pp
          from analytics.hyperscaler_totals_quarterly
          where group_name = 'big5' and capex is not null
          order by calendar_year desc, calendar_quarter desc limit 12`,
  },
  {
    title: 'Latest self-funding ratio (TTM capex / TTM operating cash flow; > 100% = external funding) and capex intensity',
    sql: `select distinct on (ticker) ticker, fiscal_label as quarter,
                 round(capex_ttm / 1e9, 1) as capex_ttm_bn, round(operating_cash_flow_ttm / 1e9, 1) as ocf_ttm_bn,
                 round(self_funding_ratio * 100, 1) as self_funding_pct, round(capex_intensity * 100, 1) as capex_intensity_pct
          from analytics.hyperscaler_quarterly
          where self_funding_ratio is not null
          order by ticker, period_end desc`,
  },
];

/**
 * A quarter's 10-Q is due 40-45 days after it ends, so the newest quarter is normally under
 * 135 days old; past 140 days a filing was missed or the source stopped updating.
 */
export const COMPANY_FRESHNESS: FreshnessSpec = {
  maxAgeDays: 140,
  description: 'newest fiscal quarter end among enabled companies',
  sql: `select max(q.period_end) as newest from core.company_quarterly q
        join core.companies c on c.ticker = q.ticker where c.is_enabled and q.vintage = 'latest'`,
};

/** A superseding file that lost most of a company's facts shows up as a drop in quarterly values. */
export const COMPANY_GUARDS = [{ table: 'core.company_quarterly', maxDrop: 0.5 }] as const;

import type { DatabaseHandle } from '../db/connect.js';

/**
 * What the report reads: the analytics views, as plain rows. Amounts stay in USD here; the
 * charts scale them. Dates are 'YYYY-MM-DD' strings (see src/db/type-parsers.ts).
 */

export interface CompanyQuarter {
  readonly ticker: string;
  readonly company: string;
  readonly fiscal_label: string;
  readonly calendar_year: number;
  readonly calendar_quarter: number;
  readonly calendar_label: string;
  readonly period_end: string;
  readonly capex: number | null;
  readonly revenue: number | null;
  readonly capex_ttm: number | null;
  readonly operating_cash_flow_ttm: number | null;
  readonly free_cash_flow_ttm: number | null;
  readonly debt_proceeds_ttm: number | null;
  readonly capex_ttm_yoy: number | null;
  readonly revenue_ttm_yoy: number | null;
  readonly capex_intensity: number | null;
  readonly self_funding_ratio: number | null;
  readonly rpo: number | null;
  readonly rpo_yoy: number | null;
  readonly rpo_coverage_years: number | null;
  readonly rpo_to_capex_ttm: number | null;
}

export interface GroupQuarter {
  readonly group_name: string;
  readonly calendar_year: number;
  readonly calendar_quarter: number;
  readonly calendar_label: string;
  readonly period_end: string;
  readonly companies_expected: number;
  readonly companies_reporting: number;
  readonly capex: number | null;
  readonly capex_reported: number | null;
  readonly capex_ttm: number | null;
  readonly capex_ttm_yoy: number | null;
  readonly revenue_ttm_yoy: number | null;
  readonly capex_minus_revenue_growth_pp: number | null;
  readonly self_funding_ratio: number | null;
}

/** Headline backlog figures from earnings releases (analyst CSV metrics other than RPO). */
export interface BacklogFact {
  readonly ticker: string;
  readonly metric: string;
  readonly period_end: string;
  readonly value: number;
}

export interface ConcentrationSnapshot {
  readonly index_code: string;
  readonly as_of: string;
  readonly issuers: number;
  readonly top10_share: number | null;
  readonly effective_n: number | null;
  readonly tech_sector_share: number | null;
  readonly top10_tech_issuers: number | null;
  readonly price_to_sales: number | null;
  readonly price_to_sales_cap_coverage: number | null;
  readonly top10_contribution_to_change: number | null;
}

export interface CapeMonth {
  readonly month: string;
  readonly cape: number | null;
  readonly cape_shiller: number | null;
  readonly cape_percentile: number | null;
  readonly cape_zscore: number | null;
  readonly cape_mean_to_date: number | null;
}

export interface BuffettQuarter {
  readonly quarter: string;
  readonly period_end: string;
  readonly buffett_indicator_pct: number | null;
  readonly mean_pct_to_date: number | null;
  readonly zscore: number | null;
  readonly percentile: number | null;
  readonly equities_usd_bn: number | null;
  readonly gdp_usd_bn_saar: number | null;
}

export interface DashboardRow {
  readonly family: string;
  readonly indicator: string;
  readonly subject: string;
  readonly unit: string;
  readonly latest_period: string;
  readonly latest_value: number;
  readonly previous_period: string | null;
  readonly change: number | null;
  readonly percentile: number | null;
  readonly z_score: number | null;
  readonly long_run_mean: number | null;
  readonly history_points: number;
  readonly alert_state: string | null;
}

export interface OpenAlert {
  readonly rule_id: string;
  readonly subject: string;
  readonly severity: string;
  readonly since_period: string | null;
  readonly last_period: string | null;
  readonly value: number | null;
  readonly threshold: number;
  readonly message: string | null;
}

export interface AlertEvent {
  readonly event_id: number;
  readonly rule_id: string;
  readonly subject: string;
  readonly period_end: string;
  readonly transition: 'fired' | 'resolved' | 'pending' | 'cleared';
  readonly value: number | null;
  readonly threshold: number;
  readonly severity: string;
  readonly message: string;
  readonly is_backfill: boolean;
}

/** An alert rule's threshold on an indicator and subject, for reference lines. */
export interface AlertThreshold {
  readonly rule_id: string;
  readonly indicator: string;
  readonly subject: string;
  readonly threshold: number;
  readonly severity: string;
  readonly state: string;
}

export interface CustomSeriesLatest {
  readonly series: string;
  readonly subject: string;
  readonly observation_date: string;
  readonly value: number;
  readonly unit: string | null;
  readonly source: string | null;
}

export interface ReportData {
  readonly companyQuarters: readonly CompanyQuarter[];
  readonly groupQuarters: readonly GroupQuarter[];
  readonly backlog: readonly BacklogFact[];
  readonly concentration: readonly ConcentrationSnapshot[];
  readonly cape: readonly CapeMonth[];
  readonly buffett: readonly BuffettQuarter[];
  readonly dashboard: readonly DashboardRow[];
  readonly alertsOpen: readonly OpenAlert[];
  readonly alertHistory: readonly AlertEvent[];
  readonly alertThresholds: readonly AlertThreshold[];
  readonly customSeries: readonly CustomSeriesLatest[];
  /** Latest run id and when it finished, for the header. */
  readonly lastRun: { readonly run_id: number; readonly finished_at: Date | null } | null;
}

export async function loadReportData(handle: DatabaseHandle): Promise<ReportData> {
  return handle.withConnection(async (conn) => {
    const q = async <R>(text: string, params: readonly unknown[] = []): Promise<R[]> => (await conn.query<R>(text, params)).rows;
    const companyQuarters = await q<CompanyQuarter>(
      `select ticker, company, fiscal_label, calendar_year, calendar_quarter, calendar_label, period_end,
              capex, revenue, capex_ttm, operating_cash_flow_ttm, free_cash_flow_ttm, debt_proceeds_ttm,
              capex_ttm_yoy, revenue_ttm_yoy, capex_intensity, self_funding_ratio,
              rpo, rpo_yoy, rpo_coverage_years, rpo_to_capex_ttm
       from analytics.hyperscaler_quarterly
       order by ticker, period_end`,
    );
    const groupQuarters = await q<GroupQuarter>(
      `select group_name, calendar_year, calendar_quarter, calendar_label, period_end, companies_expected, companies_reporting,
              capex, capex_reported, capex_ttm, capex_ttm_yoy, revenue_ttm_yoy, capex_minus_revenue_growth_pp, self_funding_ratio
       from analytics.hyperscaler_totals_quarterly
       order by group_name, period_end`,
    );
    const backlog = await q<BacklogFact>(
      `select ticker, metric, period_end, value
       from analytics.company_facts
       where vintage = 'latest' and metric in ('commercial_rpo', 'aws_backlog', 'cloud_backlog')
       order by ticker, metric, period_end`,
    );
    const concentration = await q<ConcentrationSnapshot>(
      `select index_code, as_of, issuers, top10_share, effective_n, tech_sector_share, top10_tech_issuers,
              price_to_sales, price_to_sales_cap_coverage, top10_contribution_to_change
       from analytics.index_concentration
       order by index_code, as_of`,
    );
    const cape = await q<CapeMonth>(
      `select month, cape, cape_shiller, cape_percentile, cape_zscore, cape_mean_to_date
       from analytics.cape
       order by month`,
    );
    const buffett = await q<BuffettQuarter>(
      `select quarter, period_end, buffett_indicator_pct, mean_pct_to_date, zscore, percentile, equities_usd_bn, gdp_usd_bn_saar
       from analytics.buffett_indicator
       order by quarter_start`,
    );
    const dashboard = await q<DashboardRow>(
      `select family, indicator, subject, unit, latest_period, latest_value, previous_period, change,
              percentile, z_score, long_run_mean, history_points, alert_state
       from analytics.bubble_dashboard
       order by family, indicator, subject`,
    );
    const alertsOpen = await q<OpenAlert>(
      `select rule_id, subject, severity, since_period, last_period, value, threshold, message
       from analytics.alerts_open
       order by case severity when 'critical' then 0 when 'warning' then 1 else 2 end, rule_id, subject`,
    );
    const alertHistory = await q<AlertEvent>(
      `select event_id, rule_id, subject, period_end, transition, value, threshold, severity, message, is_backfill
       from analytics.alert_history
       order by period_end, event_id`,
    );
    // The view of open alerts has no indicator; the state table maps each rule and subject to one.
    const alertThresholds = await q<AlertThreshold>(
      `select rule_id, indicator, subject, threshold, severity, state from etl.alert_state order by rule_id, subject`,
    );
    const customSeries = await q<CustomSeriesLatest>(
      `select distinct on (series, subject) series, subject, observation_date, value, unit, source
       from analytics.custom_series
       order by series, subject, observation_date desc`,
    );
    const [lastRun] = await q<{ run_id: number; finished_at: Date | null }>(
      `select run_id, finished_at from etl.runs where status = 'succeeded' order by run_id desc limit 1`,
    );
    return {
      companyQuarters,
      groupQuarters,
      backlog,
      concentration,
      cape,
      buffett,
      dashboard,
      alertsOpen,
      alertHistory,
      alertThresholds,
      customSeries,
      lastRun: lastRun ?? null,
    };
  });
}

import { code, decimal, definePipeline, delimitedText, isoDate, noOptions, optional, RowRejection, rowSchema, text } from '../../src/sdk.js';
import { companyView, syncCompanies } from '../shared/companies.js';
import { COMPANY_FACT_COLUMNS } from '../shared/company-facts-row.js';
import { COMPANY_CHECKS, COMPANY_FRESHNESS, COMPANY_GUARDS, COMPANY_PREVIEWS, COMPANY_TRANSFORMS } from '../shared/company-transforms.js';

/**
 * Analyst CSV extracts of company metrics, long format, for what XBRL lacks — notably the
 * headline RPO and backlog figures of earnings releases:
 *
 *   ticker, metric, period_end, value [, period_start] [, unit] [, source]
 *
 * A flow metric (capex, revenue) needs period_start; an instant one (rpo) must not have it.
 * For the same company, metric and period an analyst figure takes precedence over SEC facts.
 */
const row = rowSchema({
  ticker: code({ max: 10 }),
  metric: code({ max: 60 }),
  period_end: isoDate(),
  value: decimal(),
  period_start: optional(isoDate()),
  unit: optional(code({ max: 20 })),
  source: optional(text({ max: 1000 })),
});

export const companyMetrics = definePipeline({
  name: 'company-metrics',
  description: 'Analyst CSV of company metrics (ticker, metric, period_end, value) → raw.company_facts, e.g. headline RPO/backlog',
  source: { pattern: '*.csv' },
  options: noOptions,
  reader: delimitedText(row),
  row,
  naturalKey: ['ticker', 'metric', 'period_start', 'period_end'],
  load: {
    table: 'raw.company_facts',
    columns: COMPANY_FACT_COLUMNS,
    values: (r, runtime) => {
      const view = companyView(runtime);
      const ticker = r.ticker.toUpperCase();
      if (!view.byTicker.has(ticker)) {
        throw new RowRejection('ticker', r.ticker, `got ${JSON.stringify(r.ticker)}, expected an enabled company (${[...view.byTicker.keys()].join(', ')})`);
      }
      const metric = view.metrics[r.metric];
      if (!metric) {
        throw new RowRejection('metric', r.metric, `got ${JSON.stringify(r.metric)}, expected a configured metric (${Object.keys(view.metrics).join(', ')})`);
      }
      if (metric.kind === 'flow' && r.period_start === undefined) {
        throw new RowRejection('period_start', null, `missing; ${r.metric} is an amount over a period, so period_start is required`);
      }
      if (metric.kind === 'instant' && r.period_start !== undefined) {
        throw new RowRejection('period_start', r.period_start, `got ${r.period_start}; ${r.metric} is a balance at a date, so period_start must be empty`);
      }
      if (r.period_start !== undefined && r.period_start > r.period_end) {
        throw new RowRejection('period_start', r.period_start, `got ${r.period_start} after period_end ${r.period_end}`);
      }
      if (r.unit !== undefined && r.unit !== metric.unit) {
        throw new RowRejection('unit', r.unit, `got ${JSON.stringify(r.unit)}, expected ${metric.unit} for ${r.metric}`);
      }
      return ['analyst-csv', null, ticker, null, null, r.metric, metric.unit, r.period_start ?? null, r.period_end, null, r.value, null, null, null, null, null, null, r.source ?? null];
    },
  },
  prepare: syncCompanies,
  transforms: COMPANY_TRANSFORMS,
  checks: COMPANY_CHECKS,
  guardedTables: COMPANY_GUARDS,
  defaults: { schedule: { cron: '30 6 * * *', timezone: 'UTC' } },
  views: ['analytics.hyperscaler_quarterly', 'analytics.company_facts'],
  previews: COMPANY_PREVIEWS,
  freshness: COMPANY_FRESHNESS,
});

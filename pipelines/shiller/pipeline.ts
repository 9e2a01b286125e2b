import { code, decimal, definePipeline, isoDate, optional, RowRejection, rowSchema } from '../../src/sdk.js';
import { shillerOptionsSchema } from './options.js';
import { shillerReader } from './reader.js';
import { findWorkbookLink } from './workbook.js';

/**
 * Shiller's monthly S&P Composite data → analytics.cape.
 *
 * Sources: Shiller's ie_data.xls workbook as published (its "Data" sheet), that sheet saved as
 * CSV, or the datasets/s-and-p-500 CSV (see reader.ts; `pipelines.shiller.options.layout` picks
 * one or detects it). A URL source may be the workbook or the page that links to it. The raw rows
 * keep nominal price, dividend, earnings, CPI, the 10-year yield and Shiller's published
 * CAPE. sql/transforms/market/valuation_cape.sql recomputes CAPE from price, earnings
 * and CPI with Shiller's convention and ranks it against its own history.
 *
 * One file is one vintage of the whole history (Shiller revises earnings and CPI in every
 * release), so the series comes from one file: the current one that reaches the latest
 * month with a price and CPI, the most recently loaded on a tie. It is recomputed in full
 * whenever a run loads a file (about 1,900 months); rows that did not change are not rewritten.
 */
const row = rowSchema({
  layout: code({ max: 20 }),
  month: isoDate(),
  price: optional(decimal()),
  dividend: optional(decimal()),
  earnings: optional(decimal()),
  cpi: optional(decimal()),
  gs10: optional(decimal()),
  cape_published: optional(decimal()),
});

function positive(column: string, value: string | undefined, what: string): void {
  if (value !== undefined && !(Number(value) > 0)) {
    throw new RowRejection(column, value, `got ${value}, expected a positive ${what}`);
  }
}

export const shiller = definePipeline({
  name: 'shiller',
  description: "Shiller's monthly S&P Composite price, dividend, earnings and CPI (ie_data.xls, its Data sheet as CSV, or datasets/s-and-p-500) → analytics.cape",
  source: {
    pattern: '*.{csv,xls,xlsx}',
    // shillerdata.com links to the workbook from its front page under a URL that changes with
    // each release: a source URL may be that page, and the link matching workbook_link is followed.
    linkedData: (fetched, runtime) => findWorkbookLink(fetched.path, fetched.url, runtime.options.workbook_link),
  },
  options: shillerOptionsSchema,
  reader: shillerReader,
  row,
  naturalKey: ['month'],
  load: {
    table: 'raw.shiller_monthly',
    columns: ['layout', 'month', 'price', 'dividend', 'earnings', 'cpi', 'gs10', 'cape_published'],
    values: (r) => {
      if (!r.month.endsWith('-01')) {
        throw new RowRejection('month', r.month, `got ${r.month}, expected the first day of a month (the data are monthly)`);
      }
      positive('price', r.price, 'index level');
      positive('cpi', r.cpi, 'price index level (it divides every real value)');
      positive('cape_published', r.cape_published, 'ratio');
      return [r.layout, r.month, r.price ?? null, r.dividend ?? null, r.earnings ?? null, r.cpi ?? null, r.gs10 ?? null, r.cape_published ?? null];
    },
  },
  transforms: ['market/valuation_cape.sql'],
  checks: [
    {
      name: 'cape_positive',
      description: 'every computed CAPE in core.shiller_monthly is positive',
      severity: 'error',
      sql: `select month, cape from core.shiller_monthly where cape <= 0`,
    },
    {
      name: 'cape_percentile_within_0_1',
      description: 'CAPE percentiles lie within [0, 1]',
      severity: 'error',
      sql: `select month, cape_percentile from core.shiller_monthly where cape_percentile < 0 or cape_percentile > 1`,
    },
    {
      name: 'cape_reproduces_shiller',
      description: "computed CAPE is within 0.5% of Shiller's published CAPE wherever both exist",
      severity: 'warn',
      sql: `select month, cape, cape_published, round(100 * (cape / cape_published - 1), 3) as diff_pct
            from core.shiller_monthly
            where cape is not null and cape_published is not null and abs(cape / cape_published - 1) > 0.005`,
    },
    {
      name: 'shiller_months_contiguous',
      description: 'the series has no missing months (a gap shortens the 120-month earnings window)',
      severity: 'warn',
      sql: `select month, previous_month
            from (select month, lag(month) over (order by month) as previous_month from core.shiller_monthly) m
            where previous_month is not null and month <> (previous_month + interval '1 month')::date`,
    },
    {
      name: 'shiller_no_duplicate_months',
      description: 'a file loaded by this run gives each month once; where it repeats one, the last line wins',
      severity: 'warn',
      sql: `select r.file_id, r.month, array_agg(r.line_no order by r.line_no) as lines
            from raw.shiller_monthly r
            where r.run_id = current_setting('bubblewatch.run_id')::bigint
            group by 1, 2 having count(*) > 1`,
    },
  ],
  defaults: {
    // Shiller updates his file around the start of each month.
    schedule: { cron: '0 7 3 * *', timezone: 'UTC' },
  },
  guardedTables: [{ table: 'core.shiller_monthly', maxDrop: 0.5 }],
  views: ['analytics.cape'],
  // Shiller's file runs about a month behind; two and a half months without a new month means it stopped updating.
  freshness: {
    maxAgeDays: 75,
    description: 'newest month with a price',
    sql: `select (max(month) + interval '1 month' - interval '1 day')::date as newest from core.shiller_monthly where price is not null`,
  },
  previews: [
    {
      title: 'Latest CAPE, its percentile and distance to the December 1999 peak (analytics.cape)',
      sql: `select to_char(month, 'YYYY-MM') as month,
                   round(cape, 2) as cape,
                   round(cape_shiller, 2) as cape_shiller,
                   round(100 * cape_percentile, 1) as percentile,
                   round(cape_zscore, 2) as z_score,
                   round(cape_mean_to_date, 2) as long_run_mean,
                   round(cape_1999_12, 2) as cape_1999_12,
                   round(100 * (cape_to_1999_peak - 1), 1) as pct_vs_1999_peak
            from analytics.cape
            where cape is not null
            order by month desc
            limit 1`,
    },
  ],
});

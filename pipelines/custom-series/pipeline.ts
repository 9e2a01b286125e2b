import { code, decimal, definePipeline, delimitedText, isoDate, noOptions, optional, rowSchema, text } from '../../src/sdk.js';

/**
 * Custom analyst series: any dated figure an analyst wants to keep beside the computed
 * indicators — the share of venture funding going to AI, OpenAI's revenue run-rate,
 * data-centre power. Layout (CSV, header by name, any column order):
 *
 *   series, subject, date, value [, unit] [, source]
 *
 * The natural key is (series, subject, date). A later file version replaces the earlier
 * one's rows; within one file the last line with a key wins (and a data check warns).
 */
const row = rowSchema({
  series: code({ max: 100 }),
  subject: text({ max: 200 }),
  date: isoDate(),
  value: decimal(),
  unit: optional(code({ max: 40 })),
  source: optional(text({ max: 1000 })),
});

export const customSeries = definePipeline({
  name: 'custom-series',
  description: 'Analyst-supplied dated figures (series, subject, date, value) → analytics.custom_series',
  source: { pattern: '*.csv' },
  options: noOptions,
  reader: delimitedText(row),
  row,
  naturalKey: ['series', 'subject', 'date'],
  load: {
    table: 'raw.custom_series',
    columns: ['series', 'subject', 'observation_date', 'value', 'unit', 'source'],
    values: (row) => [row.series, row.subject, row.date, row.value, row.unit ?? null, row.source ?? null],
  },
  transforms: ['core/custom_series.sql'],
  checks: [
    {
      name: 'custom_series_key_unique',
      description: 'core.custom_series has one row per (series, subject, observation_date)',
      severity: 'error',
      sql: `select series, subject, observation_date, count(*) as n
            from core.custom_series group by 1, 2, 3 having count(*) > 1`,
    },
    {
      name: 'custom_series_value_not_null',
      description: 'every core.custom_series row has a value',
      severity: 'error',
      sql: `select series, subject, observation_date from core.custom_series where value is null`,
    },
    {
      name: 'custom_series_one_unit_per_series',
      description: 'each series and subject uses one unit (mixing USD and USD_bn would compare unlike values)',
      severity: 'warn',
      sql: `select series, subject, array_agg(distinct coalesce(unit, '(none)') order by coalesce(unit, '(none)')) as units
            from core.custom_series group by 1, 2 having count(distinct coalesce(unit, '(none)')) > 1`,
    },
    {
      name: 'custom_series_no_duplicate_lines',
      description: 'a file loaded by this run gives each (series, subject, date) once; where it repeats one, the last line wins',
      severity: 'warn',
      sql: `select r.file_id, r.series, r.subject, r.observation_date,
                   array_agg(r.line_no order by r.line_no) as lines
            from raw.custom_series r
            where r.run_id = current_setting('bubblewatch.run_id')::bigint
            group by 1, 2, 3, 4 having count(*) > 1`,
    },
  ],
  defaults: {
    schedule: { cron: '15 6 * * *', timezone: 'UTC' },
  },
  // A file that replaces a whole series with a truncated copy shows up as a drop.
  guardedTables: [{ table: 'core.custom_series', maxDrop: 0.5, severity: 'warn' }],
  views: ['analytics.custom_series'],
  previews: [
    {
      title: 'Latest value of each custom series (analytics.custom_series)',
      sql: `select distinct on (series, subject)
                   series, subject, observation_date as date, value, unit
            from analytics.custom_series
            order by series, subject, observation_date desc`,
    },
  ],
});

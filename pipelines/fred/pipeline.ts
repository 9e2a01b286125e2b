import { code, decimal, definePipeline, isoDate, rowSchema, type PipelineRuntime, type SqlConnection } from '../../src/sdk.js';
import { fredOptionsSchema, fredSeries, fredSeriesRows, indicatorOf, type FredOptions, type FredSeriesRow } from './options.js';
import { fredReader } from './reader.js';

/**
 * A URL template with {series} is fetched once per configured series (the two the Buffett
 * indicator needs and those under pipelines.fred.options.series), for instance FRED's
 * keyless download https://fred.stlouisfed.org/graph/fredgraph.csv?id={series}, whose
 * body is `observation_date,<SERIES>`, or the API's
 * https://api.stlouisfed.org/fred/series/observations?series_id={series}&file_type=json, whose
 * JSON body the reader takes the series of from its URL; the API key is added to each request
 * from FRED_API_KEY (http.query_secrets) and kept out of the ledger and the logs. A template
 * without {series} is fetched as it is.
 */
export function expandSeriesUrl(template: string, runtime: PipelineRuntime<FredOptions>): string[] {
  if (!template.includes('{series}')) return [template];
  return [...fredSeries(runtime.options).keys()].map((id) => template.replaceAll('{series}', encodeURIComponent(id)));
}

/**
 * FRED CSV series → one long table (series_id, observation_date, value) →
 * analytics.fred_series and analytics.buffett_indicator.
 *
 * Any FRED series loads; the series ID comes from the CSV header. Units and scales are
 * configuration (pipelines.fred.options.series), written to core.fred_series at the start
 * of each run. The Buffett indicator is NCBEILQ027S (USD millions) / GDP (USD billions, SAAR)
 * of the same quarter, each converted to dollars by its configured scale.
 */
const row = rowSchema({
  series_id: code({ max: 40 }),
  date: isoDate(),
  value: decimal(),
});

/**
 * Write the configured series to core.fred_series, with the indicator each one is marked as
 * (migration 0017's columns); unchanged rows are not rewritten.
 */
async function syncSeries(conn: SqlConnection, runtime: PipelineRuntime<FredOptions>): Promise<void> {
  const series = fredSeriesRows(runtime.options);
  const columns: readonly (keyof FredSeriesRow)[] = [...BASE_COLUMNS, ...INDICATOR_COLUMNS];
  const updated = columns.filter((c) => c !== 'series_id');
  await conn.query(
    `insert into core.fred_series (${columns.join(', ')}, updated_at)
     select ${columns.map((c) => (c === 'multiplier' ? 's.multiplier::numeric' : `s.${c}`)).join(', ')}, now()
     from jsonb_to_recordset($1::jsonb) as s(${columns.map((c) => `${c} text`).join(', ')})
     on conflict (series_id) do update
       set ${updated.map((c) => `${c} = excluded.${c}`).join(', ')}, updated_at = excluded.updated_at
       where (${updated.map((c) => `core.fred_series.${c}`).join(', ')})
             is distinct from (${updated.map((c) => `excluded.${c}`).join(', ')})`,
    [JSON.stringify(series.map((row) => Object.fromEntries(columns.map((c) => [c, row[c]]))))],
  );
  await conn.query(`delete from core.fred_series where not (series_id = any($1::text[]))`, [series.map((s) => s.series_id)]);
}

const BASE_COLUMNS = ['series_id', 'unit', 'scale', 'multiplier', 'description'] as const;
const INDICATOR_COLUMNS = [
  'indicator', 'indicator_subject', 'indicator_family', 'indicator_frequency', 'indicator_direction', 'indicator_unit', 'indicator_description',
] as const;

export const fred = definePipeline({
  name: 'fred',
  description: 'FRED CSV series (observation_date or DATE, <SERIES_ID>…) or FRED API JSON → analytics.fred_series, analytics.buffett_indicator',
  source: { pattern: '*.csv', expectContentType: 'csv', expandUrl: expandSeriesUrl },
  options: fredOptionsSchema,
  reader: fredReader,
  row,
  naturalKey: ['series_id', 'date'],
  load: {
    table: 'raw.fred_observations',
    columns: ['series_id', 'observation_date', 'value'],
    values: (r) => [r.series_id.toUpperCase(), r.date, r.value],
  },
  prepare: syncSeries,
  transforms: ['market/valuation_fred_observations.sql'],
  checks: [
    {
      name: 'fred_series_configured',
      description: 'every loaded FRED series has a unit and scale in pipelines.fred.options.series',
      severity: 'warn',
      sql: `select o.series_id, count(*) as observations
            from core.fred_observations o
            left join core.fred_series s on s.series_id = o.series_id
            where s.series_id is null
            group by o.series_id`,
    },
    {
      name: 'fred_no_duplicate_lines',
      description: 'a file loaded by this run gives each series and date once; where it repeats one, the last line wins',
      severity: 'warn',
      sql: `select r.file_id, r.series_id, r.observation_date, array_agg(r.line_no order by r.line_no) as lines
            from raw.fred_observations r
            where r.run_id = current_setting('bubblewatch.run_id')::bigint
            group by 1, 2, 3 having count(*) > 1`,
    },
    {
      name: 'buffett_inputs_positive',
      description: 'GDP and the equities market value are positive wherever they are loaded',
      severity: 'error',
      sql: `select series_id, observation_date, value from core.fred_observations
            where series_id in ('GDP', 'NCBEILQ027S') and value <= 0`,
    },
  ],
  defaults: {
    // Z.1 comes out about ten weeks after a quarter ends and GDP estimates monthly: a daily look is plenty.
    schedule: { cron: '0 8 * * *', timezone: 'America/New_York' },
  },
  guardedTables: [{ table: 'core.fred_observations', maxDrop: 0.5 }],
  indicators: (options) => [...fredSeries(options)].flatMap(([id, series]) => indicatorOf(id, series) ?? []),
  views: ['analytics.fred_series', 'analytics.buffett_indicator'],
  // GDP comes about a month after its quarter; its observation is dated the quarter's first day,
  // so the newest one is normally under 7 months old.
  freshness: {
    maxAgeDays: 215,
    description: 'newest GDP quarter (dated its first day)',
    sql: `select max(observation_date) as newest from core.fred_observations where series_id = 'GDP'`,
  },
  previews: [
    {
      title: 'Latest Buffett indicator: US corporate equities / GDP (analytics.buffett_indicator)',
      sql: `select quarter,
                   round(equities_usd_bn, 1) as equities_usd_bn,
                   gdp_usd_bn_saar,
                   round(buffett_indicator_pct, 1) as pct_of_gdp,
                   history_quarters,
                   round(mean_pct_to_date, 1) as mean_to_date,
                   round(zscore, 2) as z_score
            from analytics.buffett_indicator
            order by quarter_start desc
            limit 1`,
    },
  ],
});

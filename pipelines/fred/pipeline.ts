import type { SqlConnection } from '../../src/db/connect.js';
import { code, decimal, isoDate } from '../../src/engine/fields.js';
import { definePipeline, rowSchema, type PipelineRuntime } from '../../src/engine/pipeline.js';
import { SCALES, fredOptionProblems, fredSeries } from './options.js';
import { fredReader } from './reader.js';

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

/** Write the configured series to core.fred_series; unchanged rows are not rewritten. */
async function syncSeries(conn: SqlConnection, runtime: PipelineRuntime): Promise<void> {
  const series = [...fredSeries(runtime)];
  const ids = series.map(([id]) => id);
  await conn.query(
    `insert into core.fred_series (series_id, unit, scale, multiplier, description, updated_at)
     select s.series_id, s.unit, s.scale, s.multiplier::numeric, s.description, now()
     from jsonb_to_recordset($1::jsonb) as s(series_id text, unit text, scale text, multiplier text, description text)
     on conflict (series_id) do update
       set unit = excluded.unit, scale = excluded.scale, multiplier = excluded.multiplier,
           description = excluded.description, updated_at = excluded.updated_at
       where (core.fred_series.unit, core.fred_series.scale, core.fred_series.multiplier, core.fred_series.description)
             is distinct from (excluded.unit, excluded.scale, excluded.multiplier, excluded.description)`,
    [
      JSON.stringify(
        series.map(([id, s]) => ({ series_id: id, unit: s.unit, scale: s.scale, multiplier: String(SCALES[s.scale]), description: s.description ?? null })),
      ),
    ],
  );
  await conn.query(`delete from core.fred_series where not (series_id = any($1::text[]))`, [ids]);
}

export const fred = definePipeline({
  name: 'fred',
  description: 'FRED CSV series (observation_date or DATE, <SERIES_ID>…) → analytics.fred_series, analytics.buffett_indicator',
  source: { pattern: '*.csv', expectContentType: 'csv' },
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
  optionProblems: (options) => fredOptionProblems(options),
  guardedTables: [{ table: 'core.fred_observations', maxDrop: 0.5 }],
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

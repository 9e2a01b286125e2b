import { expect, it } from 'vitest';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { rows } from '../helpers/pipelines.js';

/**
 * FRED series become indicators by data, not SQL: a core.fred_series row with `indicator` set
 * puts every observation of the series into analytics.indicator_values (USD series in whole
 * dollars), lists the indicator in analytics.indicators, and so shows it on the dashboard.
 */

describeEachDatabase('FRED series marked as indicators', (kind) => {
  it('appear in indicator_values, indicators and bubble_dashboard, with their configured attributes or the defaults', async () => {
    const db = await useDatabase(kind);
    const [run] = await rows<{ run_id: string }>(db.handle, `insert into etl.runs (pipeline, trigger, status) values ('fred', 'manual', 'succeeded') returning run_id`);
    const [file] = await rows<{ file_id: string }>(
      db.handle,
      `insert into etl.source_files (pipeline, source_key, uri, sha256, size_bytes, run_id) values ('fred', 'fred.csv', 'file:///inbox/fred.csv', repeat('a', 64), 1, $1) returning file_id`,
      [run!.run_id],
    );
    await rows(
      db.handle,
      `insert into core.fred_series (series_id, unit, scale, multiplier, description, indicator, indicator_subject, indicator_family, indicator_frequency, indicator_direction, indicator_unit, indicator_description) values
         ('GDPC1', 'USD', 'billions', 1000000000, 'Real GDP, chained 2017 dollars', 'real_gdp', null, null, 'quarter', null, null, null),
         ('T10Y2Y', 'pct', 'ones', 1, '10-year minus 2-year Treasury yield', 'yield_curve_10y2y', 'US_treasuries', 'rates', null, 'lower', 'pp', 'Ten-year minus two-year Treasury yield'),
         ('UNRATE', 'pct', 'ones', 1, 'Unemployment rate', null, null, null, null, null, null, null)`,
    );
    await rows(
      db.handle,
      `insert into core.fred_observations (series_id, observation_date, value, file_id, line_no, run_id) values
         ('GDPC1', '2025-01-01', 23528.047, $1, 2, $2), ('GDPC1', '2025-04-01', 23770.976, $1, 3, $2),
         ('T10Y2Y', '2025-11-28', 0.53, $1, 4, $2), ('T10Y2Y', '2025-12-01', 0.56, $1, 5, $2),
         ('UNRATE', '2025-10-01', 4.4, $1, 6, $2)`,
      [file!.file_id, run!.run_id],
    );

    const values = await rows(
      db.handle,
      `select indicator, subject, period_end::text, value::text, unit, family, frequency from analytics.indicator_values where indicator in ('real_gdp', 'yield_curve_10y2y') or subject in ('US_treasuries') or indicator like '%unrate%' order by 1, 3`,
    );
    expect(values).toEqual([
      { indicator: 'real_gdp', subject: 'US', period_end: '2025-03-31', value: '23528047000000.000', unit: 'USD', family: 'macro', frequency: 'quarter' },
      { indicator: 'real_gdp', subject: 'US', period_end: '2025-06-30', value: '23770976000000.000', unit: 'USD', family: 'macro', frequency: 'quarter' },
      { indicator: 'yield_curve_10y2y', subject: 'US_treasuries', period_end: '2025-11-28', value: '0.53', unit: 'pp', family: 'rates', frequency: 'irregular' },
      { indicator: 'yield_curve_10y2y', subject: 'US_treasuries', period_end: '2025-12-01', value: '0.56', unit: 'pp', family: 'rates', frequency: 'irregular' },
    ]);

    const catalog = await rows(db.handle, `select * from analytics.indicators where source_view = 'analytics.fred_series' order by indicator`);
    expect(catalog).toEqual([
      { indicator: 'real_gdp', family: 'macro', unit: 'USD', frequency: 'quarter', direction: 'neither', description: 'Real GDP, chained 2017 dollars', source_view: 'analytics.fred_series' },
      { indicator: 'yield_curve_10y2y', family: 'rates', unit: 'pp', frequency: 'irregular', direction: 'lower', description: 'Ten-year minus two-year Treasury yield', source_view: 'analytics.fred_series' },
    ]);

    const dashboard = await rows(
      db.handle,
      `select family, indicator, subject, unit, latest_period::text, latest_value::text, previous_value::text, history_points::int from analytics.bubble_dashboard where family in ('macro', 'rates') order by indicator`,
    );
    expect(dashboard).toEqual([
      { family: 'macro', indicator: 'real_gdp', subject: 'US', unit: 'USD', latest_period: '2025-06-30', latest_value: '23770976000000.000', previous_value: '23528047000000.000', history_points: 2 },
      { family: 'rates', indicator: 'yield_curve_10y2y', subject: 'US_treasuries', unit: 'pp', latest_period: '2025-12-01', latest_value: '0.56', previous_value: '0.53', history_points: 2 },
    ]);
  });
});

import { expect, it } from 'vitest';
import { fred } from '../../pipelines/fred/pipeline.js';
import { fredSeriesRows, type FredOptions } from '../../pipelines/fred/options.js';
import { REGISTRY } from '../../pipelines/registry.js';
import { configuredIndicators } from '../../src/alerts/known-indicators.js';
import { loadConfig, resolveConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

/** FRED series declared as indicators in the config: config → core.fred_series rows, and the names `rules check` accepts. */

const FILE = '/etc/bubblewatch/test.yaml';

function fredConfig(series: Record<string, unknown>) {
  return resolveConfig(FILE, { pipelines: { fred: { sources: [{ path: 'x' }], options: { series } } } }, {}, REGISTRY);
}

function options(series: Record<string, unknown>): FredOptions {
  return fred.optionsOf(fredConfig(series).pipelines.get('fred')!.options);
}

it('maps indicator: true and the long form to the indicator columns, with the defaults filled in', () => {
  const rows = fredSeriesRows(
    options({
      UNRATE: { unit: 'percent', description: 'Unemployment rate', indicator: true },
      T10Y2Y: {
        unit: 'percent',
        indicator: { name: 'yield_curve_10y_2y', subject: 'US Treasuries', family: 'rates', frequency: 'day', direction: 'lower', unit: 'pp' },
      },
    }),
  );
  expect(rows.map((r) => r.series_id)).toEqual(['GDP', 'NCBEILQ027S', 'UNRATE', 'T10Y2Y']);
  const none = { indicator: null, indicator_subject: null, indicator_family: null, indicator_frequency: null, indicator_direction: null, indicator_unit: null, indicator_description: null };
  expect(rows[0]).toMatchObject({ series_id: 'GDP', unit: 'USD', scale: 'billions', multiplier: '1000000000', ...none });
  expect(rows[2]).toEqual({
    series_id: 'UNRATE', unit: 'percent', scale: 'ones', multiplier: '1', description: 'Unemployment rate',
    indicator: 'unrate', indicator_subject: 'US', indicator_family: 'macro', indicator_frequency: 'irregular', indicator_direction: null,
    indicator_unit: null, indicator_description: 'Unemployment rate',
  });
  expect(rows[3]).toEqual({
    series_id: 'T10Y2Y', unit: 'percent', scale: 'ones', multiplier: '1', description: null,
    indicator: 'yield_curve_10y_2y', indicator_subject: 'US Treasuries', indicator_family: 'rates', indicator_frequency: 'day',
    indicator_direction: 'lower', indicator_unit: 'pp', indicator_description: null,
  });
});

it('lists the indicators the config declares, and none for the bundled config', () => {
  expect(configuredIndicators(REGISTRY.pipelines, fredConfig({ UNRATE: { unit: 'percent', indicator: { family: 'labour', direction: 'higher' } } }))).toEqual([
    { series_id: 'UNRATE', name: 'unrate', subject: 'US', family: 'labour', frequency: 'irregular', direction: 'higher', unit: null, description: null },
  ]);
  expect(configuredIndicators(REGISTRY.pipelines, loadConfig({ registry: REGISTRY, env: {} }))).toEqual([]);
});

it('refuses indicators that are not snake_case, have unknown keys or values, or share a name', () => {
  let problems: readonly string[] = [];
  try {
    fredConfig({
      A: { unit: 'x', indicator: { name: 'Bad-Name' } },
      B: { unit: 'x', indicator: { direction: 'up', colour: 1 } },
      C: { unit: 'x', indicator: 'yes' },
    });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    problems = (error as ConfigError).problems;
  }
  expect(problems).toEqual([
    'pipelines.fred.options.series.A.indicator.name: expected a snake_case name such as unemployment_rate',
    expect.stringMatching(/^pipelines\.fred\.options\.series\.B\.indicator\.direction: /),
    'pipelines.fred.options.series.B.indicator: unknown key "colour"',
    'pipelines.fred.options.series.C.indicator: got "yes", expected true or { name, subject, family, frequency, direction, unit } (each optional)',
  ]);
  expect(() => fredConfig({ X: { unit: 'x', indicator: { name: 'same' } }, Y: { unit: 'x', indicator: { name: 'same' } } })).toThrow(
    expect.objectContaining({ problems: ['pipelines.fred.options.series.Y.indicator: indicator "same" is already the indicator of series X; expected a name of its own'] }) as unknown as Error,
  );
  expect(() => fredConfig({ '1A': { unit: 'x', indicator: true } })).toThrow(
    expect.objectContaining({ problems: ['pipelines.fred.options.series.1A.indicator: "1a" (the series ID in lower case) is not snake_case; expected indicator: { name: … }'] }) as unknown as Error,
  );
});

import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { cliInProcess as cli } from '../helpers/cli.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { makeInbox, rows, writeFile } from '../helpers/pipelines.js';

/**
 * README "Adding a source or an indicator", walked: a FRED series that bubblewatch has never
 * heard of (SP500, the S&P 500's daily close as FRED publishes it) becomes an indicator by config
 * alone — no SQL, no migration, no code — and reaches analytics.indicator_values, the indicator
 * catalog, `dashboard`, the report's dashboard section, `rules check` and `rules test`.
 */

const SP500_CSV = join(PACKAGE_ROOT, 'test', 'fixtures', 'valuation', 'fred_sp500_current.csv');

function setup(indicator: string): string {
  const dir = makeInbox();
  mkdirSync(join(dir, 'fred'));
  cpSync(SP500_CSV, join(dir, 'fred', 'SP500.csv'));
  return writeFile(
    dir,
    'bubblewatch.yaml',
    `alerts:
  rules:
    - id: sp500_above_1900
      indicator: ${indicator}
      subject: SP500
      op: ">"
      threshold: 1900
      message: "S&P 500 closed at {value} on {period}"
pipelines:
  fred:
    sources: [{ path: ./fred }]
    options:
      series:
        SP500:
          unit: index
          description: "S&P 500 index, daily close (S&P Dow Jones Indices via FRED)"
          indicator: { subject: SP500, family: valuation, frequency: day, direction: higher }
`,
  );
}

describeEachDatabase('a FRED series made an indicator by config alone', (kind) => {
  it('reaches indicator_values, the catalog, the dashboard, the report, rules check and rules test', async () => {
    const db = await useDatabase(kind);
    await db.close();
    const config = setup('sp500');

    const check = await cli(['--config', config, 'rules', 'check'], db.env);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/1 alert rule\(s\) valid/);

    const run = await cli(['--config', config, 'run', '--all', '--no-preview'], db.env);
    expect(run.code, run.stderr.slice(-800)).toBe(0);

    const handle = await db.reopen();
    // FRED's file has an empty value for the 2016-02-15 holiday: five closes, not six.
    expect(await rows(handle, `select period_end::text, value::text, unit, family, frequency from analytics.indicator_values where indicator = 'sp500' and subject = 'SP500' order by period_end`)).toEqual([
      { period_end: '2016-02-12', value: '1864.78', unit: 'index', family: 'valuation', frequency: 'day' },
      { period_end: '2016-02-16', value: '1895.58', unit: 'index', family: 'valuation', frequency: 'day' },
      { period_end: '2016-02-17', value: '1926.82', unit: 'index', family: 'valuation', frequency: 'day' },
      { period_end: '2016-02-18', value: '1917.83', unit: 'index', family: 'valuation', frequency: 'day' },
      { period_end: '2016-02-19', value: '1917.78', unit: 'index', family: 'valuation', frequency: 'day' },
    ]);
    expect(await rows(handle, `select indicator, family, unit, frequency, direction, description from analytics.indicators where indicator = 'sp500'`)).toEqual([
      { indicator: 'sp500', family: 'valuation', unit: 'index', frequency: 'day', direction: 'higher', description: 'S&P 500 index, daily close (S&P Dow Jones Indices via FRED)' },
    ]);
    await db.close();

    const dashboard = await cli(['--config', config, 'dashboard', '--indicator', 'sp500'], db.env);
    expect(dashboard.code, dashboard.stderr.slice(-600)).toBe(0);
    expect(dashboard.stdout).toMatch(/valuation\s+sp500\s+SP500\s+2016-02-19\s+1,917\.8 index\s+.*\s5\s+firing \(warning\): sp500_above_1900/);

    // The report's dashboard section: one row per indicator and subject, this one included.
    const reportFile = join(dirname(config), 'report.html');
    const report = await cli(['--config', config, 'report', '--out', reportFile], db.env);
    expect(report.code, report.stderr.slice(-600)).toBe(0);
    expect(readFileSync(reportFile, 'utf8')).toMatch(/<tr><td>sp500<\/td><td>SP500<\/td><td class="date">2016-02-19<\/td>/);

    const replay = await cli(['--config', config, 'rules', 'test'], db.env);
    expect(replay.code, replay.stderr.slice(-600)).toBe(0);
    expect(replay.stdout).toMatch(/2016-02-17\s+SP500\s+fires\s+1,927\s+/);
    expect(replay.stdout).toContain('now: SP500 firing (latest 2016-02-19: 1,918)');
  });

  it('refuses a rule on an indicator nobody declared, naming the rule and the nearest names (exit 2)', async () => {
    const db = await useDatabase(kind);
    await db.close();
    const config = setup('sp5000');
    const check = await cli(['--config', config, 'rules', 'check'], db.env);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain('alerts.rules.0 (id sp500_above_1900).indicator: "sp5000" is not a declared indicator, so the rule could never fire; expected a declared name, nearest: sp500');

    // The scheduler does not stop for it, but says so once the first pass has loaded the data.
    const start = await cli(['--config', config, 'start', '--once', '--no-preview'], db.env);
    expect(start.code, start.stderr.slice(-600)).toBe(0);
    const warnings = start.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
    expect(warnings.map((w) => w.msg)).toContainEqual(expect.stringContaining('alerts.rules.0 (id sp500_above_1900).indicator: "sp5000" is not a declared indicator'));
  });
});

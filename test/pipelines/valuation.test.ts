import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fred } from '../../pipelines/fred/pipeline.js';
import { shiller } from '../../pipelines/shiller/pipeline.js';
import { parseShillerMonth } from '../../pipelines/shiller/reader.js';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, memoryLogger, rows, runOnce, writeFile } from '../helpers/pipelines.js';

const shillerPipeline = shiller as unknown as AnyPipeline;
const fredPipeline = fred as unknown as AnyPipeline;
const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures', 'valuation');
const SAMPLE = join(PACKAGE_ROOT, 'data', 'sample');

function copy(from: string, inbox: string, as: string): string {
  const target = join(inbox, as);
  copyFileSync(from, target);
  return target;
}

function withOptions(config: ResolvedPipelineConfig, options: Record<string, unknown>): ResolvedPipelineConfig {
  return { ...config, options };
}

async function counts(handle: DatabaseHandle) {
  const [row] = await rows<Record<string, number>>(
    handle,
    `select (select count(*) from raw.shiller_monthly) as raw_shiller, (select count(*) from core.shiller_monthly) as core_shiller,
            (select count(*) from raw.fred_observations) as raw_fred, (select count(*) from core.fred_observations) as core_fred,
            (select count(*) from etl.source_files) as files, (select count(*) from etl.rejects) as rejects`,
  );
  return row!;
}

const CORE_SHILLER = 'select * from core.shiller_monthly order by month';

describe('Shiller decimal dates', () => {
  it.each([
    ['1871.01', '1871-01-01'],
    ['1999.1', '1999-10-01'],
    ['1999.10', '1999-10-01'],
    ['1999.11', '1999-11-01'],
    ['1999.12', '1999-12-01'],
    ['2026.05', '2026-05-01'],
  ])('reads %s as %s', (text, month) => {
    expect(parseShillerMonth(text)).toEqual({ ok: true, month });
  });

  it.each(['1999.13', '1999.00', '1999.015', '1999', '99.01', 'May'])('refuses %s', (text) => {
    expect(parseShillerMonth(text).ok).toBe(false);
  });
});

/** The problems the config loader reports for these options: none when they parse. */
function optionProblems(pipeline: AnyPipeline, options: unknown): readonly string[] {
  const parsed = pipeline.parseOptions(options);
  return parsed.ok ? [] : parsed.problems;
}

describe('valuation pipeline options', () => {
  it('reports bad options as path: message', () => {
    expect(optionProblems(shiller, { layout: 'xls' })).toEqual([
      expect.stringMatching(/^pipelines\.shiller\.options\.layout: /) as unknown as string,
    ]);
    expect(optionProblems(fred, { series: { GDP: { unit: 'USD', scale: 'billion' } } })).toEqual([
      expect.stringMatching(/^pipelines\.fred\.options\.series\.GDP\.scale: /) as unknown as string,
    ]);
    expect(optionProblems(shiller, { layout: 'shiller-xls' })).toEqual([]);
    expect(optionProblems(fred, { series: { NCBEILQ027S: { unit: 'USD', scale: 'millions' } } })).toEqual([]);
  });
});

describeEachDatabase('shiller pipeline', (kind) => {
  it("reproduces Shiller's published CAPE for every month of the bundled sample", async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(SAMPLE, 'shiller', 'ie_data.csv'), inbox, 'ie_data.csv');
    const summary = await runOnce(db.handle, shillerPipeline, inboxConfig(shillerPipeline, inbox));
    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    // 1,865 months (1871-01 … 2026-05) and Shiller's notes row after them.
    expect(summary.counts).toMatchObject({ filesLoaded: 1, rowsRead: 1866, rowsLoaded: 1865, rowsRejected: 0, rowsSkipped: 1 });

    const compared = await rows<{ month: string; cape: number; cape_shiller: number }>(
      db.handle,
      `select month, cape, cape_shiller from analytics.cape where cape is not null and cape_shiller is not null order by month`,
    );
    expect(compared).toHaveLength(1745);
    for (const r of compared) {
      expect(Math.abs(r.cape / r.cape_shiller - 1), `CAPE ${r.month}: computed ${r.cape}, Shiller ${r.cape_shiller}`).toBeLessThan(0.005);
    }
    const [first] = compared;
    expect(first!.month).toBe('1881-01-01');

    const [dec1999] = await rows<Record<string, number | string>>(db.handle, `select * from analytics.cape where month = '1999-12-01'`);
    expect(Math.abs((dec1999!.cape as number) - 44.2)).toBeLessThan(0.05);
    expect(dec1999).toMatchObject({ cape_percentile: 1, earnings_months_in_window: 120, cape_to_1999_peak: 1, cape_points_below_1999_peak: 0 });
    expect(dec1999!.cape_zscore as number).toBeGreaterThan(3);

    // The latest months: Shiller leaves D and E blank; CAPE uses the earnings months there are.
    const latest = await rows<Record<string, number | string | null>>(
      db.handle,
      `select month, earnings, dividend, cape, cape_shiller, earnings_months_in_window, real_price, price, cpi_base_month, cpi_base,
              cape_percentile, cape_zscore, cape_mean_to_date, history_months, cape_to_1999_peak
       from analytics.cape where month >= '2026-03-01' order by month`,
    );
    expect(latest.map((r) => [r.month, r.earnings, r.dividend, r.earnings_months_in_window])).toEqual([
      ['2026-03-01', 277.1, 79.97, 120],
      ['2026-04-01', null, null, 120],
      ['2026-05-01', null, null, 119],
    ]);
    const may = latest[2]!;
    expect(Math.abs((may.cape as number) - 39.5835)).toBeLessThan(0.001);
    // Real values are in dollars of the latest CPI month, so May's real price is its nominal price.
    expect(may).toMatchObject({ cpi_base_month: '2026-05-01', cpi_base: 332.784, price: 7259.22, real_price: 7259.22, history_months: 1745 });
    expect(may.cape_percentile as number).toBeGreaterThan(0.95);
    expect(Math.abs((may.cape_mean_to_date as number) - 17.74)).toBeLessThan(0.05);
    expect(Math.abs((may.cape_to_1999_peak as number) - 39.5835 / 44.198)).toBeLessThan(0.001);

    // Statistics need ten years of CAPE first.
    const [early] = await rows<Record<string, unknown>>(
      db.handle,
      `select count(*) filter (where cape_percentile is not null) as with_percentile, min(month) filter (where cape_zscore is not null) as first_z,
              min(month) filter (where cape_mean_to_date is not null) as first_mean
       from analytics.cape`,
    );
    expect(early).toEqual({ with_percentile: 1745 - 119, first_z: '1890-12-01', first_mean: '1890-12-01' });

    const checks = await rows<{ check_name: string; status: string }>(db.handle, 'select check_name, status from etl.check_results where run_id = $1 order by 1', [summary.runId]);
    expect(checks.every((c) => c.status === 'passed'), JSON.stringify(checks)).toBe(true);
  });

  it('changes nothing when re-run, or fully refreshed, with no new input', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(SAMPLE, 'shiller', 'ie_data.csv'), inbox, 'ie_data.csv');
    const first = await runOnce(db.handle, shillerPipeline, inboxConfig(shillerPipeline, inbox));
    expect(first.status).toBe('succeeded');
    const before = { core: await rows(db.handle, CORE_SHILLER), counts: await counts(db.handle) };

    const second = await runOnce(db.handle, shillerPipeline, inboxConfig(shillerPipeline, inbox));
    expect(second.counts).toMatchObject({ filesSeen: 1, filesLoaded: 0, filesSkipped: 1, rowsRead: 0 });
    expect(await rows(db.handle, CORE_SHILLER)).toEqual(before.core);

    const refresh = await runOnce(db.handle, shillerPipeline, inboxConfig(shillerPipeline, inbox), { fullRefresh: true });
    expect(refresh.status).toBe('succeeded');
    expect(await rows(db.handle, CORE_SHILLER)).toEqual(before.core);
    expect(await counts(db.handle)).toEqual(before.counts);
  });

  it('reads a Shiller export whose latest months lack D and E and whose notes rows follow the data', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(FIXTURES, 'shiller_xls_footer.csv'), inbox, 'ie_data_excerpt.csv');
    const { logger, lines } = memoryLogger();
    const summary = await runOnce(db.handle, shillerPipeline, withOptions(inboxConfig(shillerPipeline, inbox), { layout: 'shiller-xls' }), {}, logger);
    expect(summary.status).toBe('succeeded');
    // 12 months; an empty row and two notes rows after them (the empty row is a blank line).
    expect(summary.counts).toMatchObject({ rowsRead: 14, rowsLoaded: 12, rowsRejected: 0, rowsSkipped: 2 });
    expect(lines.map((l) => l.msg)).toContainEqual(expect.stringMatching(/2 notes row\(s\) after the last month skipped \(from line 21: "May price is provisional/));

    const raw = await rows<Record<string, unknown>>(
      db.handle,
      `select month, line_no, price, dividend, earnings, cpi, gs10, cape_published, layout from raw.shiller_monthly order by month`,
    );
    expect(raw).toHaveLength(12);
    expect(raw[4]).toEqual({ month: '2025-10-01', line_no: 12, price: 6735.691739, dividend: 78.826667, earnings: 241.203333, cpi: 325.212, gs10: 4.06, cape_published: 39.205692, layout: 'shiller-xls' });
    expect(raw.slice(-2).map((r) => [r.month, r.dividend, r.earnings, r.cpi])).toEqual([
      ['2026-04-01', null, null, 331.927],
      ['2026-05-01', null, null, 332.784],
    ]);
    // One year of history gives no CAPE of our own; Shiller's stays beside it.
    const view = await rows<{ cape: number | null; cape_shiller: number }>(db.handle, 'select cape, cape_shiller from analytics.cape order by month');
    expect(view.every((r) => r.cape === null)).toBe(true);
    expect(view.at(-1)!.cape_shiller).toBe(39.583506);
  });

  it('rejects a row inside the data that is not a month, and a month that does not exist, and loads the rest', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const lines = readFileSync(join(FIXTURES, 'shiller_xls_footer.csv'), 'utf8').split('\n');
    // Line 10 (2025.08) becomes a notes-like row in the middle; line 11 (2025.09) an impossible month.
    lines[9] = ',stray note,,,,,,,,,,,,,,,,,,,,';
    lines[10] = lines[10]!.replace(/^2025\.09/, '2025.13');
    const path = writeFile(inbox, 'broken.csv', lines.join('\n'));
    const summary = await runOnce(db.handle, shillerPipeline, inboxConfig(shillerPipeline, inbox));
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ rowsRead: 14, rowsLoaded: 10, rowsRejected: 2, rowsSkipped: 2 });
    const rejects = await rows(db.handle, 'select uri, line_no, column_name, column_no, value, reason from etl.rejects order by line_no');
    expect(rejects).toEqual([
      {
        uri: path, line_no: 10, column_name: 'month', column_no: 1, value: '',
        reason: `column 'month': got "", expected a month written YYYY.MM; only notes rows after the last month may hold anything else`,
      },
      {
        uri: path, line_no: 11, column_name: 'month', column_no: 1, value: '2025.13',
        reason: `column 'month': got "2025.13", expected a month written YYYY.MM with MM from 01 to 12 (2025.13 would be month 13)`,
      },
    ]);
  });

  it('reads the datasets/s-and-p-500 layout, where 0.0 means missing', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(FIXTURES, 'datasets_sp500_2011_2024.csv'), inbox, 'data.csv');
    const summary = await runOnce(db.handle, shillerPipeline, inboxConfig(shillerPipeline, inbox));
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ rowsRead: 158, rowsLoaded: 158, rowsRejected: 0, rowsSkipped: 0 });

    const tail = await rows<Record<string, unknown>>(
      db.handle,
      `select month, price, dividend, earnings, cpi, gs10, cape, cape_shiller, layout from analytics.cape
       where month in ('2023-06-01', '2023-07-01', '2023-09-01', '2023-10-01', '2024-02-01') order by month`,
    );
    expect(tail.map(({ cape, ...r }) => ({ ...r, has_cape: cape !== null }))).toEqual([
      { month: '2023-06-01', price: 4345.372857142857, dividend: 68.71, earnings: 181.17, cpi: 305.11, gs10: 3.75, cape_shiller: 29.94, layout: 'datasets-sp500', has_cape: true },
      { month: '2023-07-01', price: 4508.075500000001, dividend: null, earnings: null, cpi: 305.69, gs10: 3.9, cape_shiller: 30.89, layout: 'datasets-sp500', has_cape: true },
      { month: '2023-09-01', price: 4515.77, dividend: null, earnings: null, cpi: 306.13, gs10: 4.09, cape_shiller: 30.81, layout: 'datasets-sp500', has_cape: true },
      { month: '2023-10-01', price: 4269.4, dividend: null, earnings: null, cpi: null, gs10: null, cape_shiller: null, layout: 'datasets-sp500', has_cape: false },
      { month: '2024-02-01', price: 5011.96, dividend: null, earnings: null, cpi: null, gs10: null, cape_shiller: null, layout: 'datasets-sp500', has_cape: false },
    ]);
    // Ten years of the excerpt (from 2011-01) give CAPE from 2021-01; it matches PE10 (rounded to 2 decimals there).
    const compared = await rows<{ month: string; cape: number; cape_shiller: number }>(
      db.handle,
      `select month, cape, cape_shiller from analytics.cape where cape is not null order by month`,
    );
    expect(compared.map((r) => r.month)[0]).toBe('2021-01-01');
    expect(compared).toHaveLength(33);
    for (const r of compared) expect(Math.abs(r.cape / r.cape_shiller - 1), r.month).toBeLessThan(0.005);
    // Real values are in dollars of the latest month with a CPI (2023-09), not of the price-only months after it.
    const [base] = await rows(db.handle, `select distinct cpi_base_month, cpi_base from analytics.cape`);
    expect(base).toEqual({ cpi_base_month: '2023-09-01', cpi_base: 306.13 });
  });

  it('uses the newest vintage whole, never splicing two files', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(FIXTURES, 'datasets_sp500_2011_2024.csv'), inbox, 'a-datasets.csv');
    copy(join(FIXTURES, 'shiller_xls_footer.csv'), inbox, 'b-shiller.csv');
    const summary = await runOnce(db.handle, shillerPipeline, inboxConfig(shillerPipeline, inbox));
    expect(summary.status).toBe('succeeded');
    // The Shiller excerpt reaches 2026-05 with a CPI; the datasets file only 2023-09.
    const [series] = await rows(db.handle, `select min(month) as first, max(month) as last, count(distinct layout) as layouts from core.shiller_monthly`);
    expect(series).toEqual({ first: '2025-06-01', last: '2026-05-01', layouts: 1 });
  });

  it.each([
    [
      'a datasets header without Consumer Price Index',
      'Date,SP500,Dividend,Earnings,CPI,Long Interest Rate,Real Price,Real Dividend,Real Earnings,PE10\n1871-01-01,4.44,0.26,0.4,12.46,5.32,109.05,6.39,9.82,0.0\n',
      {},
      /bad\.csv:1 column 5: the header lacks required column\(s\) "consumer price index" of the datasets-sp500 layout \(column 5 is "CPI"\); got first line "Date,SP500,Dividend,Earnings,CPI,/,
    ],
    [
      'a file in neither layout',
      'series,subject,date,value\nx,US,2025-01-01,1\n',
      {},
      /bad\.csv:1: no header row found in the first 2 non-blank line\(s\); got first line "series,subject,date,value"; expected Date,SP500,.* or Date,P,D,E,CPI,/,
    ],
    [
      'a Shiller export when the datasets layout is configured',
      readFileSync(join(FIXTURES, 'shiller_xls_footer.csv'), 'utf8'),
      { layout: 'datasets-sp500' },
      /bad\.csv:1: the first line is not the datasets\/s-and-p-500 header; got first line "\\"Stock Market Data Used in/,
    ],
  ])('fails %s alone and keeps nothing of it; the good file beside it loads', async (_name, content, options, message) => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(FIXTURES, 'datasets_sp500_2011_2024.csv'), inbox, 'a-good.csv');
    writeFile(inbox, 'bad.csv', content);
    const summary = await runOnce(db.handle, shillerPipeline, withOptions(inboxConfig(shillerPipeline, inbox), options));
    expect(summary.status).toBe('partial');
    expect(summary.error).toMatch(message);
    expect(await rows(db.handle, 'select uri from etl.source_files')).toEqual([{ uri: join(inbox, 'a-good.csv') }]);
    expect(await counts(db.handle)).toMatchObject({ raw_fred: 0, core_fred: 0, files: 1, rejects: 0 });
    const [run] = await rows(db.handle, 'select status, error from etl.runs where run_id = $1', [summary.runId]);
    expect(run!.status).toBe('partial');
    expect(run!.error).toMatch(message);
  });

  it('refuses unknown options with the config path', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(FIXTURES, 'datasets_sp500_2011_2024.csv'), inbox, 'data.csv');
    const summary = await runOnce(db.handle, shillerPipeline, withOptions(inboxConfig(shillerPipeline, inbox), { layout: 'xlsx' }));
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/invalid options for pipeline shiller\n\s+- pipelines\.shiller\.options\.layout: /);
  });

  it('documents analytics.cape and every column with COMMENT ON', async () => {
    const db = await useDatabase(kind);
    await expectDocumented(db.handle, 'analytics.cape', /cyclically adjusted P\/E/);
  });
});

describeEachDatabase('fred pipeline', (kind) => {
  it('computes the Buffett indicator from the bundled sample, minding millions vs billions', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(SAMPLE, 'fred', 'GDP.csv'), inbox, 'GDP.csv');
    copy(join(SAMPLE, 'fred', 'NCBEILQ027S.csv'), inbox, 'NCBEILQ027S.csv');
    const summary = await runOnce(db.handle, fredPipeline, inboxConfig(fredPipeline, inbox));
    expect(summary.error).toBeUndefined();
    const gdpLines = readFileSync(join(SAMPLE, 'fred', 'GDP.csv'), 'utf8').trim().split('\n').length - 1;
    expect(summary.counts).toMatchObject({ filesLoaded: 2, rowsRead: gdpLines + 9, rowsLoaded: gdpLines + 9, rowsRejected: 0, rowsSkipped: 0 });

    const quarters = await rows<Record<string, unknown>>(
      db.handle,
      `select quarter, period_end, equities_usd_mn, gdp_usd_bn_saar, buffett_indicator_pct, history_quarters, zscore, percentile, mean_pct_to_date
       from analytics.buffett_indicator order by quarter_start`,
    );
    expect(quarters.map((q) => q.quarter)).toEqual(['2018-Q4', '2019-Q3', '2019-Q4', '2020-Q1', '2020-Q2', '2020-Q3', '2020-Q4', '2025-Q4', '2026-Q1']);
    const q4 = quarters.at(-2)!;
    const q1 = quarters.at(-1)!;
    expect(q4).toMatchObject({ quarter: '2025-Q4', period_end: '2025-12-31', equities_usd_mn: 71863086, gdp_usd_bn_saar: 31462.523, history_quarters: 8 });
    // 71,863,086 $M / 31,462.523 $bn: millions → ×1e6, billions → ×1e9.
    expect(q4.buffett_indicator_pct as number).toBeCloseTo((71863086 * 1e6) / (31462.523 * 1e9) * 100, 9);
    expect(Math.abs((q4.buffett_indicator_pct as number) - 228.4)).toBeLessThan(0.05);
    expect(Math.abs((q1.buffett_indicator_pct as number) - 217.9)).toBeLessThan(0.05);
    // Nine quarters are no history for a z-score: NULL, not a made-up number.
    expect(quarters.every((q) => q.zscore === null && q.percentile === null && q.mean_pct_to_date === null)).toBe(true);

    const units = await rows(db.handle, `select distinct series_id, unit, scale from analytics.fred_series order by 1`);
    expect(units).toEqual([
      { series_id: 'GDP', unit: 'USD', scale: 'billions' },
      { series_id: 'NCBEILQ027S', unit: 'USD', scale: 'millions' },
    ]);
  });

  it('reads both header styles, skips "." and empty values, and takes series IDs from the header', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(FIXTURES, 'fred_sp500_current.csv'), inbox, 'SP500.csv');
    copy(join(FIXTURES, 'fred_ncbeilq027s_legacy.csv'), inbox, 'NCBEILQ027S.csv');
    copy(join(FIXTURES, 'fred_gdp_equities_combined.csv'), inbox, 'combined.csv');
    const summary = await runOnce(db.handle, fredPipeline, inboxConfig(fredPipeline, inbox));
    expect(summary.status).toBe('succeeded');
    // SP500: 6 lines, one empty; legacy: 3 lines, one "."; combined: 3 lines × 2 series, one empty.
    expect(summary.counts).toMatchObject({ rowsRead: 6 + 3 + 6, rowsLoaded: 5 + 2 + 5, rowsSkipped: 3, rowsRejected: 0 });
    const files = await rows(db.handle, `select uri, rows_read, rows_loaded, rows_skipped from etl.source_files order by uri`);
    expect(files).toEqual([
      { uri: join(inbox, 'NCBEILQ027S.csv'), rows_read: 3, rows_loaded: 2, rows_skipped: 1 },
      { uri: join(inbox, 'SP500.csv'), rows_read: 6, rows_loaded: 5, rows_skipped: 1 },
      { uri: join(inbox, 'combined.csv'), rows_read: 6, rows_loaded: 5, rows_skipped: 1 },
    ]);

    const series = await rows(db.handle, `select series_id, count(*) as n, min(observation_date) as first, max(observation_date) as last from analytics.fred_series group by 1 order by 1`);
    expect(series).toEqual([
      { series_id: 'GDP', n: 3, first: '2025-10-01', last: '2026-04-01' },
      { series_id: 'NCBEILQ027S', n: 2, first: '2025-10-01', last: '2026-01-01' },
      { series_id: 'SP500', n: 5, first: '2016-02-12', last: '2016-02-19' },
    ]);
    // SP500 is not configured: stored, with no unit, and a warning check says so.
    const [sp] = await rows(db.handle, `select unit, scale, value_in_unit from analytics.fred_series where series_id = 'SP500' and observation_date = '2016-02-16'`);
    expect(sp).toEqual({ unit: null, scale: null, value_in_unit: null });
    const [check] = await rows(db.handle, `select status, sample from etl.check_results where check_name = 'fred_series_configured'`);
    expect(check).toEqual({ status: 'failed', sample: [{ series_id: 'SP500', observations: 5 }] });

    // The same NCBEILQ027S quarters in two files: the newer file (combined.csv, loaded last) wins.
    const buffett = await rows(db.handle, `select quarter, round(buffett_indicator_pct, 1) as pct from analytics.buffett_indicator order by quarter_start`);
    expect(buffett).toEqual([
      { quarter: '2025-Q4', pct: 228.4 },
      { quarter: '2026-Q1', pct: 217.9 },
    ]);
  });

  it('computes the z-score and percentile once 40 quarters of history exist (synthetic figures)', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    // Synthetic, for the arithmetic only: GDP 1,000 $bn every quarter, equities rising 10,000 $M (1 point) a quarter.
    let csv = 'observation_date,GDP,NCBEILQ027S\n';
    for (let i = 0; i < 41; i++) {
      const year = 2000 + Math.floor(i / 4);
      const month = String((i % 4) * 3 + 1).padStart(2, '0');
      csv += `${year}-${month}-01,1000,${1_000_000 + 10_000 * i}\n`;
    }
    writeFile(inbox, 'synthetic.csv', csv);
    const summary = await runOnce(db.handle, fredPipeline, inboxConfig(fredPipeline, inbox));
    expect(summary.status).toBe('succeeded');
    const quarters = await rows<{ quarter: string; buffett_indicator_pct: number; history_quarters: number; zscore: number | null; percentile: number | null; mean_pct_to_date: number }>(
      db.handle,
      `select quarter, buffett_indicator_pct, history_quarters, zscore, percentile, mean_pct_to_date from analytics.buffett_indicator order by quarter_start`,
    );
    expect(quarters).toHaveLength(41);
    expect(quarters[38]!.zscore).toBeNull();
    const at40 = quarters[39]!;
    expect(at40).toMatchObject({ quarter: '2009-Q4', buffett_indicator_pct: 139, history_quarters: 40, percentile: 1, mean_pct_to_date: 119.5 });
    // Values 100 … 139: sample standard deviation √(40·41/12) = 11.690…
    expect(at40.zscore!).toBeCloseTo(19.5 / Math.sqrt((40 * 41) / 12), 9);
  });

  it('changes nothing when re-run, or fully refreshed, with no new input', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(SAMPLE, 'fred', 'GDP.csv'), inbox, 'GDP.csv');
    copy(join(SAMPLE, 'fred', 'NCBEILQ027S.csv'), inbox, 'NCBEILQ027S.csv');
    await runOnce(db.handle, fredPipeline, inboxConfig(fredPipeline, inbox));
    const snapshot = async () => ({
      core: await rows(db.handle, 'select * from core.fred_observations order by series_id, observation_date'),
      series: await rows(db.handle, 'select * from core.fred_series order by series_id'),
      buffett: await rows(db.handle, 'select * from analytics.buffett_indicator order by quarter_start'),
      counts: await counts(db.handle),
    });
    const before = await snapshot();
    const second = await runOnce(db.handle, fredPipeline, inboxConfig(fredPipeline, inbox));
    expect(second.counts).toMatchObject({ filesLoaded: 0, filesSkipped: 2 });
    expect(await snapshot()).toEqual(before);
    const refresh = await runOnce(db.handle, fredPipeline, inboxConfig(fredPipeline, inbox), { fullRefresh: true });
    expect(refresh.status).toBe('succeeded');
    expect(await snapshot()).toEqual(before);
  });

  it('takes units and scales from the configuration', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(FIXTURES, 'fred_gdp_equities_combined.csv'), inbox, 'combined.csv');
    // A wrong scale changes the indicator by the factor; a unit mismatch makes it NULL.
    await runOnce(db.handle, fredPipeline, withOptions(inboxConfig(fredPipeline, inbox), { series: { NCBEILQ027S: { unit: 'USD', scale: 'billions' } } }));
    const [wrong] = await rows(db.handle, `select round(buffett_indicator_pct) as pct from analytics.buffett_indicator where quarter = '2025-Q4'`);
    expect(wrong).toEqual({ pct: 228409 });
    await runOnce(db.handle, fredPipeline, withOptions(inboxConfig(fredPipeline, inbox), { series: { NCBEILQ027S: { unit: 'EUR', scale: 'millions' } } }));
    const [mismatch] = await rows(db.handle, `select buffett_indicator_pct from analytics.buffett_indicator where quarter = '2025-Q4'`);
    expect(mismatch).toEqual({ buffett_indicator_pct: null });
    await runOnce(db.handle, fredPipeline, inboxConfig(fredPipeline, inbox));
    const [right] = await rows(db.handle, `select round(buffett_indicator_pct, 1) as pct from analytics.buffett_indicator where quarter = '2025-Q4'`);
    expect(right).toEqual({ pct: 228.4 });
  });

  it.each([
    ['a column that is not a series ID', 'observation_date,GDP,GDP growth %\n2025-10-01,31462.523,1.2\n', /bad\.csv:1 column 3: column 3 of the header is not a FRED series ID: "GDP growth %"/],
    ['no date column', 'quarter,GDP\n2025-10-01,31462.523\n', /bad\.csv:1 column 1: the header does not start with a date column \(observation_date or DATE\); column 1 is "quarter"; got "quarter,GDP"; expected observation_date,<SERIES_ID>/],
    ['a series named twice', 'DATE,GDP,gdp\n2025-10-01,1,2\n', /bad\.csv:1 column 3: the header names series GDP twice/],
  ])('fails %s alone and keeps nothing of it; the good file beside it loads', async (_name, content, message) => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(join(FIXTURES, 'fred_sp500_current.csv'), inbox, 'a-good.csv');
    writeFile(inbox, 'bad.csv', content);
    const summary = await runOnce(db.handle, fredPipeline, inboxConfig(fredPipeline, inbox));
    expect(summary.status).toBe('partial');
    expect(summary.error).toMatch(message);
    expect(await rows(db.handle, 'select uri from etl.source_files')).toEqual([{ uri: join(inbox, 'a-good.csv') }]);
    expect(await counts(db.handle)).toMatchObject({ files: 1, rejects: 0 });
  });

  it('rejects bad rows with their line and column and loads the rest', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const path = writeFile(inbox, 'GDP.csv', 'observation_date,GDP\n2025-07-01,31180.493\n2025-10-01,"31,462.523"\n2025-13-01,31906.274\n2026-04-01,32563.030,extra\n');
    const summary = await runOnce(db.handle, fredPipeline, inboxConfig(fredPipeline, inbox));
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ rowsRead: 4, rowsLoaded: 1, rowsRejected: 3 });
    const rejects = await rows(db.handle, 'select uri, line_no, column_name, column_no, value, reason from etl.rejects order by line_no');
    expect(rejects).toEqual([
      { uri: path, line_no: 3, column_name: 'value', column_no: 2, value: '31,462.523', reason: `column 'value': got "31,462.523", expected a plain decimal number such as 1234.5 or 1.2e9 (no thousands separators)` },
      { uri: path, line_no: 4, column_name: 'date', column_no: 1, value: '2025-13-01', reason: `column 'date': got "2025-13-01", expected a real calendar date YYYY-MM-DD` },
      { uri: path, line_no: 5, column_name: null, column_no: 3, value: 'extra', reason: 'the row has 3 fields, the header has 2' },
    ]);
  });

  it('documents analytics.buffett_indicator, analytics.fred_series and every column with COMMENT ON', async () => {
    const db = await useDatabase(kind);
    await expectDocumented(db.handle, 'analytics.buffett_indicator', /Buffett indicator per quarter/);
    await expectDocumented(db.handle, 'analytics.fred_series', /Every FRED series loaded/);
  });
});

async function expectDocumented(handle: DatabaseHandle, view: string, comment: RegExp): Promise<void> {
  const [v] = await rows<{ comment: string | null }>(handle, `select obj_description($1::regclass, 'pg_class') as comment`, [view]);
  expect(v!.comment).toMatch(comment);
  const columns = await rows<{ column_name: string; comment: string | null }>(
    handle,
    `select a.attname as column_name, col_description(a.attrelid, a.attnum) as comment
     from pg_attribute a where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    [view],
  );
  expect(columns.length).toBeGreaterThan(10);
  for (const c of columns) expect(c.comment, `${view}.${c.column_name}`).toBeTruthy();
}

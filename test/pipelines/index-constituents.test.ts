import { copyFileSync, cpSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { indexConstituents } from '../../pipelines/index-constituents/pipeline.js';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, memoryLogger, rows, runOnce, writeFile } from '../helpers/pipelines.js';

const pipeline = indexConstituents as unknown as AnyPipeline;
const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures', 'index-constituents');
const SAMPLE = join(PACKAGE_ROOT, 'data', 'sample', 'index-constituents');

/** The options config/bubblewatch.yaml gives the bundled sample. */
const SAMPLE_OPTIONS = {
  index: 'SP500',
  layout: 'sp500-financials',
  files: [
    { match: 'issuers-*.csv', layout: 'sp500-constituents' },
    { match: 'constituents-financials_201[0-7]-*.csv', market_cap_unit: 'billions' },
  ],
  base_dates: ['2025-02-01'],
};
const SNAPSHOT_OPTIONS = { layout: 'sp500-financials' };

function config(inbox: string, options: Record<string, unknown> = {}): ResolvedPipelineConfig {
  return { ...inboxConfig(pipeline, inbox), options };
}

function fixture(inbox: string, name: string, as = name): string {
  const target = join(inbox, as);
  copyFileSync(join(FIXTURES, name), target);
  return target;
}

// The fixtures hold real caps of 2025-02-01 (datasets/s-and-p-500-companies-financials,
// Yahoo Finance full caps): 18 rows, 15 issuers, BRK.B without a cap. Worked by hand,
// with Alphabet, Fox and News Corp counted once at their larger class cap:
const CAPS_2025_02_01 = {
  AAPL: 3572851277824, MSFT: 3085547601920, NVDA: 3052683657216, GOOGL: 2507303813120, AMZN: 2499205136384,
  META: 1740620562432, TSLA: 1301403926528, AVGO: 1037172146176, WMT: 792493817856, JPM: 747798462464,
  LLY: 729417187328, V: 662322937856, FOX: 22786205696, NWS: 16625808384,
};
const TOTAL = 21_768_232_541_184; // the 14 caps above
const TOP10 = 20_337_080_401_920; // AAPL … JPM
const EXPECTED_2025_02_01 = {
  total_market_cap: TOTAL,
  top10_market_cap: TOP10,
  top10_share: 0.9342550142021701, // 20 337 080 401 920 / 21 768 232 541 184
  hhi: 0.10993900282884386, //         Σ (cap / total)²
  effective_n: 9.095952976368434, //  1 / HHI
  largest_weight: 3572851277824 / TOTAL,
  it_sector_share: 0.4937587221562908, //            AAPL + MSFT + NVDA + AVGO
  communication_services_share: 0.19695381246597096, // GOOGL + META + FOX + NWS
  tech_sector_share: 0.6907125346222618,
};

// Price/Sales fixture (test/fixtures/index-constituents/price-to-sales), 2025-02-01, worked by hand
// in exact decimals: the six issuers with a cap and a Price/Sales (Alphabet at GOOGL, Fox at FOX,
// Apple, Microsoft, Nvidia, Walmart), their summed cap / their summed cap / Price/Sales.
const PS = {
  cap: 13_033_666_373_632,
  agilent: 43_273_355_264, // a cap, no Price/Sales: not counted, so the coverage is below 1
  revenue: 1_760_763_014_843.9105,
  ratio: 7.4022831373405572, //    cap / revenue
  coverage: 0.99669086528185343, // cap / (cap + agilent)
};
const PS_2024_10_25 = 7.4821352168543284; // the same seven issuers, Agilent included (its Price/Sales was 5.916965)

const CORE_TABLES = ['index_constituents', 'index_issuers', 'index_concentration', 'index_top_n_shares', 'index_sector_shares', 'index_cap_changes'];

async function snapshotCore(handle: DatabaseHandle): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of CORE_TABLES) out[table] = await rows(handle, `select * from core.${table} order by 1, 2, 3, 4`);
  return out;
}

/** The core tables without the file and run ids, which differ between databases. */
function withoutProvenance(core: Record<string, unknown[]>): Record<string, unknown[]> {
  const strip = (row: unknown) => {
    const { file_id: _f, run_id: _r, ...rest } = row as Record<string, unknown>;
    return rest;
  };
  return Object.fromEntries(Object.entries(core).map(([table, list]) => [table, list.map(strip)]));
}

async function counts(handle: DatabaseHandle) {
  const [row] = await rows<Record<string, number>>(
    handle,
    `select (select count(*) from raw.index_constituents) as raw, (select count(*) from core.index_constituents) as core,
            (select count(*) from core.index_concentration) as dates, (select count(*) from etl.source_files) as files,
            (select count(*) from etl.rejects) as rejects`,
  );
  return row!;
}

async function concentration(handle: DatabaseHandle, asOf: string) {
  const [row] = await rows<Record<string, unknown>>(handle, `select * from analytics.index_concentration where as_of = $1`, [asOf]);
  return row!;
}

describeEachDatabase('index-constituents pipeline', (kind) => {
  it('loads the bundled sample end to end and reproduces the reference concentration figures', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    cpSync(SAMPLE, inbox, { recursive: true });
    const files = readdirSync(SAMPLE).filter((f) => f.endsWith('.csv'));
    const lines = files.reduce((n, f) => n + readFileSync(join(SAMPLE, f), 'utf8').trim().split('\n').length - 1, 0);
    const summary = await runOnce(db.handle, pipeline, config(inbox, SAMPLE_OPTIONS));
    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ filesLoaded: files.length, rowsRead: lines, rowsLoaded: lines, rowsRejected: 0, rowsSkipped: 0 });

    const dates = await rows<{ as_of: string; issuers: number; rows_missing_cap: number; top10_share: number; effective_n: number }>(
      db.handle,
      'select as_of, issuers, rows_missing_cap, top10_share, effective_n from analytics.index_concentration order by as_of',
    );
    expect(dates.map((d) => d.as_of)).toEqual(['2013-02-10', '2016-07-10', '2018-02-08', '2024-10-25', '2025-02-01', '2026-06-30', '2026-08-22']);
    // Share classes (GOOGL/GOOG, FOXA/FOX, NWSA/NWS, DISCA/DISCK, UAA/UA) count once: 500 issuers each date.
    expect(dates.map((d) => d.issuers)).toEqual([500, 500, 500, 500, 500, 500, 500]);
    // reference_figures.csv: top10_share_fullcap 2025-02-01 38.09 %, 2026-06-30 39.66 %; effective_n 2026-06-30 45.0.
    const byDate = Object.fromEntries(dates.map((d) => [d.as_of, d]));
    expect(byDate['2025-02-01']!.top10_share).toBeCloseTo(0.3809, 4);
    expect(byDate['2026-06-30']!.top10_share).toBeCloseTo(0.3966, 4);
    expect(byDate['2026-06-30']!.effective_n).toBeCloseTo(45.0, 1);
    expect(byDate['2025-02-01']!.rows_missing_cap).toBe(3); // BRK.B, BF.B, MRO

    // Pre-2018 snapshots give caps in $bn: Apple's 2013 cap is 446.0 $bn, not $446.
    const [apple] = await rows(db.handle, `select market_cap_reported, market_cap_unit, market_cap_unit_source, market_cap_usd from analytics.index_constituents where as_of = '2013-02-10' and ticker = 'AAPL'`);
    expect(apple).toMatchObject({ market_cap_unit: 1e9, market_cap_unit_source: 'configured' });
    expect(apple!.market_cap_usd).toBeCloseTo((apple!.market_cap_reported as number) * 1e9, 0);
    // 2024+ snapshots put GICS sub-industries in their Sector column; the issuer map resolves them.
    const sources = await rows(db.handle, `select sector_source, count(*)::int as n from core.index_constituents group by 1 order by 1`);
    expect(sources.map((s) => s.sector_source)).toEqual(['file', 'sub_industry_map']);
    const [nvda] = await rows(db.handle, `select source_sector, gics_sector from analytics.index_constituents where as_of = '2026-06-30' and ticker = 'NVDA'`);
    expect(nvda).toEqual({ source_sector: 'Semiconductors', gics_sector: 'Information Technology' });

    const latest = await concentration(db.handle, '2026-08-22');
    expect(latest.top10_tickers).toEqual(['NVDA', 'AAPL', 'GOOGL', 'MSFT', 'AMZN', 'AVGO', 'TSLA', 'META', 'LLY', 'JPM']);
    expect(latest).toMatchObject({ previous_as_of: '2026-06-30', history_snapshots: 7, top10_share_percentile: 1, rolling_snapshots: 2 });
    const since = await rows(db.handle, `select as_of, base_as_of, configured_base_date from analytics.index_cap_changes where comparison = 'since_base' order by as_of`);
    expect(since).toEqual([
      { as_of: '2026-06-30', base_as_of: '2025-02-01', configured_base_date: '2025-02-01' },
      { as_of: '2026-08-22', base_as_of: '2025-02-01', configured_base_date: '2025-02-01' },
    ]);
    const [missing] = await rows(db.handle, `select status, failing_rows from etl.check_results where run_id = $1 and check_name = 'index_caps_missing'`, [summary.runId]);
    expect(missing).toEqual({ status: 'failed', failing_rows: 12 + 2 + 0 + 2 + 3 + 16 + 34 });
    const [preview] = await rows(db.handle, pipeline.previews![0]!.sql);
    expect(preview).toMatchObject({ index: 'SP500', as_of: '2026-08-22', top10_pct: 41.85, effective_n: 39.9, issuers: 466, missing_caps: 34, price_to_sales: 3.66, p_s_cap_pct: 100 });
    // Index price-to-sales from the snapshots' Price/Sales (Σ cap / Σ cap ÷ P/S over issuers with both):
    // about 1.4 in 2013, 2.4 in 2018 (near the 1999–2000 peak), 3.2–3.7 from 2024.
    const ps = await rows<{ as_of: string; price_to_sales: number; price_to_sales_issuers: number; issuers_with_cap: number; price_to_sales_cap_coverage: number }>(
      db.handle,
      'select as_of, price_to_sales, price_to_sales_issuers, issuers_with_cap, price_to_sales_cap_coverage from analytics.index_concentration order by as_of',
    );
    expect(ps.map((p) => [p.as_of, Math.round(p.price_to_sales * 1e4) / 1e4, p.price_to_sales_issuers, p.issuers_with_cap])).toEqual([
      ['2013-02-10', 1.411, 488, 488],
      ['2016-07-10', 1.8527, 497, 498], // BRK-B: a cap of 0.236 $bn and a Price/Sales of 0.00
      ['2018-02-08', 2.3911, 500, 500],
      ['2024-10-25', 3.1719, 498, 498],
      ['2025-02-01', 3.249, 496, 497], //   Agilent: no Price/Sales
      ['2026-06-30', 3.5832, 484, 484],
      ['2026-08-22', 3.6577, 466, 466],
    ]);
    expect(ps[4]!.price_to_sales_cap_coverage).toBeCloseTo(0.999189622304373, 12); // Agilent's 43.3 $bn of 53 399 $bn
    const [salesMissing] = await rows(db.handle, `select status, failing_rows from etl.check_results where run_id = $1 and check_name = 'index_sales_missing'`, [summary.runId]);
    expect(salesMissing).toEqual({ status: 'failed', failing_rows: 2 });
    const failedErrors = summary.checks.filter((c) => !c.passed && c.check.severity === 'error');
    expect(failedErrors).toEqual([]);
  });

  it('counts GOOGL and GOOG once and matches hand-computed top-10 share, HHI and effective N (snapshot layout)', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'constituents-financials_2025-02-01.csv');
    fixture(inbox, 'constituents.csv');
    const summary = await runOnce(db.handle, pipeline, config(inbox, SNAPSHOT_OPTIONS));
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ filesLoaded: 2, rowsRead: 36, rowsLoaded: 36, rowsRejected: 0 });

    const c = await concentration(db.handle, '2025-02-01');
    expect(c).toMatchObject({
      index_code: 'SP500', constituent_rows: 18, issuers: 15, issuers_with_cap: 14, multi_class_issuers: 3,
      rows_missing_cap: 1, missing_cap_tickers: ['BRK.B'], total_market_cap: TOTAL, top10_market_cap: TOP10,
      top10_tickers: ['AAPL', 'MSFT', 'NVDA', 'GOOGL', 'AMZN', 'META', 'TSLA', 'AVGO', 'WMT', 'JPM'],
      top10_tech_issuers: 6, share_class_caps: 'whole_company', previous_as_of: null, top10_contribution_to_change: null,
    });
    for (const [column, value] of Object.entries(EXPECTED_2025_02_01)) expect(c[column], column).toBeCloseTo(value, 12);
    expect(c.top10_names).toContain('Alphabet Inc. (Class A)');

    // Worked independently here too: Σ (cap / total)² over the 14 issuers.
    const caps = Object.values(CAPS_2025_02_01);
    expect(caps.reduce((a, b) => a + b, 0)).toBe(TOTAL);
    expect(c.hhi).toBeCloseTo(caps.reduce((h, cap) => h + (cap / TOTAL) ** 2, 0), 12);

    const alphabet = await rows(db.handle, `select issuer_id, issuer_source, primary_ticker, tickers, share_classes, cap_rule, market_cap, cap_rank from analytics.index_issuers where issuer_id = '1652044'`);
    expect(alphabet).toEqual([
      { issuer_id: '1652044', issuer_source: 'issuer_map', primary_ticker: 'GOOGL', tickers: ['GOOGL', 'GOOG'], share_classes: 2, cap_rule: 'whole_company_max', market_cap: 2507303813120, cap_rank: 4 },
    ]);
    const classes = await rows(db.handle, `select ticker, is_counted, market_cap_usd, gics_sector, sector_source from analytics.index_constituents where issuer_id = '1652044' order by ticker`);
    expect(classes).toEqual([
      { ticker: 'GOOG', is_counted: false, market_cap_usd: 2504763113472, gics_sector: 'Communication Services', sector_source: 'sub_industry_map' },
      { ticker: 'GOOGL', is_counted: true, market_cap_usd: 2507303813120, gics_sector: 'Communication Services', sector_source: 'sub_industry_map' },
    ]);
    const topN = await rows(db.handle, `select n, issuers_counted, share from analytics.index_top_n_shares order by n`);
    expect(topN.map((t) => [t.n, t.issuers_counted])).toEqual([[5, 5], [10, 10], [20, 14]]);
    expect(topN[0]!.share).toBeCloseTo(0.6761041099050797, 12);
    expect(topN[1]!.share).toBeCloseTo(EXPECTED_2025_02_01.top10_share, 12);
    expect(topN[2]!.share).toBeCloseTo(1, 12);
    const [weights] = await rows<{ total: number }>(db.handle, `select sum(weight) as total from analytics.index_issuers`);
    expect(weights!.total).toBeCloseTo(1, 12);
  });

  it('reports missing caps per date: counted, listed, and a warning check names them', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const path = fixture(inbox, 'constituents-financials_2025-02-01.csv');
    const summary = await runOnce(db.handle, pipeline, config(inbox, SNAPSHOT_OPTIONS));
    expect(summary.status).toBe('succeeded');
    const [check] = await rows(db.handle, `select severity, status, failing_rows, sample from etl.check_results where run_id = $1 and check_name = 'index_caps_missing'`, [summary.runId]);
    expect(check).toMatchObject({ severity: 'warn', status: 'failed', failing_rows: 1 });
    expect(check!.sample).toEqual([{ index_code: 'SP500', as_of: '2025-02-01', ticker: 'BRK.B', name: 'Berkshire Hathaway', source_file: path, line_no: 15 }]);
    const [row] = await rows(db.handle, `select is_cap_missing, market_cap_reported, market_cap_usd, is_counted, issuer_rank, issuer_weight from analytics.index_constituents where ticker = 'BRK.B'`);
    expect(row).toEqual({ is_cap_missing: true, market_cap_reported: null, market_cap_usd: null, is_counted: false, issuer_rank: null, issuer_weight: null });
    // Without the issuer map, GOOGL and GOOG are two issuers: the map (or issuer_ids) is what de-duplicates.
    expect(await concentration(db.handle, '2025-02-01')).toMatchObject({ issuers: 18, rows_missing_cap: 1, missing_cap_tickers: ['BRK.B'] });
  });

  it('gives the same figures from the canonical layout, with issuer ids in the file', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'caps_canonical.csv');
    const summary = await runOnce(db.handle, pipeline, config(inbox));
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ rowsRead: 36, rowsLoaded: 36 });
    const c = await concentration(db.handle, '2025-02-01');
    expect(c).toMatchObject({ issuers: 15, issuers_with_cap: 14, rows_missing_cap: 1, total_market_cap: TOTAL, top10_market_cap: TOP10 });
    for (const [column, value] of Object.entries(EXPECTED_2025_02_01)) expect(c[column], column).toBeCloseTo(value, 12);
    const sources = await rows(db.handle, `select distinct issuer_source, sector_source from core.index_constituents`);
    expect(sources).toEqual([{ issuer_source: 'file', sector_source: 'file' }]);
  });

  it('computes the top 10\'s share of the cap change since the previous snapshot and since a base date', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'caps_canonical.csv');
    const summary = await runOnce(db.handle, pipeline, config(inbox, { base_dates: ['2024-12-31'] }));
    expect(summary.status).toBe('succeeded');
    // 14 issuers have a cap on both dates; from 2024-10-25 to 2025-02-01 their caps rose by
    // 1 635 117 241 344, of which the 2025-02-01 top 10 gained 1 608 732 573 696 (98.4 %):
    // LLY (−88.1 bn) and the rest barely moved.
    const changes = await rows(db.handle, `select * from analytics.index_cap_changes order by comparison`);
    expect(changes).toHaveLength(2);
    for (const change of changes) {
      expect(change).toMatchObject({ as_of: '2025-02-01', base_as_of: '2024-10-25', issuers_matched: 14, matched_cap_change: 1_635_117_241_344, top10_cap_change: 1_608_732_573_696 });
      expect(change.top10_contribution).toBeCloseTo(0.9838637456808217, 12);
    }
    expect(changes.map((c) => [c.comparison, c.configured_base_date])).toEqual([['previous_snapshot', null], ['since_base', '2024-12-31']]);
    const c = await concentration(db.handle, '2025-02-01');
    expect(c.top10_contribution_to_change).toBeCloseTo(0.9838637456808217, 12);
    expect(c.top10_share_change).toBeCloseTo(0.9342550142021701 - 0.9394384015269763, 12);
    expect(c).toMatchObject({ previous_as_of: '2024-10-25', history_snapshots: 2, rolling_snapshots: 2, top10_share_percentile: 0.5, effective_n_percentile: 1 });
    expect(c.top10_share_rolling_avg).toBeCloseTo((0.9342550142021701 + 0.9394384015269763) / 2, 12);
  });

  it('sums class caps when options.share_class_caps is per_class', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'caps_canonical.csv');
    await runOnce(db.handle, pipeline, config(inbox, { share_class_caps: 'per_class' }));
    const c = await concentration(db.handle, '2025-02-01');
    expect(c).toMatchObject({ share_class_caps: 'per_class', issuers: 15, total_market_cap: 24_312_368_359_424 });
    expect(c.hhi).toBeCloseTo(0.12000156593245274, 12);
    expect(c.effective_n).toBeCloseTo(8.333224589443162, 10);
    const [alphabet] = await rows(db.handle, `select cap_rule, market_cap from analytics.index_issuers where as_of = '2025-02-01' and issuer_id = '1652044'`);
    expect(alphabet).toEqual({ cap_rule: 'per_class_sum', market_cap: 2507303813120 + 2504763113472 });
  });

  it('reads a custom layout, taking the date from the file name and the unit from the options', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(
      inbox,
      'mega_caps_20250201.csv',
      'Ticker;Company;Mkt Cap ($bn);CIK\n' +
        'AAPL;Apple Inc.;3572.851277824;320193\nGOOGL;Alphabet Inc. (Class A);2507.30381312;1652044\nGOOG;Alphabet Inc. (Class C);2504.763113472;1652044\n',
    );
    const options = {
      layout: { columns: { ticker: 'Ticker', market_cap: 'Mkt Cap ($bn)', issuer_id: 'CIK', name: 'Company' }, as_of_from_filename: '_(\\d{8})\\.csv$', delimiter: ';' },
      market_cap_unit: 'billions',
      index: 'MEGA',
    };
    const summary = await runOnce(db.handle, pipeline, config(inbox, options));
    expect(summary.error).toBeUndefined();
    const c = await rows(db.handle, `select index_code, as_of, issuers, total_market_cap, top10_share from analytics.index_concentration`);
    expect(c).toEqual([{ index_code: 'MEGA', as_of: '2025-02-01', issuers: 2, total_market_cap: 3572851277824 + 2507303813120, top10_share: 1 }]);
    const [goog] = await rows(db.handle, `select market_cap_reported, market_cap_unit, market_cap_unit_source, market_cap_usd from analytics.index_constituents where ticker = 'GOOG'`);
    expect(goog).toEqual({ market_cap_reported: 2504.763113472, market_cap_unit: 1e9, market_cap_unit_source: 'configured', market_cap_usd: 2504763113472 });
  });

  it('detects caps given in billions when the unit is not configured, and says so', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copyFileSync(join(SAMPLE, 'constituents-financials_2016-07-10.csv'), join(inbox, 'constituents-financials_2016-07-10.csv'));
    const summary = await runOnce(db.handle, pipeline, config(inbox, SNAPSHOT_OPTIONS));
    expect(summary.status).toBe('succeeded');
    const [aapl] = await rows(db.handle, `select market_cap_unit, market_cap_unit_source, market_cap_usd from analytics.index_constituents where ticker = 'AAPL'`);
    expect(aapl).toEqual({ market_cap_unit: 1e9, market_cap_unit_source: 'detected', market_cap_usd: 529_560_000_000 });
    const [check] = await rows(db.handle, `select status, sample from etl.check_results where run_id = $1 and check_name = 'index_unit_detected'`, [summary.runId]);
    expect(check).toMatchObject({ status: 'failed', sample: [expect.objectContaining({ as_of: '2016-07-10', detected_unit: 1e9 })] });
  });

  it.each([
    [
      'a mapping that names a column the file lacks',
      { layout: { columns: { ticker: 'Symbol', market_cap: 'Mkt Cap' }, as_of_from_filename: '_(\\d{4}-\\d{2}-\\d{2})\\.csv$' } },
      'constituents-financials_2025-02-01.csv',
      /constituents-financials_2025-02-01\.csv:1: the header lacks column "Mkt Cap" \(pipelines\.index-constituents\.options\.layout\.columns\.market_cap\); got columns "Symbol", "Name", "Sector", "Market Cap"; expected a header with "Symbol", "Mkt Cap"/,
    ],
    [
      'a canonical file read as a snapshot',
      SNAPSHOT_OPTIONS,
      'caps_canonical.csv',
      /z-caps_canonical\.csv: the file name does not carry the date that layout sp500-financials \(pipelines\.index-constituents\.options\.layout\) takes from it; got "z-caps_canonical\.csv"; expected a name matching/,
    ],
    [
      'a snapshot read as canonical',
      {},
      'constituents-financials_2025-02-01.csv',
      /:1: the header lacks columns "as_of", "ticker", "market_cap" of layout canonical \(pipelines\.index-constituents\.options\.layout\); got columns "Symbol", "Name", "Sector", "Market Cap"; expected a header with "as_of", "ticker", "market_cap"; for a file in another layout, add a rule for it under pipelines\.index-constituents\.options\.files/,
    ],
  ])('fails the file alone and keeps nothing of it on %s; the good files beside it load', async (_what, options, file, message) => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'constituents.csv', 'a-constituents.csv');
    fixture(inbox, 'constituents.csv'); // the issuer map again, under its own name: a source of its own
    const bad = fixture(inbox, file, `z-${file}`.replace('z-constituents-financials', 'zz_constituents-financials'));
    const summary = await runOnce(db.handle, pipeline, config(inbox, { ...options, files: [{ match: 'a-constituents.csv', layout: 'sp500-constituents' }] }));
    expect(summary.status).toBe('partial');
    expect(summary.error).toMatch(message);
    expect(summary.files.map((f) => f.action)).toEqual(['loaded', 'loaded', 'failed']);
    expect(await counts(db.handle)).toMatchObject({ core: 0, dates: 0, files: 2, rejects: 0 });
    const [run] = await rows(db.handle, 'select status, error, files_failed from etl.runs where run_id = $1', [summary.runId]);
    expect(run).toMatchObject({ status: 'partial', files_failed: 1 });
    expect(run!.error).toMatch(message);
    expect(await rows(db.handle, 'select count(*)::int as n from etl.source_files where uri = $1', [bad])).toEqual([{ n: 0 }]);
  });

  it('fails the run with every invalid option named by its path', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'caps_canonical.csv');
    const summary = await runOnce(
      db.handle,
      pipeline,
      config(inbox, {
        layout: 'sp500',
        top_n: [10, 0],
        share_class_caps: 'both',
        tech_sectors: ['Tech'],
        files: [
          { match: '*.csv', layout: { columns: { ticker: 'Symbol', market_cap: 'Cap' } } },
          { match: 'x.csv', layout: { columns: { ticker: 'Symbol' }, as_of_from_filename: '_(\\d+)' } },
        ],
        colour: 'red',
      }),
    );
    expect(summary.status).toBe('failed');
    const error = summary.error!;
    expect(error).toContain('pipelines.index-constituents.options: invalid options for pipeline index-constituents');
    expect(error).toContain('pipelines.index-constituents.options.layout: unknown layout "sp500"; expected one of canonical, sp500-financials, sp500-constituents');
    expect(error).toContain('pipelines.index-constituents.options.top_n.1: ');
    expect(error).toContain('pipelines.index-constituents.options.share_class_caps: ');
    expect(error).toContain('pipelines.index-constituents.options.tech_sectors.0: "Tech" is not a GICS sector');
    expect(error).toContain('pipelines.index-constituents.options.files.0.layout.columns.as_of: the date is needed');
    expect(error).toContain('pipelines.index-constituents.options.files.1.layout.columns.market_cap: required: name the header column that holds it');
    expect(error).toContain('pipelines.index-constituents.options: unknown key "colour"');
    expect(await counts(db.handle)).toEqual({ raw: 0, core: 0, dates: 0, files: 0, rejects: 0 });
    // The same validation is available to whoever checks the config at start-up.
    expect(pipeline.parseOptions({ base_dates: ['2025-02-30'] })).toEqual({
      ok: false,
      problems: [expect.stringMatching(/^pipelines\.index-constituents\.options\.base_dates\.0: expected a date written YYYY-MM-DD/) as unknown as string],
    });
  });

  it('rejects bad rows with their reason, loads the rest, and reconciles counts', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(
      inbox,
      'caps.csv',
      'as_of,ticker,market_cap,float_factor\n' +
        '2025-02-01,AAPL,3572851277824,\n' +
        '2025-02-01,MSFT,"3,085,547,601,920",\n' +
        '2025-02-30,NVDA,3052683657216,\n' +
        ',AMZN,2499205136384,\n' +
        '2025-02-01,TSLA,-1,\n' +
        '2025-02-01,META,1740620562432,1.5\n' +
        '2025-02-01,BRK.B,,\n',
    );
    const summary = await runOnce(db.handle, pipeline, config(inbox));
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ rowsRead: 7, rowsLoaded: 2, rowsRejected: 5, rowsSkipped: 0 });
    const rejects = await rows(db.handle, 'select line_no, column_name, value, reason from etl.rejects order by line_no');
    expect(rejects).toEqual([
      { line_no: 3, column_name: 'market_cap', value: '3,085,547,601,920', reason: `column 'market_cap': got "3,085,547,601,920", expected a plain decimal number such as 1234.5 or 1.2e9 (no thousands separators)` },
      { line_no: 4, column_name: 'as_of', value: '2025-02-30', reason: `column 'as_of': got "2025-02-30", expected a real calendar date YYYY-MM-DD` },
      { line_no: 5, column_name: 'as_of', value: null, reason: `column 'as_of': missing; expected the date the caps refer to, YYYY-MM-DD` },
      { line_no: 6, column_name: 'market_cap', value: '-1', reason: `column 'market_cap': got -1, expected a market cap of 0 or more (leave the cell empty when it is unknown)` },
      { line_no: 7, column_name: 'float_factor', value: '1.5', reason: `column 'float_factor': got 1.5, expected a float factor above 0 and at most 1` },
    ]);
    expect(await concentration(db.handle, '2025-02-01')).toMatchObject({ constituent_rows: 2, issuers_with_cap: 1, rows_missing_cap: 1, top10_share: 1 });
  });

  it('changes nothing when re-run, and a full refresh rewrites nothing', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'constituents-financials_2024-10-25.csv');
    fixture(inbox, 'constituents-financials_2025-02-01.csv');
    fixture(inbox, 'constituents.csv');
    const first = await runOnce(db.handle, pipeline, config(inbox, SNAPSHOT_OPTIONS));
    expect(first.status).toBe('succeeded');
    const before = { core: await snapshotCore(db.handle), counts: await counts(db.handle) };

    const second = await runOnce(db.handle, pipeline, config(inbox, SNAPSHOT_OPTIONS));
    expect(second.status).toBe('succeeded');
    expect(second.counts).toMatchObject({ filesSeen: 3, filesLoaded: 0, filesSkipped: 3, rowsRead: 0 });
    expect(await snapshotCore(db.handle)).toEqual(before.core);
    expect(await counts(db.handle)).toEqual(before.counts);

    const refresh = await runOnce(db.handle, pipeline, config(inbox, SNAPSHOT_OPTIONS), { fullRefresh: true });
    expect(refresh.status).toBe('succeeded');
    expect(await snapshotCore(db.handle)).toEqual(before.core);
  });

  it('leaves no page of the raw table outside its BRIN summaries, so the next run finds its files and dates without reading the table', async () => {
    // COPY does not summarize BRIN ranges (VACUUM does), and an index scan reads every page that
    // no summary covers. A range is 128 pages: 40 days of 500 tickers fill several.
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const day = (d: number) => new Date(Date.UTC(2024, 0, 1 + d)).toISOString().slice(0, 10);
    const lines = (days: number[]) => [
      'as_of,ticker,market_cap,issuer_id,name,sector',
      ...days.flatMap((d) =>
        Array.from({ length: 500 }, (_, t) => `${day(d)},T${String(t).padStart(3, '0')},${(t + 1) * 1e9 + d},${1000 + t},Company number ${t},Industrials`),
      ),
    ].join('\n') + '\n';
    const options = { index: 'SP500', layout: 'canonical' };
    writeFile(inbox, 'caps_2024.csv', lines(Array.from({ length: 40 }, (_, d) => d)));
    expect((await runOnce(db.handle, pipeline, config(inbox, options))).status).toBe('succeeded');
    writeFile(inbox, 'caps_new_day.csv', lines([40]));
    expect((await runOnce(db.handle, pipeline, config(inbox, options))).status).toBe('succeeded');
    const [pages] = await rows(db.handle, `select relpages from pg_class where oid = 'raw.index_constituents'::regclass`);
    expect((pages as { relpages: number }).relpages).toBeGreaterThan(256);
    for (const index of ['raw.index_constituents_file_brin', 'raw.index_constituents_as_of_brin']) {
      const [left] = await rows(db.handle, `select brin_summarize_new_values($1::regclass)::int as ranges`, [index]);
      expect(left, index).toEqual({ ranges: 0 });
    }
  });

  it('adding dates one run at a time, in any order, gives what one run over all the files gives', async () => {
    // Incremental runs recompute the history columns and cap changes from the first changed
    // date on (all of them when it is on or before a base date): check against a full refresh.
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const options = { ...SAMPLE_OPTIONS, base_dates: ['2018-01-01', '2025-02-01'] };
    const order = [
      'issuers-historical.csv', 'constituents.csv',
      'constituents-financials_2024-10-25.csv', 'constituents-financials_2026-06-30.csv', // after the base dates
      'constituents-financials_2013-02-10.csv', // before all of them: every comparison moves
      'constituents-financials_2026-08-22.csv', // a new last day
      'constituents-financials_2016-07-10.csv', 'constituents-financials_2025-02-01.csv', // on a base date
      'constituents-financials_2018-02-08.csv', // between the base dates
    ];
    for (const name of order) {
      copyFileSync(join(SAMPLE, name), join(inbox, name));
      const run = await runOnce(db.handle, pipeline, config(inbox, options));
      expect(run.status, name).toBe('succeeded');
    }
    const incremental = withoutProvenance(await snapshotCore(db.handle));
    expect(incremental.index_concentration).toHaveLength(7);
    expect(incremental.index_cap_changes!.length).toBeGreaterThan(6);

    // The same files in one run, into another database (file and run ids differ there).
    const once = await useDatabase(kind);
    const all = makeInbox();
    for (const name of order) copyFileSync(join(SAMPLE, name), join(all, name));
    expect((await runOnce(once.handle, pipeline, config(all, options))).status).toBe('succeeded');
    expect(withoutProvenance(await snapshotCore(once.handle))).toEqual(incremental);
  });

  it('recomputes every date when a computing option changes, and not when it does not', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'caps_canonical.csv');
    await runOnce(db.handle, pipeline, config(inbox));
    expect((await concentration(db.handle, '2025-02-01')).issuers).toBe(15);

    // Map FOX to an issuer of its own (config wins over the file) and keep only the top 3.
    const { logger, lines } = memoryLogger();
    const changed = await runOnce(db.handle, pipeline, config(inbox, { issuer_ids: { fox: 'FOX-B' }, top_n: [3] }), {}, logger);
    expect(changed.status).toBe('succeeded');
    expect(lines.map((l) => l.msg)).toContainEqual(expect.stringMatching(/configuration changed since the last run/));
    expect((await concentration(db.handle, '2025-02-01')).issuers).toBe(16);
    const [fox] = await rows(db.handle, `select issuer_id, issuer_source from analytics.index_constituents where as_of = '2025-02-01' and ticker = 'FOX'`);
    expect(fox).toEqual({ issuer_id: 'FOX-B', issuer_source: 'config' });
    expect(await rows(db.handle, `select distinct n from core.index_top_n_shares`)).toEqual([{ n: 3 }]);
    expect(await rows(db.handle, `select count(*)::int as n from core.index_cap_changes`)).toEqual([{ n: 1 }]);
  });

  it('loads a changed file again: its rows supersede the old version, and a date it drops disappears', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'caps_canonical.csv', 'caps.csv');
    const first = await runOnce(db.handle, pipeline, config(inbox));
    expect(first.status).toBe('succeeded');
    expect((await rows(db.handle, 'select as_of from core.index_concentration order by 1')).map((r) => r.as_of)).toEqual(['2024-10-25', '2025-02-01']);

    // v2 keeps only 2025-02-01 and drops the Fox and News Corp rows.
    const v1 = readFileSync(join(FIXTURES, 'caps_canonical.csv'), 'utf8').trim().split('\n');
    const v2 = [v1[0], ...v1.slice(1).filter((l) => l.startsWith('2025-02-01') && !/,(FOXA|FOX|NWSA|NWS),/.test(l))].join('\n') + '\n';
    writeFile(inbox, 'caps.csv', v2);
    const second = await runOnce(db.handle, pipeline, config(inbox));
    expect(second.status).toBe('succeeded');
    expect(second.files[0]).toMatchObject({ action: 'loaded', superseded: [(first.files[0] as { fileId: number }).fileId] });
    expect((await rows(db.handle, 'select as_of from core.index_concentration order by 1')).map((r) => r.as_of)).toEqual(['2025-02-01']);
    const c = await concentration(db.handle, '2025-02-01');
    expect(c).toMatchObject({ constituent_rows: 14, issuers: 13, issuers_with_cap: 12, multi_class_issuers: 1, previous_as_of: null });
    expect(c.total_market_cap).toBe(TOTAL - 22786205696 - 16625808384);
    expect(await rows(db.handle, 'select count(*)::int as n from core.index_cap_changes')).toEqual([{ n: 0 }]);
    const provenance = await rows(db.handle, `select distinct run_id from analytics.index_constituents`);
    expect(provenance).toEqual([{ run_id: second.runId }]);
  });

  it('takes a known cap from a supplement file over an empty one in the snapshot, and warns that the date has two files', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'constituents-financials_2025-02-01.csv');
    fixture(inbox, 'constituents.csv');
    // Berkshire's cap is empty in every 2024+ snapshot. A stand-in figure (its 2018-02-08 cap from the
    // 2018 snapshot) shows the mechanism; the file is loaded before the snapshot (its name sorts first).
    writeFile(inbox, 'a-supplement.csv', 'as_of,ticker,market_cap\n2025-02-01,BRK.B,261401203633\n');
    const summary = await runOnce(db.handle, pipeline, config(inbox, { layout: 'canonical', files: [{ match: 'constituents-financials_*.csv', layout: 'sp500-financials' }] }));
    expect(summary.status).toBe('succeeded');
    const c = await concentration(db.handle, '2025-02-01');
    expect(c).toMatchObject({ rows_missing_cap: 0, issuers_with_cap: 15, source_files: 2, total_market_cap: TOTAL + 261401203633 });
    const [brk] = await rows(db.handle, `select name, market_cap_usd, issuer_id, gics_sector from analytics.index_constituents where ticker = 'BRK.B'`);
    expect(brk).toEqual({ name: null, market_cap_usd: 261401203633, issuer_id: '1067983', gics_sector: 'Financials' });
    const [check] = await rows(db.handle, `select status, failing_rows from etl.check_results where run_id = $1 and check_name = 'index_dates_in_one_file'`, [summary.runId]);
    expect(check).toEqual({ status: 'failed', failing_rows: 1 });
  });

  it('puts its indicators in analytics.indicator_values', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'caps_canonical.csv');
    await runOnce(db.handle, pipeline, config(inbox, { base_dates: ['2024-10-25'] }));
    const values = await rows<{ indicator: string; subject: string; period_end: string; value: number; unit: string; family: string; frequency: string }>(
      db.handle,
      `select * from analytics.indicator_values where family = 'index_concentration' order by 1, 3`,
    );
    const at = (indicator: string, date = '2025-02-01') => values.find((v) => v.indicator === indicator && v.period_end === date);
    expect(at('top10_share')).toMatchObject({ subject: 'SP500', unit: 'ratio', family: 'index_concentration', frequency: 'irregular' });
    expect(at('top10_share')!.value).toBeCloseTo(EXPECTED_2025_02_01.top10_share, 12);
    expect(at('hhi')!.value).toBeCloseTo(EXPECTED_2025_02_01.hhi, 12);
    expect(at('effective_n')).toMatchObject({ unit: 'count' });
    expect(at('effective_n')!.value).toBeCloseTo(EXPECTED_2025_02_01.effective_n, 10);
    expect(at('top5_share')!.value).toBeCloseTo(0.6761041099050797, 12);
    expect(at('top20_share')!.value).toBeCloseTo(1, 12);
    expect(at('issuers')).toMatchObject({ value: 14, unit: 'count' });
    expect(at('missing_caps')).toMatchObject({ value: 1 });
    expect(at('total_market_cap')).toMatchObject({ value: TOTAL, unit: 'USD' });
    expect(at('top10_contribution_to_change')!.value).toBeCloseTo(0.9838637456808217, 12);
    expect(at('top10_contribution_since_base')!.value).toBeCloseTo(0.9838637456808217, 12);
    expect(at('top10_contribution_to_change', '2024-10-25')).toBeUndefined();
    expect(values.filter((v) => v.indicator === 'top10_share')).toHaveLength(2);
  });

  it('computes the index price-to-sales from Price/Sales: GOOGL and GOOG once, a constituent without one left out, with its coverage', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'price-to-sales/constituents-financials_2025-02-01.csv', 'constituents-financials_2025-02-01.csv');
    fixture(inbox, 'price-to-sales/constituents.csv', 'constituents.csv');
    const summary = await runOnce(db.handle, pipeline, config(inbox, SNAPSHOT_OPTIONS));
    expect(summary.error).toBeUndefined();
    expect(summary.counts).toMatchObject({ rowsRead: 20, rowsLoaded: 20, rowsRejected: 0 });

    // Each counted class's implied TTM revenue, cap / Price/Sales, worked by hand (they are the
    // companies' reported figures: Apple's FY2024 revenue is 391 035 $M, Microsoft's to
    // 2024-09-30 254 190 $M). Alphabet counts once at GOOGL (its larger class), Fox once at FOX;
    // Agilent has a cap but no Price/Sales, Berkshire neither.
    const revenue = {
      GOOGL: 2507303813120 / 7.377482, // 339 859 021 428
      AAPL: 3572851277824 / 9.1369095, // 391 034 985 935
      FOX: 22786205696 / 1.5893286, //     14 337 000 980
      MSFT: 3085547601920 / 12.138745, // 254 190 000 854
      NVDA: 3052683657216 / 31.697422, //  96 307 001 157
      WMT: 792493817856 / 1.1916573, //   665 035 004 490
    };
    expect(Object.values(revenue).reduce((a, b) => a + b, 0)).toBeCloseTo(PS.revenue, 0);
    const c = await concentration(db.handle, '2025-02-01');
    expect(c).toMatchObject({ issuers: 8, issuers_with_cap: 7, price_to_sales_issuers: 6, price_to_sales_market_cap: PS.cap, total_market_cap: PS.cap + PS.agilent });
    expect(c.price_to_sales).toBeCloseTo(PS.ratio, 12); //                 13 033 666 373 632 / 1 760 763 014 843.9 = 7.4023
    expect(c.price_to_sales_cap_coverage).toBeCloseTo(PS.coverage, 12); // 13 033 666 373 632 / 13 076 939 728 896 = 99.67 %
    expect(c.revenue_ttm).toBeCloseTo(PS.revenue, 1);

    const issuers = await rows<{ issuer_id: string; primary_ticker: string; market_cap: number | null; revenue_ttm: number | null; price_to_sales: number | null }>(
      db.handle,
      `select issuer_id, primary_ticker, market_cap, revenue_ttm, price_to_sales from analytics.index_issuers order by cap_rank nulls last`,
    );
    expect(issuers.map((i) => [i.primary_ticker, i.revenue_ttm === null])).toEqual([
      ['AAPL', false], ['MSFT', false], ['NVDA', false], ['GOOGL', false], ['WMT', false], ['A', true], ['FOX', false], ['BRK.B', true],
    ]);
    const alphabet = issuers.find((i) => i.issuer_id === '1652044')!;
    expect(alphabet.revenue_ttm).toBeCloseTo(revenue.GOOGL, 1);
    expect(alphabet.price_to_sales).toBeCloseTo(7.377482, 12);
    expect(issuers.find((i) => i.issuer_id === '1754301')!.price_to_sales).toBeCloseTo(1.5893286, 12);
    const classes = await rows(
      db.handle,
      `select ticker, is_counted, price_to_sales, revenue_source, round(revenue_ttm_usd) as revenue from analytics.index_constituents
       where ticker in ('GOOGL', 'GOOG', 'A', 'BRK.B') order by ticker`,
    );
    expect(classes).toEqual([
      { ticker: 'A', is_counted: true, price_to_sales: null, revenue_source: null, revenue: null },
      { ticker: 'BRK.B', is_counted: false, price_to_sales: null, revenue_source: null, revenue: null },
      { ticker: 'GOOG', is_counted: false, price_to_sales: 7.3700066, revenue_source: 'price_to_sales', revenue: 339859005482 }, // not counted
      { ticker: 'GOOGL', is_counted: true, price_to_sales: 7.377482, revenue_source: 'price_to_sales', revenue: 339859021428 },
    ]);
    const checks = await rows(db.handle, `select check_name, status, failing_rows, sample from etl.check_results where run_id = $1 and check_name in ('index_price_to_sales_in_range', 'index_sales_missing') order by 1`, [summary.runId]);
    expect(checks).toEqual([
      { check_name: 'index_price_to_sales_in_range', status: 'passed', failing_rows: 0, sample: [] },
      {
        check_name: 'index_sales_missing', status: 'failed', failing_rows: 1,
        sample: [{ index_code: 'SP500', as_of: '2025-02-01', ticker: 'A', name: 'Agilent Technologies', market_cap: PS.agilent, weight: expect.closeTo(PS.agilent / (PS.cap + PS.agilent), 12) as unknown }],
      },
    ]);
  });

  it('takes price-to-sales or TTM revenue from the canonical layout (a revenue wins) and sums class revenues under per_class', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'price-to-sales/caps_canonical.csv', 'caps.csv');
    const summary = await runOnce(db.handle, pipeline, config(inbox));
    expect(summary.error).toBeUndefined();
    expect(summary.counts).toMatchObject({ rowsRead: 10, rowsLoaded: 10, rowsRejected: 0 });
    // Microsoft's row also gives its revenue for the twelve months to 2024-12-31, from its 10-K and 10-Qs:
    // 61 858 + 64 727 + 65 585 + 69 632 = 261 802 $M. It replaces cap / P/S (254 190 $M).
    const [msft] = await rows(db.handle, `select revenue_ttm_reported, revenue_ttm_usd, revenue_source from analytics.index_constituents where ticker = 'MSFT'`);
    expect(msft).toEqual({ revenue_ttm_reported: 261802000000, revenue_ttm_usd: 261802000000, revenue_source: 'reported' });
    const whole = await concentration(db.handle, '2025-02-01');
    expect(whole).toMatchObject({ price_to_sales_issuers: 6, price_to_sales_market_cap: PS.cap });
    expect(whole.revenue_ttm).toBeCloseTo(1768375013989.6212, 1); // PS.revenue − 254 190 000 854.29 + 261 802 000 000
    expect(whole.price_to_sales).toBeCloseTo(7.3704198886110794, 12);

    // per_class: each class's cap and revenue are summed (here double counting Alphabet and Fox,
    // whose classes each carry the whole company's figures, as it does for their caps).
    await runOnce(db.handle, pipeline, config(inbox, { share_class_caps: 'per_class' }));
    const perClass = await concentration(db.handle, '2025-02-01');
    expect(perClass).toMatchObject({ share_class_caps: 'per_class', price_to_sales_issuers: 6, price_to_sales_market_cap: 15561178996736 });
    expect(perClass.price_to_sales).toBeCloseTo(7.3312877869122680, 12);
    expect(perClass.price_to_sales_cap_coverage).toBeCloseTo(0.99722685844476601, 12);
    const [alphabet] = await rows<{ revenue_ttm: number }>(db.handle, `select revenue_ttm from analytics.index_issuers where issuer_id = '1652044'`);
    expect(alphabet!.revenue_ttm).toBeCloseTo(2507303813120 / 7.377482 + 2504763113472 / 7.3700066, 1);
  });

  it('reads price-to-sales and TTM revenue through a custom column mapping, revenue in the unit of the caps', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(
      inbox,
      'mega_caps_20250201.csv',
      'Ticker;Mkt Cap ($bn);P/S;Sales TTM ($bn);CIK\n' +
        'AAPL;3572.851277824;9.1369095;;320193\nMSFT;3085.54760192;;261.802;789019\nGOOGL;2507.30381312;7.377482;;1652044\nGOOG;2504.763113472;7.3700066;;1652044\n',
    );
    const options = {
      layout: { columns: { ticker: 'Ticker', market_cap: 'Mkt Cap ($bn)', issuer_id: 'CIK', price_to_sales: 'P/S', revenue_ttm: 'Sales TTM ($bn)' }, as_of_from_filename: '_(\\d{8})\\.csv$', delimiter: ';' },
      market_cap_unit: 'billions',
    };
    const summary = await runOnce(db.handle, pipeline, config(inbox, options));
    expect(summary.error).toBeUndefined();
    const c = await concentration(db.handle, '2025-02-01');
    const revenue = 3572851277824 / 9.1369095 + 261802000000 + 2507303813120 / 7.377482;
    expect(c).toMatchObject({ issuers: 3, price_to_sales_issuers: 3, price_to_sales_cap_coverage: 1 });
    expect(c.revenue_ttm).toBeCloseTo(revenue, 1);
    expect(c.price_to_sales).toBeCloseTo((3572851277824 + 3085547601920 + 2507303813120) / revenue, 12); // 9.2331
    const [msft] = await rows(db.handle, `select revenue_ttm_reported, revenue_ttm_usd, revenue_source from analytics.index_constituents where ticker = 'MSFT'`);
    expect(msft).toEqual({ revenue_ttm_reported: 261.802, revenue_ttm_usd: 261802000000, revenue_source: 'reported' });
  });

  it('rejects a negative price-to-sales or revenue, and counts a zero as unknown', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(
      inbox,
      'caps.csv',
      'as_of,ticker,market_cap,price_to_sales,revenue_ttm\n' +
        '2025-02-01,AAPL,3572851277824,9.1369095,\n2025-02-01,MSFT,3085547601920,-12.1,\n2025-02-01,NVDA,3052683657216,,-1\n2025-02-01,WMT,792493817856,0,0\n',
    );
    const summary = await runOnce(db.handle, pipeline, config(inbox));
    expect(summary.counts).toMatchObject({ rowsRead: 4, rowsLoaded: 2, rowsRejected: 2 });
    expect(await rows(db.handle, 'select line_no, column_name, value, reason from etl.rejects order by line_no')).toEqual([
      { line_no: 3, column_name: 'price_to_sales', value: '-12.1', reason: `column 'price_to_sales': got -12.1, expected a price-to-sales ratio of 0 or more (leave the cell empty when it is unknown)` },
      { line_no: 4, column_name: 'revenue_ttm', value: '-1', reason: `column 'revenue_ttm': got -1, expected a trailing-twelve-month revenue of 0 or more (leave the cell empty when it is unknown)` },
    ]);
    const c = await concentration(db.handle, '2025-02-01');
    expect(c).toMatchObject({ issuers_with_cap: 2, price_to_sales_issuers: 1, price_to_sales_market_cap: 3572851277824 });
    expect(c.price_to_sales).toBeCloseTo(9.1369095, 12);
    expect(c.price_to_sales_cap_coverage).toBeCloseTo(3572851277824 / (3572851277824 + 792493817856), 12);
  });

  it('puts the index price-to-sales and its coverage in analytics.indicator_values and on the dashboard', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'price-to-sales/constituents-financials_2024-10-25.csv', 'constituents-financials_2024-10-25.csv');
    fixture(inbox, 'price-to-sales/constituents-financials_2025-02-01.csv', 'constituents-financials_2025-02-01.csv');
    fixture(inbox, 'price-to-sales/constituents.csv', 'constituents.csv');
    expect((await runOnce(db.handle, pipeline, config(inbox, SNAPSHOT_OPTIONS))).status).toBe('succeeded');
    const values = await rows<{ indicator: string; subject: string; period_end: string; value: number; unit: string; family: string; frequency: string }>(
      db.handle,
      `select * from analytics.indicator_values where indicator like 'price_to_sales%' order by indicator, period_end`,
    );
    expect(values.map((v) => [v.indicator, v.period_end, v.unit, v.family, v.frequency, v.subject])).toEqual([
      ['price_to_sales', '2024-10-25', 'multiple', 'index_concentration', 'irregular', 'SP500'],
      ['price_to_sales', '2025-02-01', 'multiple', 'index_concentration', 'irregular', 'SP500'],
      ['price_to_sales_cap_coverage', '2024-10-25', 'ratio', 'index_concentration', 'irregular', 'SP500'],
      ['price_to_sales_cap_coverage', '2025-02-01', 'ratio', 'index_concentration', 'irregular', 'SP500'],
      ['price_to_sales_issuers', '2024-10-25', 'count', 'index_concentration', 'irregular', 'SP500'],
      ['price_to_sales_issuers', '2025-02-01', 'count', 'index_concentration', 'irregular', 'SP500'],
    ]);
    // 2024-10-25: all seven issuers with a cap have a Price/Sales (Agilent 5.916965 then).
    expect(values.map((v) => v.value)).toEqual([
      expect.closeTo(PS_2024_10_25, 12), expect.closeTo(PS.ratio, 12), 1, expect.closeTo(PS.coverage, 12), 7, 6,
    ]);

    const [row] = await rows(db.handle, `select * from analytics.bubble_dashboard where indicator = 'price_to_sales'`);
    expect(row).toMatchObject({
      family: 'index_concentration', subject: 'SP500', unit: 'multiple', frequency: 'irregular',
      latest_period: '2025-02-01', previous_period: '2024-10-25', history_points: 2, history_start: '2024-10-25',
      percentile: null, z_score: null, long_run_mean: null,
    });
    expect(row!.latest_value).toBeCloseTo(PS.ratio, 12);
    expect(row!.previous_value).toBeCloseTo(PS_2024_10_25, 12);
    expect(row!.change).toBeCloseTo(PS.ratio - PS_2024_10_25, 12);
    expect(row!.change_pct).toBeCloseTo(PS.ratio / PS_2024_10_25 - 1, 12);
    // Snapshots without sales figures add no price-to-sales rows.
    const inbox2 = makeInbox();
    fixture(inbox2, 'caps_canonical.csv');
    await runOnce(db.handle, pipeline, config(inbox2, { index: 'NOSALES' }));
    expect(await rows(db.handle, `select count(*)::int as n from analytics.indicator_values where subject = 'NOSALES' and indicator like 'price_to_sales%'`)).toEqual([{ n: 0 }]);
    expect(await rows(db.handle, `select price_to_sales, price_to_sales_issuers, price_to_sales_cap_coverage from analytics.index_concentration where index_code = 'NOSALES' and as_of = '2025-02-01'`)).toEqual([
      { price_to_sales: null, price_to_sales_issuers: 0, price_to_sales_cap_coverage: 0 },
    ]);
  });

  it('documents every analytics view and column it adds with COMMENT ON', async () => {
    const db = await useDatabase(kind);
    for (const view of pipeline.views) {
      const [v] = await rows<{ comment: string | null }>(db.handle, `select obj_description($1::regclass, 'pg_class') as comment`, [view]);
      expect(v!.comment, view).toBeTruthy();
      const undocumented = await rows(
        db.handle,
        `select a.attname from pg_attribute a where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped and col_description(a.attrelid, a.attnum) is null`,
        [view],
      );
      expect(undocumented, view).toEqual([]);
    }
  });
});

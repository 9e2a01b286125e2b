import { closeSync, copyFileSync, cpSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { REGISTRY } from '../../pipelines/registry.js';
import { secCompanyfacts } from '../../pipelines/sec-companyfacts/pipeline.js';
import { secFsds } from '../../pipelines/sec-fsds/pipeline.js';
import { loadConfig } from '../../src/config/load.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { runPipeline, type RunSummary } from '../../src/engine/run-pipeline.js';
import { DEFAULT_CONFIG_FILE, PACKAGE_ROOT } from '../../src/paths.js';
import { crc32, makeZip, patchEntryName } from '../fixtures/sec/fsds/make-zip.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, memoryLogger, rows } from '../helpers/pipelines.js';

/**
 * SEC financial statement data sets end to end: folders and quarterly zips in the pre-2025
 * and 2025 num.txt layouts, decoy rows that must be skipped, bad archives, a rejected value,
 * and a million-row num.txt streamed. The fixtures hold Microsoft's real fiscal 2025 and 2026
 * capex, revenue and operating cash flow as filed (see test/fixtures/sec/fsds/README.md).
 * Companies, metrics and archive limits come from the bundled config/bubblewatch.yaml.
 */

const fsds = secFsds as unknown as AnyPipeline;
const companyfacts = secCompanyfacts as unknown as AnyPipeline;
const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures', 'sec', 'fsds');
const MSFT_COMPANYFACTS = join(PACKAGE_ROOT, 'data', 'sample', 'sec', 'companyfacts', 'CIK0000789019.json');

const APP = loadConfig({ registry: REGISTRY, file: DEFAULT_CONFIG_FILE, env: {} });
const SHARED: Readonly<Record<string, unknown>> = { ...APP.shared, archives: APP.archives };

// Data rows of the fixtures (header = line 1) and the decoy lines each must skip (README.md).
const LEGACY_ROWS = 44;
const LEGACY_DECOYS = [6, 16, 43, 44, 45];
const LAYOUT_2025_ROWS = 46;
const LAYOUT_2025_DECOYS = [6, 9, 17, 41, 45, 46, 47];
const MSFT_ROWS_PER_SET = 39;

function fixtureText(set: 'legacy' | 'layout-2025', file: 'sub.txt' | 'num.txt'): string {
  return readFileSync(join(FIXTURES, set, file), 'utf8');
}

function copySet(inbox: string, set: 'legacy' | 'layout-2025', as: string = set): string {
  const target = join(inbox, as);
  cpSync(join(FIXTURES, set), target, { recursive: true });
  return target;
}

function zipOf(set: 'legacy' | 'layout-2025', method: 'deflate' | 'store' = 'deflate'): Buffer {
  return makeZip([
    { name: 'sub.txt', data: fixtureText(set, 'sub.txt'), method },
    { name: 'num.txt', data: fixtureText(set, 'num.txt'), method },
  ]);
}

async function run(
  handle: DatabaseHandle,
  pipeline: AnyPipeline,
  inbox: string,
  options: { shared?: Readonly<Record<string, unknown>>; pattern?: string } = {},
): Promise<RunSummary> {
  return runPipeline(
    { handle, logger: memoryLogger().logger, shared: options.shared ?? SHARED },
    pipeline,
    inboxConfig(pipeline, inbox, options.pattern ?? '*.zip'),
    { trigger: 'manual' },
  );
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function expectReconciled(summary: RunSummary): void {
  const c = summary.counts;
  expect(c.rowsRead).toBe(c.rowsLoaded + c.rowsRejected + c.rowsSkipped);
  for (const f of summary.files) {
    if (f.action === 'loaded') expect(f.counts.read).toBe(f.counts.loaded + f.counts.rejected + f.counts.skipped);
  }
}

async function tableCounts(handle: DatabaseHandle) {
  const [row] = await rows<Record<string, number>>(
    handle,
    `select (select count(*) from raw.company_facts) as raw, (select count(*) from etl.source_files) as files,
            (select count(*) from etl.rejects) as rejects, (select count(*) from core.company_quarterly) as quarterly,
            (select count(*) from core.companies) as companies`,
  );
  return row!;
}

interface QuarterRow {
  metric: string;
  fiscal_year: number;
  fiscal_quarter: number;
  period_end: string;
  value: number;
  derivation: string;
  accession: string;
  filed: string;
  calendar_year: number;
  calendar_quarter: number;
}

async function msftQuarters(handle: DatabaseHandle, vintage: 'latest' | 'first' = 'latest'): Promise<QuarterRow[]> {
  return rows<QuarterRow>(
    handle,
    `select metric, fiscal_year, fiscal_quarter, period_end, value, derivation, accession, filed, calendar_year, calendar_quarter
     from core.company_quarterly where ticker = 'MSFT' and vintage = $1 order by metric, end_key`,
    [vintage],
  );
}

/*
 * Microsoft's quarters as the companyfacts sample (data/sample/sec/companyfacts/CIK0000789019.json)
 * gives them: a three-month fact where one was filed, Q4 = fiscal year − nine-month YTD.
 *   FY2024 Q4 capex   44,477,000,000 − 30,604,000,000 =  13,873,000,000
 *   FY2025 Q4 capex   64,551,000,000 − 47,472,000,000 =  17,079,000,000
 *   FY2026 Q4 capex  115,948,000,000 − 80,146,000,000 =  35,802,000,000
 *   FY2025 Q4 revenue 281,724,000,000 − 205,283,000,000 = 76,441,000,000
 *   FY2026 Q4 revenue 331,839,000,000 − 241,832,000,000 = 90,007,000,000
 *   FY2025 Q4 OCF     136,162,000,000 − 93,515,000,000 =  42,647,000,000
 *   FY2026 Q4 OCF     182,935,000,000 − 127,494,000,000 = 55,441,000,000
 * Each quarter's accession is the latest filing that reports it (a quarter reappears as the
 * comparative in the next year's filing); fy_minus_ytd takes the fiscal-year fact's filing.
 */
const CAPEX: readonly (readonly [number, number, string, number, string, string])[] = [
  [2024, 1, '2023-09-30', 9_917_000_000, 'discrete', '0000950170-24-118967'],
  [2024, 2, '2023-12-31', 9_735_000_000, 'discrete', '0000950170-25-010491'],
  [2024, 3, '2024-03-31', 10_952_000_000, 'discrete', '0000950170-25-061046'],
  [2024, 4, '2024-06-30', 13_873_000_000, 'fy_minus_ytd', '0001193125-26-323660'],
  [2025, 1, '2024-09-30', 14_923_000_000, 'discrete', '0001193125-25-256321'],
  [2025, 2, '2024-12-31', 15_804_000_000, 'discrete', '0001193125-26-027207'],
  [2025, 3, '2025-03-31', 16_745_000_000, 'discrete', '0001193125-26-191507'],
  [2025, 4, '2025-06-30', 17_079_000_000, 'fy_minus_ytd', '0001193125-26-323660'],
  [2026, 1, '2025-09-30', 19_394_000_000, 'discrete', '0001193125-25-256321'],
  [2026, 2, '2025-12-31', 29_876_000_000, 'discrete', '0001193125-26-027207'],
  [2026, 3, '2026-03-31', 30_876_000_000, 'discrete', '0001193125-26-191507'],
  [2026, 4, '2026-06-30', 35_802_000_000, 'fy_minus_ytd', '0001193125-26-323660'],
];

const Q4: readonly (readonly [string, number, number])[] = [
  ['revenue', 2025, 76_441_000_000],
  ['revenue', 2026, 90_007_000_000],
  ['operating_cash_flow', 2025, 42_647_000_000],
  ['operating_cash_flow', 2026, 55_441_000_000],
];

/** Microsoft's fiscal 2024–2026 quarters, as both data sets together give them. */
async function expectMsftFiscal2024To2026(handle: DatabaseHandle): Promise<void> {
  const quarters = (await msftQuarters(handle)).filter((q) => q.fiscal_year >= 2024);
  const capex = quarters.filter((q) => q.metric === 'capex');
  expect(capex.map((q) => [q.fiscal_year, q.fiscal_quarter, q.period_end, q.value, q.derivation, q.accession])).toEqual(CAPEX);
  // Fiscal Q1 (July–September) is calendar Q3 of the year before the fiscal year.
  expect(capex.find((q) => q.fiscal_year === 2026 && q.fiscal_quarter === 1)).toMatchObject({ calendar_year: 2025, calendar_quarter: 3, filed: '2025-10-29' });
  expect(capex.find((q) => q.fiscal_year === 2026 && q.fiscal_quarter === 4)).toMatchObject({ calendar_year: 2026, calendar_quarter: 2, filed: '2026-07-29' });
  for (const [metric, fy, value] of Q4) {
    expect(quarters.find((q) => q.metric === metric && q.fiscal_year === fy && q.fiscal_quarter === 4)).toMatchObject({ value, derivation: 'fy_minus_ytd' });
  }
  expect(quarters.find((q) => q.metric === 'revenue' && q.fiscal_year === 2026 && q.fiscal_quarter === 1)).toMatchObject({ value: 77_673_000_000, derivation: 'discrete' });

  // Trailing twelve months at each fiscal year end equal the fiscal year as filed.
  const ttm = await rows<{ end_key: string; capex_ttm: number; operating_cash_flow_ttm: number }>(
    handle,
    `select end_key, capex_ttm, operating_cash_flow_ttm from core.company_indicators
     where ticker = 'MSFT' and fiscal_quarter = 4 and fiscal_year >= 2024 order by end_key`,
  );
  expect(ttm).toEqual([
    { end_key: '2024-06-30', capex_ttm: 44_477_000_000, operating_cash_flow_ttm: 118_548_000_000 },
    { end_key: '2025-06-30', capex_ttm: 64_551_000_000, operating_cash_flow_ttm: 136_162_000_000 },
    { end_key: '2026-06-30', capex_ttm: 115_948_000_000, operating_cash_flow_ttm: 182_935_000_000 },
  ]);
}

async function loadedLines(handle: DatabaseHandle): Promise<Map<string, number[]>> {
  const loaded = await rows<{ uri: string; line_no: number }>(
    handle,
    'select sf.uri, r.line_no from raw.company_facts r join etl.source_files sf on sf.file_id = r.file_id order by sf.uri, r.line_no',
  );
  const byUri = new Map<string, number[]>();
  for (const r of loaded) byUri.set(r.uri, [...(byUri.get(r.uri) ?? []), r.line_no]);
  return byUri;
}

describeEachDatabase('sec-fsds pipeline', (kind) => {
  it('loads folder data sets in the pre-2025 and 2025 layouts, skips the decoys, and derives the quarters the companyfacts sample gives', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const legacy = copySet(inbox, 'legacy');
    const layout2025 = copySet(inbox, 'layout-2025');

    const summary = await run(db.handle, fsds, inbox);
    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({
      filesSeen: 2,
      filesLoaded: 2,
      rowsRead: LEGACY_ROWS + LAYOUT_2025_ROWS,
      rowsLoaded: 2 * MSFT_ROWS_PER_SET,
      rowsRejected: 0,
      rowsSkipped: LEGACY_DECOYS.length + LAYOUT_2025_DECOYS.length,
    });
    expectReconciled(summary);
    const perFile = Object.fromEntries(summary.files.map((f) => [f.file.path, f.action === 'loaded' ? f.counts : f.action]));
    expect(perFile).toEqual({
      [layout2025]: { read: 46, loaded: 39, rejected: 0, skipped: 7 },
      [legacy]: { read: 44, loaded: 39, rejected: 0, skipped: 5 },
    });

    const [ledger] = await rows(db.handle, 'select status, rows_read, rows_loaded, rows_rejected, rows_skipped, error from etl.runs where run_id = $1', [summary.runId]);
    expect(ledger).toEqual({ status: 'succeeded', rows_read: 90, rows_loaded: 78, rows_rejected: 0, rows_skipped: 12, error: null });

    // Every real Microsoft row loaded, no decoy (segments, coreg, custom tag, other filer, unknown adsh) did.
    const lines = await loadedLines(db.handle);
    expect(lines.get(legacy)).toEqual(range(2, LEGACY_ROWS + 1).filter((l) => !LEGACY_DECOYS.includes(l)));
    expect(lines.get(layout2025)).toEqual(range(2, LAYOUT_2025_ROWS + 1).filter((l) => !LAYOUT_2025_DECOYS.includes(l)));

    // One fact in full: FY2026 Q1 capex from the 10-Q filed 2025-10-29 (layout-2025/num.txt line 5).
    const [fact] = await rows(
      db.handle,
      `select r.locator, r.source_kind, r.cik, r.taxonomy, r.tag, r.unit, r.period_start, r.period_end, r.duration_quarters, r.value,
              r.accession, r.form, r.filed, r.fiscal_year, r.fiscal_period
       from raw.company_facts r join etl.source_files sf on sf.file_id = r.file_id where sf.uri = $1 and r.line_no = 5`,
      [layout2025],
    );
    expect(fact).toEqual({
      locator: 'num.txt',
      source_kind: 'sec-fsds',
      cik: 789019,
      taxonomy: 'us-gaap',
      tag: 'PaymentsToAcquirePropertyPlantAndEquipment',
      unit: 'USD',
      period_start: '2025-07-01',
      period_end: '2025-09-30',
      duration_quarters: 1,
      value: 19_394_000_000,
      accession: '0001193125-25-256321',
      form: '10-Q',
      filed: '2025-10-29',
      fiscal_year: 2026,
      fiscal_period: 'Q1',
    });
    // Year-to-date and annual facts get their start from ddate and qtrs.
    const periods = await rows(
      db.handle,
      `select distinct period_start, period_end, duration_quarters from raw.company_facts
       where tag = 'PaymentsToAcquirePropertyPlantAndEquipment'
         and ((period_end = '2026-06-30' and duration_quarters = 4) or (period_end = '2026-03-31' and duration_quarters = 3))
       order by period_end`,
    );
    expect(periods).toEqual([
      { period_start: '2025-07-01', period_end: '2026-03-31', duration_quarters: 3 },
      { period_start: '2025-07-01', period_end: '2026-06-30', duration_quarters: 4 },
    ]);

    await expectMsftFiscal2024To2026(db.handle);

    // The same company's companyfacts JSON through the other SEC pipeline, into the same
    // database: the facts are the same filings' facts, so no quarter may change.
    const latestBefore = await msftQuarters(db.handle, 'latest');
    const firstBefore = await msftQuarters(db.handle, 'first');
    const cfInbox = makeInbox();
    copyFileSync(MSFT_COMPANYFACTS, join(cfInbox, 'CIK0000789019.json'));
    const cf = await run(db.handle, companyfacts, cfInbox, { pattern: '*.json' });
    expect(cf.error).toBeUndefined();
    expect(cf.status).toBe('succeeded');
    expect(cf.counts).toMatchObject({ filesLoaded: 1, rowsRead: 210, rowsLoaded: 210, rowsRejected: 0, rowsSkipped: 0 });

    const latestAfter = await msftQuarters(db.handle, 'latest');
    // companyfacts adds fiscal 2021–2023; the quarters the data sets gave are untouched.
    expect(latestAfter.filter((q) => q.fiscal_year >= 2024)).toEqual(latestBefore);
    expect(latestAfter.filter((q) => q.fiscal_year < 2024).length).toBeGreaterThan(0);
    // As first reported, the values stay too (an earlier filing may now be the first to report them).
    const firstAfter = await msftQuarters(db.handle, 'first');
    const valueOf = (q: QuarterRow) => [q.metric, q.fiscal_year, q.fiscal_quarter, q.value];
    expect(firstAfter.filter((q) => q.fiscal_year >= 2024).map(valueOf)).toEqual(firstBefore.map(valueOf));
    await expectMsftFiscal2024To2026(db.handle);
    // Each quarter is one row per metric and vintage: nothing was counted twice.
    const dupes = await rows(
      db.handle,
      `select metric, vintage, fiscal_year, fiscal_quarter, count(*) as n from core.company_quarterly
       where ticker = 'MSFT' group by 1, 2, 3, 4 having count(*) > 1`,
    );
    expect(dupes).toEqual([]);
  });

  it('loads the same data sets as quarterly zips (deflated and stored) with the same results', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFileSync(join(inbox, '2025q1.zip'), zipOf('legacy', 'deflate'));
    writeFileSync(join(inbox, '2026q1.zip'), zipOf('layout-2025', 'store'));

    const summary = await run(db.handle, fsds, inbox);
    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ filesSeen: 2, filesLoaded: 2, rowsRead: 90, rowsLoaded: 78, rowsRejected: 0, rowsSkipped: 12 });
    expectReconciled(summary);
    const lines = await loadedLines(db.handle);
    expect(lines.get(join(inbox, '2025q1.zip'))).toEqual(range(2, LEGACY_ROWS + 1).filter((l) => !LEGACY_DECOYS.includes(l)));
    expect(lines.get(join(inbox, '2026q1.zip'))).toEqual(range(2, LAYOUT_2025_ROWS + 1).filter((l) => !LAYOUT_2025_DECOYS.includes(l)));
    const [locators] = await rows(db.handle, `select array_agg(distinct locator) as locators from raw.company_facts`);
    expect(locators).toEqual({ locators: ['num.txt'] });
    await expectMsftFiscal2024To2026(db.handle);

    // Run again: both zips are already loaded and nothing changes.
    const before = await tableCounts(db.handle);
    const again = await run(db.handle, fsds, inbox);
    expect(again.counts).toMatchObject({ filesSeen: 2, filesLoaded: 0, filesSkipped: 2, rowsRead: 0 });
    expect(await tableCounts(db.handle)).toEqual(before);
  });

  it('fails a data set whose num.txt header lacks value alone, naming the file and column, and keeps nothing of it', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const good = copySet(inbox, 'layout-2025'); // a good data set beside it: it loads
    const bad = copySet(inbox, 'legacy', 'legacy-bad-header');
    const num = readFileSync(join(bad, 'num.txt'), 'utf8');
    writeFileSync(join(bad, 'num.txt'), num.replace('\tuom\tvalue\tfootnote\n', '\tuom\tamount\tfootnote\n'));

    const summary = await run(db.handle, fsds, inbox);
    expect(summary.status).toBe('partial');
    const message = `${bad}:num.txt:1: the header lacks required column value`;
    expect(summary.error).toContain(message);
    expect(summary.error).toContain('got columns adsh, tag, version, coreg, ddate, qtrs, uom, amount, footnote');
    expect(summary.counts).toMatchObject({ filesLoaded: 1, filesFailed: 1 });
    expect(summary.files.map((f) => f.action)).toEqual(['loaded', 'failed']);
    const [ledger] = await rows<{ status: string; error: string }>(db.handle, 'select status, error from etl.runs where run_id = $1', [summary.runId]);
    expect(ledger).toEqual({ status: 'partial', error: summary.error });
    const runFiles = await rows<{ uri: string; action: string; message: string | null }>(db.handle, 'select uri, action, message from etl.run_files where run_id = $1 order by uri', [summary.runId]);
    expect(runFiles.map((f) => [f.uri, f.action])).toEqual([
      [good, 'loaded'],
      [bad, 'failed'],
    ]);
    expect(runFiles[1]!.message).toContain(message);
    expect(await rows(db.handle, 'select count(*)::int as n from etl.source_files where uri = $1', [bad])).toEqual([{ n: 0 }]);
  });

  it('fails on a truncated zip and on a zip whose entry name escapes the archive', async () => {
    const db = await useDatabase(kind);

    const truncatedInbox = makeInbox();
    const whole = zipOf('legacy');
    const truncated = join(truncatedInbox, '2025q1.zip');
    writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    const t = await run(db.handle, fsds, truncatedInbox);
    expect(t.status).toBe('failed');
    expect(t.error).toContain(`${truncated}: not a complete zip archive`);

    const escapeInbox = makeInbox();
    const safe = makeZip([
      { name: 'sub.txt', data: fixtureText('legacy', 'sub.txt') },
      { name: 'ab/num.txt', data: fixtureText('legacy', 'num.txt') },
    ]);
    const escaping = join(escapeInbox, '2025q2.zip');
    writeFileSync(escaping, patchEntryName(safe, 'ab/num.txt', '../num.txt'));
    const e = await run(db.handle, fsds, escapeInbox);
    expect(e.status).toBe('failed');
    expect(e.error).toContain(`${escaping}: the archive has an entry that points outside it`);
    expect(e.error).toContain('../num.txt');

    expect(await tableCounts(db.handle)).toMatchObject({ raw: 0, files: 0, rejects: 0, quarterly: 0 });
    const runs = await rows(db.handle, 'select status from etl.runs order by run_id');
    expect(runs).toEqual([{ status: 'failed' }, { status: 'failed' }]);
  });

  it('fails a zip entry whose bytes do not match its CRC-32, stored or deflated, naming the zip, the entry and both CRCs', async () => {
    const db = await useDatabase(kind);
    const sub = fixtureText('legacy', 'sub.txt');
    const num = fixtureText('legacy', 'num.txt');
    // Line 3: Microsoft's FY2025 Q1 operating cash flow, 34,180,000,000; one flipped digit makes it 94,180,000,000.
    const flipped = num.replace('\t34180000000\t', '\t94180000000\t');
    expect(flipped).not.toBe(num);
    const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
    const message = (zip: string) =>
      `${zip}:num.txt: the archive entry is corrupt: its bytes do not match the CRC-32 the archive records; got ${hex(crc32(Buffer.from(flipped)))}; expected ${hex(crc32(Buffer.from(num)))}`;

    // Stored (not compressed): the digit flipped in the zip file itself, as a bad disk or download would.
    const storedInbox = makeInbox();
    const stored = join(storedInbox, '2025q1.zip');
    const whole = zipOf('legacy', 'store');
    const at = whole.indexOf('\t34180000000\t');
    expect(at).toBeGreaterThan(0);
    whole.write('9', at + 1);
    writeFileSync(stored, whole);
    const s = await run(db.handle, fsds, storedInbox);
    expect(s.status).toBe('failed');
    expect(s.error).toBe(message(stored));

    // Deflated: the entry holds the flipped text, its headers the CRC-32 of the text as filed.
    const deflatedInbox = makeInbox();
    const deflated = join(deflatedInbox, '2025q2.zip');
    writeFileSync(
      deflated,
      makeZip([
        { name: 'sub.txt', data: sub },
        { name: 'num.txt', data: flipped, crc: crc32(Buffer.from(num)) },
      ]),
    );
    const d = await run(db.handle, fsds, deflatedInbox);
    expect(d.status).toBe('failed');
    expect(d.error).toBe(message(deflated));

    // A corrupt sub.txt fails the same way, before num.txt is read.
    const subInbox = makeInbox();
    const badSub = join(subInbox, '2025q3.zip');
    writeFileSync(badSub, makeZip([{ name: 'sub.txt', data: sub, crc: crc32(Buffer.from(sub)) ^ 1 }, { name: 'num.txt', data: num }]));
    const b = await run(db.handle, fsds, subInbox);
    expect(b.status).toBe('failed');
    expect(b.error).toContain(`${badSub}:sub.txt: the archive entry is corrupt`);

    expect(await tableCounts(db.handle)).toMatchObject({ raw: 0, files: 0, rejects: 0 });
  });

  it('fails a zip or folder that holds num.txt twice (a second entry, another folder or case), and reads NUM.TXT alone', async () => {
    const db = await useDatabase(kind);
    const sub = fixtureText('legacy', 'sub.txt');
    const num = fixtureText('legacy', 'num.txt');
    const headerOnly = num.slice(0, num.indexOf('\n') + 1);
    for (const [name, second] of [
      ['2025q1.zip', 'num.txt'],
      ['2025q2.zip', '2025q2/num.txt'],
      ['2025q3.zip', 'NUM.TXT'],
    ] as const) {
      const inbox = makeInbox();
      const zip = join(inbox, name);
      // The first num.txt holds only the header: read alone, it loads nothing and says nothing.
      writeFileSync(zip, makeZip([{ name: 'sub.txt', data: sub }, { name: 'num.txt', data: headerOnly }, { name: second, data: num }]));
      const r = await run(db.handle, fsds, inbox);
      expect(r.status, second).toBe('failed');
      expect(r.error).toBe(
        `${zip}: the archive holds more than one num.txt; got entries "num.txt" (entry 2) and "${second}" (entry 3); expected exactly one num.txt (names compared without case or folder)`,
      );
    }

    const folderInbox = makeInbox();
    const set = copySet(folderInbox, 'legacy');
    writeFileSync(join(set, 'NUM.TXT'), headerOnly);
    const f = await run(db.handle, fsds, folderInbox);
    expect(f.status).toBe('failed');
    expect(f.error).toBe(`${set}: the data set holds more than one num.txt; got files "NUM.TXT" and "num.txt"; expected exactly one num.txt (names compared without case)`);
    expect(await tableCounts(db.handle)).toMatchObject({ raw: 0, files: 0, rejects: 0 });

    // One num.txt, whatever its case or folder, is read as num.txt.
    const upperInbox = makeInbox();
    writeFileSync(join(upperInbox, '2025q4.zip'), makeZip([{ name: 'SUB.TXT', data: sub }, { name: '2025q4/NUM.TXT', data: num }]));
    const u = await run(db.handle, fsds, upperInbox);
    expect(u.error).toBeUndefined();
    expect(u.counts).toMatchObject({ filesLoaded: 1, rowsRead: LEGACY_ROWS, rowsLoaded: MSFT_ROWS_PER_SET, rowsSkipped: LEGACY_DECOYS.length });
  });

  it('fails a num.txt or sub.txt whose header names a column twice, naming the column and both positions', async () => {
    const db = await useDatabase(kind);
    const numInbox = makeInbox();
    const numSet = copySet(numInbox, 'legacy');
    const num = readFileSync(join(numSet, 'num.txt'), 'utf8');
    // footnote (column 9) renamed value: every row still has 9 fields.
    writeFileSync(join(numSet, 'num.txt'), num.replace('\tuom\tvalue\tfootnote\n', '\tuom\tvalue\tvalue\n'));
    const n = await run(db.handle, fsds, numInbox);
    expect(n.status).toBe('failed');
    expect(n.error).toBe(`${numSet}:num.txt:1 column 9: the header names column "value" twice; got columns 8 and 9; expected each column once`);

    const subInbox = makeInbox();
    const subSet = copySet(subInbox, 'legacy');
    const sub = readFileSync(join(subSet, 'sub.txt'), 'utf8');
    // accepted (column 31) renamed fy: read by name, fy would come from the empty accepted column.
    writeFileSync(join(subSet, 'sub.txt'), sub.replace('\tfy\tfp\tfiled\taccepted\t', '\tfy\tfp\tfiled\tfy\t'));
    const s = await run(db.handle, fsds, subInbox);
    expect(s.status).toBe('failed');
    expect(s.error).toBe(`${subSet}:sub.txt:1 column 31: the header names column "fy" twice; got columns 28 and 31; expected each column once`);
    expect(await tableCounts(db.handle)).toMatchObject({ raw: 0, files: 0, rejects: 0 });
  });

  it('rejects the facts of a filing whose sub.txt fy or filed is out of range, naming sub.txt, line and column, and loads the others', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const set = copySet(inbox, 'legacy');
    const sub = readFileSync(join(set, 'sub.txt'), 'utf8').split('\n');
    // Line 2: the FY2025 Q1 10-Q; fy 2^31 is one past PostgreSQL's integer.
    expect(sub[1]).toContain('\t10-Q\t20240930\t2025\tQ1\t20241030\t');
    sub[1] = sub[1]!.replace('\t2025\tQ1\t', '\t2147483648\tQ1\t');
    // Line 3: the FY2025 Q2 10-Q, filed on a 13th month.
    expect(sub[2]).toContain('\t2025\tQ2\t20250129\t');
    sub[2] = sub[2]!.replace('\t20250129\t', '\t20251329\t');
    writeFileSync(join(set, 'sub.txt'), sub.join('\n'));

    const summary = await run(db.handle, fsds, inbox);
    expect(summary.status, summary.error).toBe('succeeded');
    // Six facts of the Q1 10-Q (its seventh, line 6, is a decoy), twelve of the Q2 10-Q.
    expect(summary.counts).toMatchObject({ rowsRead: LEGACY_ROWS, rowsRejected: 18, rowsLoaded: MSFT_ROWS_PER_SET - 18, rowsSkipped: LEGACY_DECOYS.length });
    expectReconciled(summary);
    const rejects = await rows<{ line_no: number; locator: string; column_name: string; column_no: number | null; value: string; reason: string }>(
      db.handle,
      'select line_no, locator, column_name, column_no, value, reason from etl.rejects order by line_no',
    );
    expect(rejects.filter((r) => r.column_name === 'fy').map((r) => r.line_no)).toEqual([2, 3, 4, 5, 7, 8]);
    expect(rejects[0]).toEqual({
      line_no: 2,
      locator: 'num.txt',
      column_name: 'fy',
      column_no: null,
      value: '2147483648',
      reason: `column 'fy': got "2147483648" (sub.txt line 2 column 28, filing 0000950170-24-118967), expected a fiscal year such as 2025 (a whole number from 1800 to 2200)`,
    });
    const filed = rejects.filter((r) => r.column_name === 'filed');
    expect(filed).toHaveLength(12);
    expect(filed[0]).toMatchObject({
      value: '20251329',
      reason: `column 'filed': got "20251329" (sub.txt line 3 column 30, filing 0000950170-25-010491), expected a real calendar date written YYYYMMDD`,
    });
  });

  it('refuses a zip bomb and an entry beyond the size limit, as configured in archives', async () => {
    const db = await useDatabase(kind);
    const limits = (archives: { max_uncompressed_bytes: number; max_expansion_ratio: number }) => ({ ...SHARED, archives });

    // num.txt: the legacy rows, then 200,000 copies of one decoy row, which deflate squeezes ~1000×.
    const legacyNum = fixtureText('legacy', 'num.txt');
    const decoyRow = legacyNum.trimEnd().split('\n').at(-1)! + '\n';
    const bombInbox = makeInbox();
    const bomb = join(bombInbox, 'bomb.zip');
    writeFileSync(
      bomb,
      makeZip([
        { name: 'sub.txt', data: fixtureText('legacy', 'sub.txt'), method: 'store' },
        { name: 'num.txt', data: legacyNum + decoyRow.repeat(200_000) },
      ]),
    );
    const strict = limits({ max_uncompressed_bytes: 8 * 1024 ** 3, max_expansion_ratio: 50 });
    const b = await run(db.handle, fsds, bombInbox, { shared: strict });
    expect(b.status).toBe('failed');
    expect(b.error).toMatch(new RegExp(`^${bomb.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:num\\.txt: the archive entry expands suspiciously \\(a zip bomb\\?\\); got \\d+× its compressed size; expected at most 50× \\(archives\\.max_expansion_ratio\\)$`));

    // The same limits let a real data set through.
    const okInbox = makeInbox();
    writeFileSync(join(okInbox, '2025q1.zip'), zipOf('legacy'));
    const ok = await run(db.handle, fsds, okInbox, { shared: strict });
    expect(ok.error).toBeUndefined();
    expect(ok.counts).toMatchObject({ filesLoaded: 1, rowsRead: 44, rowsLoaded: 39, rowsSkipped: 5 });

    // An entry larger than max_uncompressed_bytes is refused before it is read.
    const bigInbox = makeInbox();
    const big = join(bigInbox, '2026q1.zip');
    writeFileSync(big, zipOf('layout-2025'));
    const tooBig = await run(db.handle, fsds, bigInbox, { shared: limits({ max_uncompressed_bytes: 2048, max_expansion_ratio: 200 }) });
    expect(tooBig.status).toBe('failed');
    expect(tooBig.error).toContain(`${big}:num.txt: the archive entry is too large to read`);
    expect(tooBig.error).toContain('expected at most 2048 (archives.max_uncompressed_bytes)');
    // A bomb that understates its size in both headers passes the checks on the headers and
    // is stopped while it is read, when more bytes come out than were declared.
    const liarInbox = makeInbox();
    const liar = join(liarInbox, '2025q3.zip');
    const liarNum = legacyNum + decoyRow.repeat(50_000);
    const liarZip = makeZip([
      { name: 'sub.txt', data: fixtureText('legacy', 'sub.txt'), method: 'store' },
      { name: 'num.txt', data: liarNum, declaredSize: 4096 },
    ]);
    writeFileSync(liar, liarZip);
    const l = await run(db.handle, fsds, liarInbox, { shared: strict });
    expect(l.status).toBe('failed');
    expect(l.error).toContain(`${liar}:num.txt: the archive entry does not hold the number of bytes its header declares (a zip bomb, or a corrupt archive)`);
    expect(l.error).toContain('expected 4096 bytes uncompressed, as declared');

    // Only the good run's rows are in the database.
    expect((await tableCounts(db.handle)).raw).toBe(39);
  });

  it('rejects a configured fact with a non-numeric value, keeps it in etl.rejects with its line and reason, and loads the rest', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const set = copySet(inbox, 'legacy');
    const lines = readFileSync(join(set, 'num.txt'), 'utf8').split('\n');
    // Line 5: FY2025 Q1 capex (0000950170-24-118967, 2024-07-01..2024-09-30), 14923000000 → "14,923,000,000".
    expect(lines[4]).toBe('0000950170-24-118967\tPaymentsToAcquirePropertyPlantAndEquipment\tus-gaap/2024\t\t20240930\t1\tUSD\t14923000000\t');
    lines[4] = lines[4]!.replace('\t14923000000\t', '\t14,923,000,000\t');
    writeFileSync(join(set, 'num.txt'), lines.join('\n'));

    const summary = await run(db.handle, fsds, inbox);
    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ filesLoaded: 1, rowsRead: 44, rowsLoaded: 38, rowsRejected: 1, rowsSkipped: 5 });
    expectReconciled(summary);

    const rejects = await rows(
      db.handle,
      'select run_id, pipeline, uri, line_no, locator, column_name, column_no, value, reason, raw_text from etl.rejects',
    );
    expect(rejects).toEqual([
      {
        run_id: summary.runId,
        pipeline: 'sec-fsds',
        uri: set,
        line_no: 5,
        locator: 'num.txt',
        column_name: 'val',
        column_no: 8,
        value: '14,923,000,000',
        reason: `column 'val': got "14,923,000,000", expected a plain decimal number such as 1234.5 or 1.2e9 (no thousands separators)`,
        raw_text: lines[4],
      },
    ]);

    // The rest of the file loaded: FY2025 Q1 capex has no other source here, its revenue does.
    const quarters = await msftQuarters(db.handle);
    const find = (metric: string, fy: number, q: number) => quarters.find((r) => r.metric === metric && r.fiscal_year === fy && r.fiscal_quarter === q);
    expect(find('capex', 2025, 1)).toBeUndefined();
    expect(find('capex', 2025, 2)).toMatchObject({ value: 15_804_000_000, derivation: 'discrete' });
    expect(find('capex', 2025, 4)).toMatchObject({ value: 17_079_000_000, derivation: 'fy_minus_ytd' });
    expect(find('revenue', 2025, 1)).toMatchObject({ value: 65_585_000_000, derivation: 'discrete' });
  });

  it('streams a 1,000,000-row num.txt: counts reconcile, only the Microsoft rows load, memory stays bounded', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const dir = join(inbox, '2026q1');
    mkdirSync(dir);
    copyFileSync(join(FIXTURES, 'layout-2025', 'sub.txt'), join(dir, 'sub.txt'));

    // Filler: the fixture's real Microsoft rows under the adsh of a filer that is not configured
    // (9999999999-25-000001 in sub.txt), cycled. Microsoft's six FY2026 Q1 10-Q rows are spread through it.
    const [header, ...fixtureRows] = fixtureText('layout-2025', 'num.txt').trimEnd().split('\n');
    const real = fixtureRows.filter((r) => {
      const f = r.split('\t');
      return f[0] === '0001193125-25-256321' && f[2] === 'us-gaap/2025' && f[6] === '' && f[7] === '';
    });
    expect(real).toHaveLength(6);
    const filler = fixtureRows.filter((r) => r.startsWith('0001193125-') && r.split('\t')[2] === 'us-gaap/2025').map((r) => '9999999999-25-000001' + r.slice(20));
    const TOTAL = 1_000_000;
    const at = new Map([0, 1, 199_999, 500_000, 777_777, TOTAL - 1].map((position, i) => [position, real[i]!]));
    const file = join(dir, 'num.txt');
    const fd = openSync(file, 'w');
    try {
      writeSync(fd, header + '\n');
      let block: string[] = [];
      for (let i = 0; i < TOTAL; i++) {
        block.push(at.get(i) ?? filler[i % filler.length]!);
        if (block.length === 10_000) {
          writeSync(fd, block.join('\n') + '\n');
          block = [];
        }
      }
      if (block.length > 0) writeSync(fd, block.join('\n') + '\n');
    } finally {
      closeSync(fd);
    }
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(80 * 1024 * 1024);

    // Peak heap while the run streams the file, sampled; no durations are measured or asserted.
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 5);
    let summary: RunSummary;
    try {
      summary = await run(db.handle, fsds, inbox);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().heapUsed);

    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ filesLoaded: 1, rowsRead: TOTAL, rowsLoaded: 6, rowsRejected: 0, rowsSkipped: TOTAL - 6 });
    expectReconciled(summary);
    const lines = await loadedLines(db.handle);
    expect(lines.get(dir)).toEqual([...at.keys()].map((position) => position + 2));
    const quarters = await msftQuarters(db.handle);
    expect(quarters.filter((q) => q.metric === 'capex').map((q) => [q.fiscal_year, q.fiscal_quarter, q.value])).toEqual([
      [2025, 1, 14_923_000_000],
      [2026, 1, 19_394_000_000],
    ]);

    // Holding the file's rows would take several times its size in heap; streaming holds a few batches.
    const growth = peak - base;
    expect(growth, `heap grew by ${(growth / 1024 ** 2).toFixed(0)} MiB while streaming a ${(size / 1024 ** 2).toFixed(0)} MiB num.txt`).toBeLessThan(size / 2);
  });
});

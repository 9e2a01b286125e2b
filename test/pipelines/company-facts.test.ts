import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { companyMetrics } from '../../pipelines/company-metrics/pipeline.js';
import { secCompanyfacts } from '../../pipelines/sec-companyfacts/pipeline.js';
import type { CompanyConfig } from '../../pipelines/shared/companies.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { bundledShared, inboxConfig, makeInbox, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/**
 * Quarter arithmetic and bad input on small real excerpts: tag fall-back and a real tag switch
 * (Alphabet moved revenue from RevenueFromContractWithCustomerExcludingAssessedTax to Revenues in
 * 2025), duplicate filings, 52/53-week quarters (NVIDIA), analyst CSV rules, malformed JSON.
 */

const companyfacts = secCompanyfacts as unknown as AnyPipeline;
const metrics = companyMetrics as unknown as AnyPipeline;
const SAMPLE_SEC = join(PACKAGE_ROOT, 'data', 'sample', 'sec', 'companyfacts');
const GOOGL = 'CIK0001652044.json';
// Oracle's capex and revenue facts as filed: the bad-input corpus's base document.
const ORCL_BASE = join(PACKAGE_ROOT, 'test', 'fixtures', 'bad', 'sec-companyfacts', 'base.json');

function sharedWith(change: (companies: CompanyConfig[]) => CompanyConfig[]) {
  const shared = bundledShared();
  return { ...shared, companies: change(structuredClone(shared.companies) as CompanyConfig[]) };
}

describeEachDatabase('company facts', (kind) => {
  it('falls back to the next tag where the preferred one is missing: Alphabet revenue across its 2025 tag switch', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copyFileSync(join(SAMPLE_SEC, GOOGL), join(inbox, GOOGL));
    await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, inbox));
    const revenue = await rows<{ fiscal_year: number; fiscal_quarter: number; value: number; tag: string; derivation: string }>(
      db.handle,
      `select fiscal_year, fiscal_quarter, value, tag, derivation from core.company_quarterly
       where ticker = 'GOOGL' and metric = 'revenue' and vintage = 'latest' and fiscal_year in (2024, 2025) order by 1, 2`,
    );
    const contract = 'us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax';
    expect(revenue).toEqual([
      { fiscal_year: 2024, fiscal_quarter: 1, value: 80_539_000_000, tag: contract, derivation: 'discrete' },
      { fiscal_year: 2024, fiscal_quarter: 2, value: 84_742_000_000, tag: contract, derivation: 'discrete' },
      { fiscal_year: 2024, fiscal_quarter: 3, value: 88_268_000_000, tag: contract, derivation: 'discrete' },
      { fiscal_year: 2024, fiscal_quarter: 4, value: 96_469_000_000, tag: contract, derivation: 'fy_minus_ytd' },
      { fiscal_year: 2025, fiscal_quarter: 1, value: 90_234_000_000, tag: contract, derivation: 'discrete' },
      // From here on Alphabet tags revenue as us-gaap:Revenues: the fall-back takes over.
      { fiscal_year: 2025, fiscal_quarter: 2, value: 96_428_000_000, tag: 'us-gaap:Revenues', derivation: 'discrete' },
      { fiscal_year: 2025, fiscal_quarter: 3, value: 102_346_000_000, tag: 'us-gaap:Revenues', derivation: 'discrete' },
      { fiscal_year: 2025, fiscal_quarter: 4, value: 113_829_000_000, tag: 'us-gaap:Revenues', derivation: 'fy_minus_ytd' },
    ]);
  });

  it('counts a fact filed again in later filings once, and records how many filings reported it', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copyFileSync(join(SAMPLE_SEC, GOOGL), join(inbox, GOOGL));
    await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, inbox));
    // 2022 Q1 revenue: the 2022 Q1 10-Q and, as a comparative, the 2023 Q1 10-Q.
    const facts = await rows(
      db.handle,
      `select vintage, value, accession, filed, versions from analytics.company_facts
       where ticker = 'GOOGL' and metric = 'revenue' and period_start = '2022-01-01' and period_end = '2022-03-31' order by vintage`,
    );
    expect(facts).toEqual([
      { vintage: 'first', value: 68_011_000_000, accession: '0001652044-22-000029', filed: '2022-04-27', versions: 2 },
      { vintage: 'latest', value: 68_011_000_000, accession: '0001652044-23-000045', filed: '2023-04-26', versions: 2 },
    ]);
    const [year] = await rows<{ n: number; total: number }>(
      db.handle,
      `select count(*)::int as n, sum(value) as total from core.company_quarterly
       where ticker = 'GOOGL' and metric = 'revenue' and vintage = 'latest' and fiscal_year = 2022`,
    );
    expect(year).toEqual({ n: 4, total: 282_836_000_000 });
  });

  it('maps 52/53-week quarters (NVIDIA, fiscal years ending late January) to fiscal and calendar quarters', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copyFileSync(join(PACKAGE_ROOT, 'test', 'fixtures', 'company-metrics', 'nvda_quarterly.csv'), join(inbox, 'nvda.csv'));
    const shared = sharedWith((cs) => cs.map((c) => (c.ticker === 'NVDA' ? { ...c, enabled: true } : c)));
    const run = await runOnce(db.handle, metrics, inboxConfig(metrics, inbox), {}, undefined, shared);
    expect(run.status, run.error).toBe('succeeded');
    expect(run.counts).toMatchObject({ rowsRead: 16, rowsLoaded: 16 });
    const q = await rows(
      db.handle,
      `select fiscal_label, calendar_label, period_start, period_end, revenue, revenue_ttm, capex_ttm
       from analytics.hyperscaler_quarterly where ticker = 'NVDA' and period_end between '2025-01-01' and '2025-10-31' order by period_end`,
    );
    expect(q).toEqual([
      { fiscal_label: 'FY2025 Q4', calendar_label: '2024-Q4', period_start: '2024-10-28', period_end: '2025-01-26', revenue: 39_331_000_000, revenue_ttm: null, capex_ttm: null },
      { fiscal_label: 'FY2026 Q1', calendar_label: '2025-Q1', period_start: '2025-01-27', period_end: '2025-04-27', revenue: 44_062_000_000, revenue_ttm: null, capex_ttm: null },
      { fiscal_label: 'FY2026 Q2', calendar_label: '2025-Q2', period_start: '2025-04-28', period_end: '2025-07-27', revenue: 46_743_000_000, revenue_ttm: 165_218_000_000, capex_ttm: 5_012_000_000 },
      { fiscal_label: 'FY2026 Q3', calendar_label: '2025-Q3', period_start: '2025-07-28', period_end: '2025-10-26', revenue: 57_006_000_000, revenue_ttm: 187_142_000_000, capex_ttm: 5_835_000_000 },
    ]);
    // NVIDIA is not in the big five: the group totals do not change.
    const [members] = await rows<{ n: number }>(db.handle, `select count(*)::int as n from core.group_indicators`);
    expect(members!.n).toBe(0);
  });

  it('rejects analyst rows that break the metric rules, with the column and the reason', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(
      inbox,
      'rpo.csv',
      [
        'ticker,metric,period_end,value,period_start,unit,source',
        'ORCL,rpo,2025-08-31,455000000000,,USD,Oracle FQ1 FY26 release',
        'XYZ,rpo,2025-08-31,1,,USD,unknown company',
        'ORCL,backlog_total,2025-08-31,1,,USD,unknown metric',
        'ORCL,capex,2025-08-31,8502000000,,USD,flow without a start',
        'ORCL,rpo,2025-08-31,455000000000,2025-06-01,USD,instant with a start',
        'ORCL,rpo,2025-11-30,523000000000,,EUR,wrong unit',
      ].join('\n') + '\n',
    );
    const run = await runOnce(db.handle, metrics, inboxConfig(metrics, inbox));
    expect(run.counts).toMatchObject({ rowsRead: 6, rowsLoaded: 1, rowsRejected: 5 });
    const rejects = await rows(db.handle, 'select line_no, column_name, column_no, value, reason from etl.rejects order by line_no');
    expect(rejects).toEqual([
      { line_no: 3, column_name: 'ticker', column_no: 1, value: 'XYZ', reason: expect.stringMatching(/^column 'ticker': got "XYZ", expected an enabled company \(MSFT, AMZN, GOOGL, META, ORCL\)$/) as unknown },
      { line_no: 4, column_name: 'metric', column_no: 2, value: 'backlog_total', reason: expect.stringContaining(`column 'metric': got "backlog_total", expected a configured metric (capex, revenue`) as unknown },
      { line_no: 5, column_name: 'period_start', column_no: 5, value: null, reason: `column 'period_start': missing; capex is an amount over a period, so period_start is required` },
      { line_no: 6, column_name: 'period_start', column_no: 5, value: '2025-06-01', reason: `column 'period_start': got 2025-06-01; rpo is a balance at a date, so period_start must be empty` },
      { line_no: 7, column_name: 'unit', column_no: 6, value: 'EUR', reason: `column 'unit': got "EUR", expected USD for rpo` },
    ]);
    const [rpo] = await rows(db.handle, `select rpo, calendar_label from analytics.hyperscaler_quarterly where ticker = 'ORCL' and period_end = '2025-08-31'`);
    expect(rpo).toEqual({ rpo: 455_000_000_000, calendar_label: '2025-Q3' });
  });

  it('fails a companyfacts file alone and keeps nothing of it when it is not valid JSON or not in the layout; the good file beside it loads', async () => {
    const db = await useDatabase(kind);
    for (const [name, content, message] of [
      ['CIK0000789019.json', '{"cik": 789019, "facts": {"us-gaap": {', /CIK0000789019\.json:1: not valid JSON \(.*position 38\)/],
      ['CIK0000789019.json', '[1, 2, 3]', /not an SEC companyfacts document: \(top level\)/],
      ['CIK0000789019.json', '{"cik": 789019, "facts": {"us-gaap": {"X": {"units": {"USD": 5}}}}}', /not an SEC companyfacts document: facts\.us-gaap\.X\.units\.USD/],
    ] as const) {
      const inbox = makeInbox();
      copyFileSync(join(SAMPLE_SEC, GOOGL), join(inbox, GOOGL));
      writeFile(inbox, name, content);
      const run = await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, inbox));
      expect(run.status).toBe('partial');
      expect(run.error).toMatch(message);
      expect(run.files.find((f) => f.action === 'failed')?.file.uri).toBe(join(inbox, name));
      // Only Alphabet's document is a source: nothing of the bad one was kept.
      const [n] = await rows<{ files: number; documents: number }>(
        db.handle,
        'select (select count(*)::int from etl.source_files) as files, (select count(distinct file_id)::int from raw.company_facts) as documents',
      );
      expect(n).toEqual({ files: 1, documents: 1 });
    }
  });

  it('rejects a malformed fact with its JSON path and loads the rest of the file', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const doc = JSON.parse(readFileSync(join(SAMPLE_SEC, GOOGL), 'utf8')) as {
      facts: Record<string, Record<string, { units: Record<string, Record<string, unknown>[]> }>>;
    };
    const capex = doc.facts['us-gaap']!['PaymentsToAcquirePropertyPlantAndEquipment']!.units['USD']!;
    const total = Object.values(doc.facts['us-gaap']!).reduce((n, c) => n + c.units['USD']!.length, 0);
    capex[0]!.val = 'twelve billion';
    capex[1]!.start = '2099-01-01';
    delete capex[2]!.accn;
    writeFile(inbox, GOOGL, JSON.stringify(doc));
    const run = await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, inbox));
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ rowsRead: total, rowsRejected: 3, rowsLoaded: total - 3 });
    const rejects = await rows(db.handle, 'select locator, column_name, value, reason from etl.rejects order by locator');
    expect(rejects).toEqual([
      {
        locator: 'facts.us-gaap.PaymentsToAcquirePropertyPlantAndEquipment.units.USD[0]',
        column_name: 'val',
        value: 'twelve billion',
        reason: `column 'val': got "twelve billion", expected a plain decimal number such as 1234.5 or 1.2e9`,
      },
      {
        locator: 'facts.us-gaap.PaymentsToAcquirePropertyPlantAndEquipment.units.USD[1]',
        column_name: 'start',
        value: '2099-01-01',
        reason: expect.stringMatching(/^column 'start': got start 2099-01-01 after end \d{4}-\d\d-\d\d, expected a period whose start is on or before its end$/) as unknown,
      },
      {
        locator: 'facts.us-gaap.PaymentsToAcquirePropertyPlantAndEquipment.units.USD[2]',
        column_name: 'accn',
        value: null,
        reason: `column 'accn': missing; no value was given; expected one`,
      },
    ]);
  });

  it('stores each fact value exactly as written in the JSON, never through a binary float', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    // Oracle's capex facts (the corpus base document), four of them rewritten to numbers that a
    // double cannot hold: 2^53 + 1, nineteen significant digits, thirty digits, and an exponent.
    const text = readFileSync(ORCL_BASE, 'utf8');
    const edits: readonly (readonly [string, string])[] = [
      ['"val": 2303000000', '"val": 9007199254740993'],
      ['"val": 6273000000', '"val": 2303000000.123456789'],
      ['"val": 12135000000', '"val": 123456789012345678901234567890'],
      ['"val": 21215000000', '"val": 2.1215000000000000001E10'],
    ];
    let edited = text;
    for (const [from, to] of edits) {
      expect(edited).toContain(from);
      edited = edited.replace(from, to);
    }
    writeFile(inbox, 'CIK0001341439.json', edited);
    const run = await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, inbox));
    expect(run.status, run.error).toBe('succeeded');
    expect(run.counts).toMatchObject({ rowsRead: 16, rowsLoaded: 15, rowsRejected: 0, rowsSkipped: 1 });
    const stored = await rows<{ period_end: string; value: string }>(
      db.handle,
      `select period_end::text, value::text from raw.company_facts
       where tag = 'PaymentsToAcquirePropertyPlantAndEquipment' and period_start = '2024-06-01' order by period_end`,
    );
    expect(stored).toEqual([
      { period_end: '2024-08-31', value: '9007199254740993' },
      { period_end: '2024-11-30', value: '2303000000.123456789' },
      { period_end: '2025-02-28', value: '123456789012345678901234567890' },
      { period_end: '2025-05-31', value: '21215000000.000000001' },
    ]);
  });

  it('rejects a fact whose fy is beyond the range of a fiscal year, with its JSON path, and loads the other companies', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copyFileSync(join(SAMPLE_SEC, GOOGL), join(inbox, GOOGL));
    // 2^31: one past PostgreSQL's integer, which used to fail the whole run with a bare database error.
    const text = readFileSync(ORCL_BASE, 'utf8');
    expect(text).toContain('"fy": 2026');
    writeFile(inbox, 'CIK0001341439.json', text.replace('"fy": 2026', '"fy": 2147483648'));
    const run = await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, inbox));
    expect(run.status, run.error).toBe('succeeded');
    expect(run.counts).toMatchObject({ filesLoaded: 2, rowsRejected: 1 });
    const rejects = await rows(db.handle, 'select uri, line_no, locator, column_name, value, reason from etl.rejects');
    expect(rejects).toEqual([
      {
        uri: join(inbox, 'CIK0001341439.json'),
        line_no: 1,
        locator: 'facts.us-gaap.PaymentsToAcquirePropertyPlantAndEquipment.units.USD[0]',
        column_name: 'fy',
        value: '2147483648',
        reason: `column 'fy': got "2147483648", expected a fiscal year such as 2025 (a whole number from 1800 to 2200)`,
      },
    ]);
    const [loaded] = await rows<{ googl: number; orcl: number }>(
      db.handle,
      `select count(*) filter (where cik = 1652044)::int as googl, count(*) filter (where cik = 1341439)::int as orcl from raw.company_facts`,
    );
    expect(loaded!.googl).toBeGreaterThan(100);
    expect(loaded!.orcl).toBe(14);
  });

  it('recomputes when the company configuration changes: a disabled company drops out of the views and totals', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copyFileSync(join(SAMPLE_SEC, GOOGL), join(inbox, GOOGL));
    await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, inbox));
    const count = async () =>
      (await rows<{ n: number }>(db.handle, `select count(*)::int as n from analytics.hyperscaler_quarterly where ticker = 'GOOGL'`))[0]!.n;
    expect(await count()).toBeGreaterThan(20);
    const without = sharedWith((cs) => cs.map((c) => (c.ticker === 'GOOGL' ? { ...c, enabled: false } : c)));
    const run = await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, inbox), {}, undefined, without);
    expect(run.counts.filesSkipped).toBe(1);
    expect(await count()).toBe(0);
    await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, inbox));
    expect(await count()).toBeGreaterThan(20);
  });
});

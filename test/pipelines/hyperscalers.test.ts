import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Papa from 'papaparse';
import { expect, it } from 'vitest';
import { companyMetrics } from '../../pipelines/company-metrics/pipeline.js';
import { secCompanyfacts } from '../../pipelines/sec-companyfacts/pipeline.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, rows, runOnce } from '../helpers/pipelines.js';

/**
 * The bundled sample (real companyfacts excerpts + analyst CSVs) end to end, checked against
 * the cross-checked reference figures in test/fixtures/sec/.
 */

const companyfacts = secCompanyfacts as unknown as AnyPipeline;
const metrics = companyMetrics as unknown as AnyPipeline;
const SAMPLE = join(PACKAGE_ROOT, 'data', 'sample');

interface Expected {
  ticker: string;
  calendar_label: string;
  fiscal_year: string;
  fiscal_quarter: string;
  quarter_end: string;
  capex_usd: string;
}

const EXPECTED = Papa.parse<Expected>(readFileSync(join(PACKAGE_ROOT, 'test', 'fixtures', 'sec', 'expected_calendar_capex.csv'), 'utf8'), {
  header: true,
  skipEmptyLines: true,
}).data;

async function loadSample(handle: DatabaseHandle) {
  const sec = makeInbox();
  cpSync(join(SAMPLE, 'sec', 'companyfacts'), sec, { recursive: true });
  const csv = makeInbox();
  cpSync(join(SAMPLE, 'company-metrics'), csv, { recursive: true });
  const a = await runOnce(handle, companyfacts, inboxConfig(companyfacts, sec));
  const b = await runOnce(handle, metrics, inboxConfig(metrics, csv));
  expect(a.status, a.error).toBe('succeeded');
  expect(b.status, b.error).toBe('succeeded');
  return { companyfactsRun: a, metricsRun: b, sec, csv };
}

describeEachDatabase('hyperscaler fundamentals from the bundled sample', (kind) => {
  it('reproduces calendar-quarter cash capex per company, 2022-Q1 to 2026-Q2, to the dollar', async () => {
    const db = await useDatabase(kind);
    const { companyfactsRun } = await loadSample(db.handle);
    expect(companyfactsRun.counts.rowsRead).toBe(companyfactsRun.counts.rowsLoaded + companyfactsRun.counts.rowsRejected + companyfactsRun.counts.rowsSkipped);
    expect(companyfactsRun.counts.rowsRejected).toBe(0);

    const actual = await rows<{ ticker: string; calendar_label: string; fiscal_year: number; fiscal_quarter: number; period_end: string; capex: number }>(
      db.handle,
      `select ticker, calendar_label, fiscal_year, fiscal_quarter, period_end, capex
       from analytics.hyperscaler_quarterly where calendar_label between '2022-Q1' and '2026-Q2' order by ticker, period_end`,
    );
    const byKey = new Map(actual.map((r) => [`${r.ticker} ${r.calendar_label}`, r]));
    expect(EXPECTED).toHaveLength(90);
    for (const e of EXPECTED) {
      const got = byKey.get(`${e.ticker} ${e.calendar_label}`);
      expect(got, `${e.ticker} ${e.calendar_label}`).toMatchObject({
        fiscal_year: Number(e.fiscal_year),
        fiscal_quarter: Number(e.fiscal_quarter),
        period_end: e.quarter_end,
        capex: Number(e.capex_usd),
      });
    }
  });

  it('sums the big five by calendar quarter: 2024 = 239.1 $B, 2025 = 411.5 $B', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const years = await rows<{ calendar_year: number; quarters: number; capex: number; reporting: number }>(
      db.handle,
      `select calendar_year, count(capex)::int as quarters, sum(capex) as capex, min(companies_reporting) as reporting
       from analytics.hyperscaler_totals_quarterly where group_name = 'big5' and calendar_year in (2024, 2025)
       group by calendar_year order by calendar_year`,
    );
    expect(years.map((y) => ({ ...y, capex: Math.round(y.capex / 1e8) / 10 }))).toEqual([
      { calendar_year: 2024, quarters: 4, capex: 239.1, reporting: 5 },
      { calendar_year: 2025, quarters: 4, capex: 411.5, reporting: 5 },
    ]);
    // The TTM at each year's fourth quarter is the same sum.
    const ttm = await rows<{ calendar_label: string; capex_ttm: number }>(
      db.handle,
      `select calendar_label, capex_ttm from analytics.hyperscaler_totals_quarterly
       where group_name = 'big5' and calendar_label in ('2024-Q4', '2025-Q4') order by 1`,
    );
    expect(ttm.map((t) => Math.round(t.capex_ttm / 1e8) / 10)).toEqual([239.1, 411.5]);
    // Reference calendar-year capex per company (reference_figures.csv, "high" confidence).
    const perCompany = await rows<{ ticker: string; calendar_year: number; capex: number }>(
      db.handle,
      `select ticker, calendar_year, sum(capex) as capex from analytics.hyperscaler_quarterly
       where calendar_year in (2024, 2025) group by 1, 2 order by 1, 2`,
    );
    const reference: Record<string, number> = {
      'AMZN 2024': 82_999_000_000, 'AMZN 2025': 131_819_000_000,
      'GOOGL 2024': 52_535_000_000, 'GOOGL 2025': 91_447_000_000,
      'META 2024': 37_256_000_000, 'META 2025': 69_691_000_000,
      'MSFT 2024': 55_552_000_000, 'MSFT 2025': 83_094_000_000,
    };
    for (const [key, value] of Object.entries(reference)) {
      const [ticker, year] = key.split(' ');
      expect(perCompany.find((p) => p.ticker === ticker && p.calendar_year === Number(year))?.capex, key).toBe(value);
    }
  });

  it('computes the mid-2026 TTM self-funding ratio of all five (and capex intensity where revenue allows) within 0.1 pp of the reference', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const latest = await rows<{ ticker: string; period_end: string; capex_ttm: number; operating_cash_flow_ttm: number; self_funding_ratio: number; capex_intensity: number }>(
      db.handle,
      `select ticker, period_end, capex_ttm, operating_cash_flow_ttm, self_funding_ratio, capex_intensity
       from analytics.hyperscaler_quarterly
       where (period_end = '2026-06-30' and ticker in ('MSFT', 'GOOGL', 'AMZN', 'META')) or (period_end = '2026-05-31' and ticker = 'ORCL')
       order by ticker`,
    );
    // hyperscaler_ttm_summary_2026.csv (Paray01/capex-watch, SEC companyconcept): TTM to 2026-06-30.
    // Amazon, Meta and Oracle get their TTM operating cash flow from the figures their releases state
    // (ttm_operating_cash_flow.csv); their quarterly revenue in the sample does not reach back a full year, so
    // their capex intensity is checked only where four quarters of revenue exist.
    const reference: Record<string, { capex_ttm: number; operating_cash_flow_ttm: number; self_funding_pct: number; intensity_pct?: number }> = {
      AMZN: { capex_ttm: 173_028_000_000, operating_cash_flow_ttm: 161_403_000_000, self_funding_pct: 107.2 },
      GOOGL: { capex_ttm: 132_402_000_000, operating_cash_flow_ttm: 185_675_000_000, self_funding_pct: 71.31, intensity_pct: 29.7 },
      META: { capex_ttm: 89_325_000_000, operating_cash_flow_ttm: 130_301_000_000, self_funding_pct: 68.55 },
      MSFT: { capex_ttm: 115_948_000_000, operating_cash_flow_ttm: 182_935_000_000, self_funding_pct: 63.38, intensity_pct: 34.94 },
      ORCL: { capex_ttm: 55_663_000_000, operating_cash_flow_ttm: 31_977_000_000, self_funding_pct: 174.07 },
    };
    expect(latest.map((r) => r.ticker)).toEqual(['AMZN', 'GOOGL', 'META', 'MSFT', 'ORCL']);
    for (const row of latest) {
      const ref = reference[row.ticker]!;
      expect(row.capex_ttm, row.ticker).toBe(ref.capex_ttm);
      expect(row.operating_cash_flow_ttm, row.ticker).toBe(ref.operating_cash_flow_ttm);
      expect(Math.abs(row.self_funding_ratio * 100 - ref.self_funding_pct), `${row.ticker} self-funding`).toBeLessThan(0.1);
      if (ref.intensity_pct !== undefined) expect(Math.abs(row.capex_intensity * 100 - ref.intensity_pct), `${row.ticker} intensity`).toBeLessThan(0.1);
    }
  });

  it('derives quarters the filing way: discrete, year-to-date differences and Q4 = FY - 9M', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const q = await rows<{ ticker: string; fiscal_label: string; calendar_label: string; capex: number; capex_derivation: string }>(
      db.handle,
      `select ticker, fiscal_label, calendar_label, capex, capex_derivation from analytics.hyperscaler_quarterly
       where (ticker = 'META' and fiscal_year = 2024) or (ticker = 'ORCL' and fiscal_year = 2025) or (ticker = 'MSFT' and fiscal_year = 2025)
       order by ticker, fiscal_quarter`,
    );
    expect(q).toEqual([
      // Meta's cash-flow statement is year-to-date: Q2 = H1 - Q1, Q3 = 9M - H1, Q4 = FY - 9M.
      { ticker: 'META', fiscal_label: 'FY2024 Q1', calendar_label: '2024-Q1', capex: 6_400_000_000, capex_derivation: 'discrete' },
      { ticker: 'META', fiscal_label: 'FY2024 Q2', calendar_label: '2024-Q2', capex: 8_173_000_000, capex_derivation: 'ytd_diff' },
      { ticker: 'META', fiscal_label: 'FY2024 Q3', calendar_label: '2024-Q3', capex: 8_258_000_000, capex_derivation: 'ytd_diff' },
      { ticker: 'META', fiscal_label: 'FY2024 Q4', calendar_label: '2024-Q4', capex: 14_425_000_000, capex_derivation: 'fy_minus_ytd' },
      // Microsoft's fiscal year ends in June: FY2025 Q1 is July-September 2024.
      { ticker: 'MSFT', fiscal_label: 'FY2025 Q1', calendar_label: '2024-Q3', capex: 14_923_000_000, capex_derivation: 'discrete' },
      { ticker: 'MSFT', fiscal_label: 'FY2025 Q2', calendar_label: '2024-Q4', capex: 15_804_000_000, capex_derivation: 'discrete' },
      { ticker: 'MSFT', fiscal_label: 'FY2025 Q3', calendar_label: '2025-Q1', capex: 16_745_000_000, capex_derivation: 'discrete' },
      { ticker: 'MSFT', fiscal_label: 'FY2025 Q4', calendar_label: '2025-Q2', capex: 17_079_000_000, capex_derivation: 'fy_minus_ytd' },
      // Oracle's ends in May: FY2025 Q1 is June-August 2024, whose midpoint is in calendar Q3.
      { ticker: 'ORCL', fiscal_label: 'FY2025 Q1', calendar_label: '2024-Q3', capex: 2_303_000_000, capex_derivation: 'discrete' },
      { ticker: 'ORCL', fiscal_label: 'FY2025 Q2', calendar_label: '2024-Q4', capex: 3_970_000_000, capex_derivation: 'ytd_diff' },
      { ticker: 'ORCL', fiscal_label: 'FY2025 Q3', calendar_label: '2025-Q1', capex: 5_862_000_000, capex_derivation: 'ytd_diff' },
      { ticker: 'ORCL', fiscal_label: 'FY2025 Q4', calendar_label: '2025-Q2', capex: 9_080_000_000, capex_derivation: 'fy_minus_ytd' },
    ]);
  });

  it('keeps restatements: latest filed wins, as-first-reported keeps Meta 2022 capex of 31,431 $M', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const [q4] = await rows(
      db.handle,
      `select first_reported_value, latest_value, revision, first_reported_accession, first_reported_filed, latest_accession, latest_filed
       from analytics.hyperscaler_facts_as_first_reported where ticker = 'META' and metric = 'capex' and fiscal_label = 'FY2022 Q4'`,
    );
    // FY2022 10-K (filed 2023-02-02): 31,431 $M for the year; FY2024 10-K (filed 2025-01-30): 31,186 $M.
    expect(q4).toEqual({
      first_reported_value: 9_043_000_000,
      latest_value: 8_798_000_000,
      revision: -245_000_000,
      first_reported_accession: '0001326801-23-000013',
      first_reported_filed: '2023-02-02',
      latest_accession: '0001326801-25-000017',
      latest_filed: '2025-01-30',
    });
    const [year] = await rows<{ capex: number }>(db.handle, `select sum(capex) as capex from analytics.hyperscaler_quarterly where ticker = 'META' and fiscal_year = 2022`);
    expect(year!.capex).toBe(31_186_000_000);
  });

  it('traces every quarterly value to the filings and file lines it came from', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const [untraced] = await rows<{ n: number }>(
      db.handle,
      `select count(*)::int as n from core.company_quarterly q, jsonb_array_elements(q.inputs) e
       where e->>'file_id' is null or e->>'line' is null
          or (e->>'tag' <> 'analyst' and (e->>'accession' is null or e->>'filed' is null))`,
    );
    expect(untraced!.n).toBe(0);
    const [fact] = await rows(
      db.handle,
      `select accession, form, filed, source_kind, source_locator, source_sha256 from analytics.company_facts
       where ticker = 'MSFT' and metric = 'capex' and vintage = 'latest' and period_start = '2024-07-01' and period_end = '2025-06-30'`,
    );
    expect(fact).toMatchObject({ form: '10-K', source_kind: 'sec-companyfacts', source_locator: expect.stringMatching(/^facts\.us-gaap\.PaymentsToAcquirePropertyPlantAndEquipment\.units\.USD\[\d+\]$/) as unknown });
    expect(fact!.accession).toMatch(/^\d{10}-\d{2}-\d{6}$/);
  });

  it('puts every indicator in analytics.indicator_values and leaves NULL where an input is missing', async () => {
    const db = await useDatabase(kind);
    await loadSample(db.handle);
    const values = await rows<{ indicator: string; subject: string; period_end: string; value: number; unit: string }>(
      db.handle,
      `select indicator, subject, period_end, value, unit from analytics.indicator_values
       where (subject = 'big5' and indicator = 'capex_ttm' and period_end = '2025-12-31')
          or (subject = 'MSFT' and indicator = 'self_funding_ratio' and period_end = '2026-06-30')
       order by indicator`,
    );
    expect(values).toEqual([
      { indicator: 'capex_ttm', subject: 'big5', period_end: '2025-12-31', value: 411_528_000_000, unit: 'USD' },
      { indicator: 'self_funding_ratio', subject: 'MSFT', period_end: '2026-06-30', value: expect.closeTo(0.6338, 4) as unknown, unit: 'ratio' },
    ]);
    // Amazon's quarterly operating cash flow is not in the sample, but the trailing-twelve-month figure its
    // release states is (data/sample/company-metrics/ttm_operating_cash_flow.csv): the reference's 107.2%.
    const [amzn] = await rows<{ self_funding_ratio: number; operating_cash_flow_ttm: number }>(
      db.handle,
      `select self_funding_ratio, operating_cash_flow_ttm from analytics.hyperscaler_quarterly where ticker = 'AMZN' and period_end = '2026-06-30'`,
    );
    expect(amzn!.operating_cash_flow_ttm).toBe(161_403_000_000);
    expect(Math.abs(amzn!.self_funding_ratio * 100 - 107.2)).toBeLessThan(0.1);
    // Meta's operating cash flow before mid-2026 is not there at all: its ratio a year earlier is NULL, not a guess.
    const [meta] = await rows(db.handle, `select self_funding_ratio from analytics.hyperscaler_quarterly where ticker = 'META' and period_end = '2025-06-30'`);
    expect(meta).toEqual({ self_funding_ratio: null });
  });

  it('changes nothing when the same files are loaded again, and recomputes only the touched company', async () => {
    const db = await useDatabase(kind);
    const { sec, csv } = await loadSample(db.handle);
    const snapshot = async () => ({
      quarterly: await rows(db.handle, 'select * from core.company_quarterly order by ticker, metric, vintage, end_key'),
      indicators: await rows(db.handle, 'select * from core.company_indicators order by ticker, end_key'),
      groups: await rows(db.handle, 'select * from core.group_indicators order by group_name, calendar_year, calendar_quarter'),
    });
    const before = await snapshot();
    const again = await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, sec));
    expect(again.counts).toMatchObject({ filesLoaded: 0, filesSkipped: 5 });
    await runOnce(db.handle, metrics, inboxConfig(metrics, csv));
    expect(await snapshot()).toEqual(before);

    // A full refresh rebuilds everything from raw and gives the same numbers.
    const refresh = await runOnce(db.handle, companyfacts, inboxConfig(companyfacts, sec), { fullRefresh: true });
    expect(refresh.status).toBe('succeeded');
    expect(await snapshot()).toEqual(before);
    const scope = await rows(db.handle, 'select count(*)::int as n from core.company_refresh_scope where run_id = $1', [refresh.runId]);
    expect(scope[0]!.n).toBe(6);
  });
});

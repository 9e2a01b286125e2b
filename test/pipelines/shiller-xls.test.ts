import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as XLSX from '@e965/xlsx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shiller } from '../../pipelines/shiller/pipeline.js';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import { httpSchema, scheduleSchema } from '../../src/config/schema.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import { globToRegExp } from '../../src/engine/discover.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { runPipeline, type RunSummary } from '../../src/engine/run-pipeline.js';
import { createFetcher } from '../../src/http/fetcher.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { bundledShared, inboxConfig, makeInbox, memoryLogger, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/**
 * Shiller's workbook as he publishes it (ie_data.xls, BIFF8), read without a CSV export in
 * between: the excerpts in test/fixtures/valuation (two vintages, see its README) always, the
 * whole workbooks in ../shared/data/shiller when they are beside the checkout.
 */

const pipeline = shiller as unknown as AnyPipeline;
const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures', 'valuation');
const OLD_EXCERPT = join(FIXTURES, 'ie_data_2025-10_excerpt.xls');
const NEW_EXCERPT = join(FIXTURES, 'ie_data_2026-05_excerpt.xls');
const SHARED = join(PACKAGE_ROOT, '..', 'shared', 'data', 'shiller');
const SHARED_NEW = join(SHARED, 'ie_data.xls');
const SHARED_OLD = join(SHARED, 'vintages', 'ie_data_2025-10-03.xls');

function copy(from: string, dir: string, as: string): string {
  const target = join(dir, as);
  copyFileSync(from, target);
  return target;
}

/** The Data sheet's months as the workbook holds them: month → [P, D, E, CPI, CAPE]. */
function workbookMonths(path: string): Map<string, (number | null)[]> {
  const book = XLSX.read(readFileSync(path), { type: 'buffer', sheets: ['Data'] });
  const data = XLSX.utils.sheet_to_json<unknown[]>(book.Sheets.Data!, { header: 1, raw: true, defval: null });
  const months = new Map<string, (number | null)[]>();
  for (const r of data) {
    if (typeof r[0] !== 'number') continue;
    const [year, fraction] = r[0].toFixed(2).split('.');
    const num = (v: unknown) => (typeof v === 'number' ? v : null);
    months.set(`${year}-${fraction}-01`, [num(r[1]), num(r[2]), num(r[3]), num(r[4]), num(r[12])]);
  }
  return months;
}

interface CapeRow {
  month: string;
  price: number;
  dividend: number | null;
  earnings: number | null;
  cpi: number;
  cape: number | null;
  cape_shiller: number | null;
}

async function capeRows(handle: DatabaseHandle): Promise<CapeRow[]> {
  return rows<CapeRow>(handle, 'select month, price, dividend, earnings, cpi, cape, cape_shiller from analytics.cape order by month');
}

/** Every month of analytics.cape holds the workbook's figures, and CAPE (where both exist) equals Shiller's within 1e-6. */
function expectWorkbook(view: readonly CapeRow[], path: string): number {
  const months = workbookMonths(path);
  expect(view.map((r) => r.month)).toEqual([...months.keys()]);
  let compared = 0;
  for (const r of view) {
    const [p, d, e, cpi, cape] = months.get(r.month)!;
    expect([r.price, r.dividend, r.earnings, r.cpi, r.cape_shiller], r.month).toEqual([p, d, e, cpi, typeof cape === 'number' ? cape : null]);
    if (r.cape !== null && r.cape_shiller !== null) {
      compared++;
      expect(Math.abs(r.cape - r.cape_shiller), `CAPE ${r.month}: computed ${r.cape}, Shiller ${r.cape_shiller}`).toBeLessThan(1e-6);
    }
  }
  return compared;
}

describe('shiller source pattern', () => {
  it('takes the workbook beside CSV exports, in any case, and nothing else', () => {
    const re = globToRegExp(pipeline.source.pattern);
    expect(['ie_data.xls', 'IE_DATA.XLS', 'ie_data.csv', 'book.xlsx'].filter((n) => re.test(n))).toHaveLength(4);
    expect(['ie_data.xls.part', 'notes.txt', 'ie_data.xlsm', 'csv'].filter((n) => re.test(n))).toEqual([]);
  });
});

describeEachDatabase('shiller pipeline on the published workbook', (kind) => {
  it('reads the Data sheet of an .xls as it is: title band, YYYY.MM dates, blank D and E, the notes row', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const path = copy(NEW_EXCERPT, inbox, 'ie_data.xls');
    const { logger, lines } = memoryLogger();
    const summary = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox), {}, logger);
    expect(summary.error).toBeUndefined();
    expect(summary.status).toBe('succeeded');
    // 41 months (2023.01 … 2026.05) and Shiller's notes row after them.
    expect(summary.counts).toMatchObject({ filesLoaded: 1, rowsRead: 42, rowsLoaded: 41, rowsRejected: 0, rowsSkipped: 1 });
    expect(lines.map((l) => l.msg)).toContainEqual(expect.stringMatching(/1 notes row\(s\) after the last month skipped \(from line 50: "May price is May 5th close/));

    // Line numbers are the sheet's rows; numbers keep every digit the workbook has.
    const [october] = await rows(db.handle, `select line_no, price, earnings, cpi, cape_published, layout from raw.shiller_monthly where month = '2025-10-01'`);
    expect(october).toEqual({ line_no: 42, price: 6735.691739130435, earnings: 241.20333333333335, cpi: 325.21200000000005, cape_published: 39.20569217112651, layout: 'shiller-xls' });
    const view = await capeRows(db.handle);
    expectWorkbook(view, path);
    expect(view.slice(-2).map((r) => [r.month, r.dividend, r.earnings, r.cpi])).toEqual([
      ['2026-04-01', null, null, 331.927],
      ['2026-05-01', null, null, 332.784],
    ]);
  });

  it('loads an older vintage, then a newer one: analytics.cape shows the newer, the older stays in raw with its file', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const oldPath = copy(OLD_EXCERPT, inbox, 'ie_data_2025-10.xls');
    const first = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(first.status, first.error).toBe('succeeded');
    const before = await capeRows(db.handle);
    expectWorkbook(before, oldPath);
    expect(before.find((r) => r.month === '2025-09-01')).toMatchObject({ earnings: null, cpi: 324.44 });

    const newPath = copy(NEW_EXCERPT, inbox, 'ie_data_2026-05.xls');
    const second = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(second.status, second.error).toBe('succeeded');
    expect(second.counts).toMatchObject({ filesLoaded: 1, filesSkipped: 1 });
    const after = await capeRows(db.handle);
    expectWorkbook(after, newPath);
    // Shiller revised September 2025: its earnings arrived and its CPI changed.
    expect(after.find((r) => r.month === '2025-09-01')).toMatchObject({ earnings: 235.25, cpi: 324.8 });

    const september = await rows(
      db.handle,
      `select f.uri, r.run_id, r.earnings, r.cpi
       from raw.shiller_monthly r join etl.source_files f using (file_id)
       where r.month = '2025-09-01' order by r.run_id`,
    );
    expect(september).toEqual([
      { uri: oldPath, run_id: first.runId, earnings: null, cpi: 324.44 },
      { uri: newPath, run_id: second.runId, earnings: 235.25, cpi: 324.8 },
    ]);
  });

  it('fails a workbook without the configured sheet alone, naming the sheets it has', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copy(NEW_EXCERPT, inbox, 'ie_data.xls');
    const config = { ...inboxConfig(pipeline, inbox), options: { sheet: 'Monthly' } };
    const summary = await runOnce(db.handle, pipeline, config);
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/ie_data\.xls: the workbook has no sheet "Monthly"; got sheets "Disclaimer", "Data"; expected a sheet "Monthly" \(pipelines\.shiller\.options\.sheet\)/);
  });

  it('rejects a file that claims to be a workbook but is not one, naming the file', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const bytes = Buffer.concat([readFileSync(NEW_EXCERPT).subarray(0, 512), Buffer.alloc(100)]);
    writeFile(inbox, 'ie_data.xls', bytes);
    const summary = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/ie_data\.xls: not a readable Excel workbook; got .+; expected an \.xls \(BIFF8\) or \.xlsx workbook/);
  });
});

/** The publisher: a front page linking to the current workbook, under a URL that changes with each vintage. */
const site = {
  page: '',
  files: new Map<string, Buffer>(),
  requests: [] as string[],
};
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    site.requests.push(path);
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(site.page);
      return;
    }
    const body = site.files.get(path);
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Not Found</body></html>');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.ms-excel' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A front page in the shape of shillerdata.com's: other links first, the workbook's relative. */
function frontPage(workbookHref: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Online Data Robert Shiller</title>
<link rel="stylesheet" href="/static/site.css"></head>
<body><nav><a href="/">Home</a> <a href="/about">About</a></nav>
<h1>Online Data - Robert Shiller</h1>
<p>Stock market data used in my book, Irrational Exuberance [Princeton University Press 2000, 2005, 2015],
updated: <a class="file" href='${workbookHref}'>U.S. Stock Markets 1871-Present and CAPE Ratio</a></p>
<p><a href="/files/fig2-1.xls">Home prices since 1890</a></p>
</body></html>
`;
}

function urlConfig(url: string, options: Record<string, unknown> = {}): ResolvedPipelineConfig {
  return {
    name: pipeline.name,
    configured: true,
    enabled: true,
    schedule: scheduleSchema.parse(pipeline.defaults.schedule),
    sources: [{ kind: 'url', url }],
    baseDir: PACKAGE_ROOT,
    options,
  };
}

describeEachDatabase('shiller pipeline from the publisher', (kind) => {
  async function run(handle: DatabaseHandle, config: ResolvedPipelineConfig, cacheDir: string): Promise<RunSummary> {
    const { logger } = memoryLogger();
    const fetch = createFetcher(httpSchema.parse({ user_agent: 'bubblewatch-test test@example.com', cache_dir: cacheDir, max_attempts: 1 }), logger);
    return runPipeline({ handle, logger, shared: bundledShared(), fetch }, pipeline, config, { trigger: 'manual' });
  }

  it('follows the workbook link on the front page; a new vintage under a new link replaces the old one, which stays traceable', async () => {
    const db = await useDatabase(kind);
    const cacheDir = makeInbox();
    site.files = new Map([
      ['/files/ie_data.xls?ver=1759449600', readFileSync(OLD_EXCERPT)],
      ['/files/ie_data.xls?ver=1778284800', readFileSync(NEW_EXCERPT)],
    ]);
    // The page links to the workbook by an absolute URL (shillerdata.com's points at its file host); the next by a relative one.
    site.page = frontPage(`${base}/files/ie_data.xls?ver=1759449600`);
    site.requests.length = 0;

    const first = await run(db.handle, urlConfig(`${base}/`), cacheDir);
    expect(first.status, first.error).toBe('succeeded');
    expect(site.requests).toEqual(['/', '/files/ie_data.xls?ver=1759449600']);
    expectWorkbook(await capeRows(db.handle), OLD_EXCERPT);

    // Nothing new published: the same page, the same workbook, nothing loaded.
    const same = await run(db.handle, urlConfig(`${base}/`), cacheDir);
    expect(same.status, same.error).toBe('succeeded');
    expect(same.counts).toMatchObject({ filesLoaded: 0 });

    site.page = frontPage('/files/ie_data.xls?ver=1778284800');
    const second = await run(db.handle, urlConfig(`${base}/`), cacheDir);
    expect(second.status, second.error).toBe('succeeded');
    expect(second.counts).toMatchObject({ filesLoaded: 1 });
    expectWorkbook(await capeRows(db.handle), NEW_EXCERPT);

    // Both vintages are kept under the page's URL: the old one superseded, its rows still in raw.
    const files = await rows(db.handle, `select uri, source_key, superseded_at is not null as superseded from etl.source_files order by file_id`);
    expect(files).toEqual([
      { uri: `${base}/files/ie_data.xls?ver=1759449600`, source_key: `${base}/`, superseded: true },
      { uri: `${base}/files/ie_data.xls?ver=1778284800`, source_key: `${base}/`, superseded: false },
    ]);
    const september = await rows(
      db.handle,
      `select f.uri, r.earnings, r.cpi from raw.shiller_monthly r join etl.source_files f using (file_id) where r.month = '2025-09-01' order by r.file_id`,
    );
    expect(september).toEqual([
      { uri: `${base}/files/ie_data.xls?ver=1759449600`, earnings: null, cpi: 324.44 },
      { uri: `${base}/files/ie_data.xls?ver=1778284800`, earnings: 235.25, cpi: 324.8 },
    ]);
  });

  it('takes a direct URL of the workbook too', async () => {
    const db = await useDatabase(kind);
    site.files = new Map([['/data/ie_data.xls', readFileSync(NEW_EXCERPT)]]);
    const summary = await run(db.handle, urlConfig(`${base}/data/ie_data.xls`), makeInbox());
    expect(summary.status, summary.error).toBe('succeeded');
    expect(await rows(db.handle, 'select uri, source_key from etl.source_files')).toEqual([{ uri: `${base}/data/ie_data.xls`, source_key: `${base}/data/ie_data.xls` }]);
    expectWorkbook(await capeRows(db.handle), NEW_EXCERPT);
  });

  it('uses the configured link pattern, and says so when the page holds no matching link', async () => {
    const db = await useDatabase(kind);
    site.files = new Map([['/downloads/shiller-monthly-2026-05.xls', readFileSync(NEW_EXCERPT)]]);
    site.page = frontPage('/downloads/shiller-monthly-2026-05.xls');

    const missed = await run(db.handle, urlConfig(`${base}/`), makeInbox());
    expect(missed.status).toBe('failed');
    expect(missed.error).toContain(
      `${base}/: the page holds no link matching "ie_data\\\\.xls" (pipelines.shiller.options.workbook_link); got 5 link(s), e.g. "/static/site.css", "/", "/about"; expected a link to the workbook, or the workbook itself`,
    );

    const found = await run(db.handle, urlConfig(`${base}/`, { workbook_link: 'shiller-monthly-\\d{4}-\\d{2}\\.xls' }), makeInbox());
    expect(found.status, found.error).toBe('succeeded');
    expectWorkbook(await capeRows(db.handle), NEW_EXCERPT);
  });

  it('refuses a link pattern that is not a regular expression, with its config path', async () => {
    const db = await useDatabase(kind);
    const summary = await run(db.handle, urlConfig(`${base}/`, { workbook_link: 'ie_data(.xls' }), makeInbox());
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/pipelines\.shiller\.options\.workbook_link: expected a regular expression/);
  });
});

const haveShared = existsSync(SHARED_NEW) && existsSync(SHARED_OLD);
if (!haveShared) {
  describe.skip(`Shiller's whole workbooks [SKIPPED: ${SHARED_NEW} or ${SHARED_OLD} is not present]`, () => {
    it('reproduces the workbook CAPE column', () => {});
  });
} else {
  describeEachDatabase("Shiller's whole workbooks (../shared/data/shiller)", (kind) => {
    it('loads the 2025-10 vintage, then the 2026-05 one: CAPE equals the workbook column for every month, the 2025-10 values stay in raw', async () => {
      const db = await useDatabase(kind);
      const inbox = makeInbox();
      const oldPath = copy(SHARED_OLD, inbox, 'ie_data_2025-10-03.xls');
      const first = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
      expect(first.status, first.error).toBe('succeeded');
      expect(first.counts).toMatchObject({ rowsRejected: 0 });
      expect(expectWorkbook(await capeRows(db.handle), oldPath)).toBeGreaterThan(1700);

      const newPath = copy(SHARED_NEW, inbox, 'ie_data.xls');
      const second = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
      expect(second.status, second.error).toBe('succeeded');
      // 1,865 months (1871-01 … 2026-05) and the notes row.
      expect(second.counts).toMatchObject({ filesLoaded: 1, rowsRead: 1866, rowsLoaded: 1865, rowsRejected: 0, rowsSkipped: 1 });
      expect(expectWorkbook(await capeRows(db.handle), newPath)).toBe(1745);
      const [dec1999] = await rows<{ cape: number }>(db.handle, `select cape from analytics.cape where month = '1999-12-01'`);
      expect(Math.abs(dec1999!.cape - 44.198)).toBeLessThan(0.001);

      // Every month of the earlier vintage is still in raw, with its file.
      const old = workbookMonths(oldPath);
      const kept = await rows<{ month: string; price: number; cpi: number }>(
        db.handle,
        `select r.month, r.price, r.cpi from raw.shiller_monthly r join etl.source_files f using (file_id) where f.uri = $1 order by r.month`,
        [oldPath],
      );
      expect(kept.map((r) => [r.month, r.price, r.cpi])).toEqual([...old].map(([month, [p, , , cpi]]) => [month, p, cpi]));
      const revised = await rows(
        db.handle,
        `select count(*)::int as n from raw.shiller_monthly a join raw.shiller_monthly b using (month)
         where a.file_id < b.file_id and (a.cpi is distinct from b.cpi or a.earnings is distinct from b.earnings)`,
      );
      expect(revised[0]!.n).toBeGreaterThan(0);
    });
  });
}

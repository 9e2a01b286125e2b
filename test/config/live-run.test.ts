import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { cliInProcess as cli } from '../helpers/cli.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { makeInbox, rows } from '../helpers/pipelines.js';

/**
 * config/live.yaml as shipped, with only its publishers' hosts pointed at a local server that
 * answers as data.sec.gov and fred.stlouisfed.org do (the bundled sample's real companyfacts
 * JSON and FRED CSVs, the latter with fredgraph.csv's current header; a shillerdata.com page
 * linking to Shiller's real workbook; ETags): chosen with --config, the SEC contact from the
 * environment, its companyfacts, FRED and Shiller pipelines load from
 * the publishers and fill the views the sample fills, and the next run downloads nothing new.
 */

const SAMPLE = join(PACKAGE_ROOT, 'data', 'sample');
const USER_AGENT = 'bubblewatch-tests/0.1 (tests@example.com)';
/** Shiller's workbook as published, cut to 2025-06 … 2026-05 (test/fixtures/valuation/README.md). */
const WORKBOOK = join(PACKAGE_ROOT, 'test', 'fixtures', 'valuation', 'ie_data_2026-05_excerpt.xls');
const SHILLER_PAGE = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Online Data Robert Shiller</title></head>
<body><nav><a href="/">Home</a></nav>
<p>U.S. Stock Markets 1871-Present and CAPE Ratio: <a href="/files/2026-05/ie_data.xls">ie_data.xls</a></p>
</body></html>
`;

let server: Server;
let base: string;
const requests: { url: string; status: number; userAgent: string | undefined }[] = [];

/** The file the publisher would send for this path, or undefined (404). */
function bodyOf(path: string): Buffer | undefined {
  const url = new URL(path, 'http://127.0.0.1');
  // shillerdata.com's front page, linking to the workbook under a release-specific URL.
  if (url.pathname === '/') return Buffer.from(SHILLER_PAGE);
  if (url.pathname === '/files/2026-05/ie_data.xls') return readFileSync(WORKBOOK);
  const companyfacts = /^\/api\/xbrl\/companyfacts\/(CIK\d{10}\.json)$/.exec(url.pathname);
  if (companyfacts) {
    const file = join(SAMPLE, 'sec', 'companyfacts', companyfacts[1]!);
    return existsSync(file) ? readFileSync(file) : undefined;
  }
  const id = url.searchParams.get('id') ?? '';
  if (url.pathname === '/graph/fredgraph.csv' && /^[A-Z0-9]+$/.test(id) && existsSync(join(SAMPLE, 'fred', `${id}.csv`))) {
    return Buffer.from(readFileSync(join(SAMPLE, 'fred', `${id}.csv`), 'utf8').replace(/^[^\n]*\n/, `observation_date,${id}\n`));
  }
  return undefined;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const body = bodyOf(req.url ?? '/');
    const record = (status: number) => requests.push({ url: req.url ?? '', status, userAgent: req.headers['user-agent'] });
    if (!body) {
      record(404);
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Not Found</body></html>');
      return;
    }
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) {
      record(304);
      res.writeHead(304, { etag }).end();
      return;
    }
    record(200);
    const url = req.url ?? '';
    const type = url === '/' ? 'text/html; charset=utf-8' : url.endsWith('.xls') ? 'application/vnd.ms-excel' : url.includes('.json') ? 'application/json' : 'text/csv';
    res.writeHead(200, { 'content-type': type, etag }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** config/live.yaml in a folder of its own, its publishers' hosts replaced by the local server's. */
function liveConfigAgainstServer(): string {
  const dir = join(makeInbox(), 'config');
  mkdirSync(dir);
  const text = readFileSync(join(PACKAGE_ROOT, 'config', 'live.yaml'), 'utf8');
  const pointed = text.replaceAll('https://data.sec.gov', base).replaceAll('https://fred.stlouisfed.org', base).replaceAll('https://shillerdata.com', base);
  expect(pointed.match(new RegExp(base.replaceAll('.', '\\.'), 'g'))).toHaveLength(3);
  const file = join(dir, 'live.yaml');
  writeFileSync(file, pointed);
  return file;
}

describeEachDatabase('config/live.yaml against publishers served locally', (kind) => {
  it('loads SEC companyfacts, FRED and Shiller from their publishers, and the next run downloads nothing new', async () => {
    const db = await useDatabase(kind);
    await db.close();
    const config = liveConfigAgainstServer();
    const env = { ...db.env, BUBBLEWATCH_USER_AGENT: USER_AGENT };
    requests.length = 0;

    const first = await cli(['--config', config, 'run', 'sec-companyfacts', 'fred', 'shiller', '--no-preview'], env);
    expect(first.code, first.stderr.slice(-1500)).toBe(0);
    expect(requests.map((r) => `${r.status} ${r.url}`).sort()).toEqual([
      '200 /',
      ...['0000789019', '0001018724', '0001326801', '0001341439', '0001652044'].map((cik) => `200 /api/xbrl/companyfacts/CIK${cik}.json`),
      '200 /files/2026-05/ie_data.xls',
      '200 /graph/fredgraph.csv?id=GDP',
      '200 /graph/fredgraph.csv?id=NCBEILQ027S',
    ]);
    expect(new Set(requests.map((r) => r.userAgent))).toEqual(new Set([USER_AGENT]));

    const handle = await db.reopen();
    const [msft] = await rows(handle, `select capex_ttm from analytics.hyperscaler_quarterly where ticker = 'MSFT' and period_end = '2026-06-30'`);
    expect(msft).toEqual({ capex_ttm: 115_948_000_000 });
    const [buffett] = await rows<{ n: number }>(handle, 'select count(*)::int as n from analytics.buffett_indicator');
    expect(buffett!.n).toBeGreaterThan(0);
    const [cape] = await rows<{ month: string; cape_shiller: number }>(handle, `select month::text, cape_shiller from analytics.cape where month = '2025-10-01'`);
    expect(cape).toEqual({ month: '2025-10-01', cape_shiller: 39.20569217112651 });
    const [sample] = await rows<{ n: number }>(handle, `select count(*)::int as n from etl.source_files where uri like '%data/sample%'`);
    expect(sample!.n).toBe(0);
    await db.close();

    requests.length = 0;
    const second = await cli(['--config', config, 'run', 'sec-companyfacts', 'fred', 'shiller', '--no-preview', '--json'], env);
    expect(second.code, second.stderr.slice(-1500)).toBe(0);
    expect(requests).toHaveLength(9);
    expect(requests.every((r) => r.status === 304)).toBe(true);
    const runs = JSON.parse(second.stdout) as { pipeline: string; status: string; files_seen: number; files_loaded: number }[];
    expect(runs.map((r) => [r.pipeline, r.status, r.files_seen, r.files_loaded])).toEqual([
      ['sec-companyfacts', 'succeeded', 5, 0],
      ['fred', 'succeeded', 2, 0],
      ['shiller', 'succeeded', 1, 0],
    ]);
  });
});

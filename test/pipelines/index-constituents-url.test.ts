import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { indexConstituents } from '../../pipelines/index-constituents/pipeline.js';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import { httpSchema, scheduleSchema } from '../../src/config/schema.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { createFetcher } from '../../src/http/fetcher.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { bundledShared, inboxConfig, makeInbox, memoryLogger, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/**
 * index-constituents pointed at URLs, served by a local server in the publishers' layouts:
 * the datahub membership list (datasets/s-and-p-500-companies data/constituents.csv, a real
 * excerpt in test/fixtures/index-constituents/datahub) and a datasets/s-and-p-500-companies-financials
 * snapshot, once under its dated name and once under a name without a date (a vendor's "latest").
 * A fetched file is cached under a hash of its URL, so what the pipeline takes from a file's
 * name must come from the URL, and a file without a date in its name or its rows takes the
 * time it was fetched.
 */

const pipeline = indexConstituents as unknown as AnyPipeline;
const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures', 'index-constituents');
const USER_AGENT = 'bubblewatch-tests/0.1 (tests@example.com)';

const BODIES: Record<string, Buffer> = {
  '/datasets/s-and-p-500-companies/main/data/constituents.csv': readFileSync(join(FIXTURES, 'datahub', 'constituents.csv')),
  '/snapshots/constituents-financials_2025-02-01.csv': readFileSync(join(FIXTURES, 'constituents-financials_2025-02-01.csv')),
  '/vendor/latest/caps.csv': readFileSync(join(FIXTURES, 'constituents-financials_2025-02-01.csv')),
  '/vendor/daily/sp500-caps-20250201.csv': readFileSync(join(FIXTURES, 'constituents-financials_2025-02-01.csv')),
};

let server: Server;
let base: string;
const requests: { path: string; status: number }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const body = BODIES[req.url ?? ''];
    if (!body) {
      requests.push({ path: req.url ?? '', status: 404 });
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404: Not Found');
      return;
    }
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) {
      requests.push({ path: req.url!, status: 304 });
      res.writeHead(304, { etag }).end();
      return;
    }
    requests.push({ path: req.url!, status: 200 });
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', etag }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function urlConfig(paths: readonly string[], options: Record<string, unknown>): ResolvedPipelineConfig {
  return {
    name: pipeline.name,
    configured: true,
    enabled: true,
    schedule: scheduleSchema.parse(pipeline.defaults.schedule),
    sources: paths.map((p) => ({ kind: 'url' as const, url: `${base}${p}` })),
    baseDir: PACKAGE_ROOT,
    options,
  };
}

// As in index-constituents.test.ts: the 2025-02-01 fixture's figures worked by hand, Alphabet,
// Fox and News Corp counted once (the datahub list gives each class its issuer's CIK).
const TOP10_SHARE_2025_02_01 = 0.9342550142021701;
const EFFECTIVE_N_2025_02_01 = 9.095952976368434;

/** The calendar date of an instant in a time zone, YYYY-MM-DD. */
function dateIn(zone: string, at: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

describeEachDatabase('index-constituents from URLs', (kind) => {
  it('reads a dated snapshot URL and the datahub constituents.csv URL as it reads the same files in a folder', async () => {
    const db = await useDatabase(kind);
    const { logger } = memoryLogger();
    const fetch = createFetcher(httpSchema.parse({ user_agent: USER_AGENT, cache_dir: makeInbox() }), logger);
    const config = urlConfig(
      ['/snapshots/constituents-financials_2025-02-01.csv', '/datasets/s-and-p-500-companies/main/data/constituents.csv'],
      { layout: 'sp500-financials' },
    );
    const first = await runPipeline({ handle: db.handle, logger, shared: bundledShared(), fetch }, pipeline, config, { trigger: 'manual' });
    expect(first.status, first.error).toBe('succeeded');
    expect(first.counts).toMatchObject({ filesSeen: 2, filesLoaded: 2, rowsRejected: 0 });

    const issuers = await rows<{ ticker: string; issuer_id: string; sector: string }>(
      db.handle,
      `select ticker, issuer_id, sector from raw.index_constituents where record_kind = 'issuer' and ticker in ('GOOG', 'GOOGL', 'BRK.B') order by ticker`,
    );
    expect(issuers).toEqual([
      { ticker: 'BRK.B', issuer_id: '1067983', sector: 'Financials' },
      { ticker: 'GOOG', issuer_id: '1652044', sector: 'Communication Services' },
      { ticker: 'GOOGL', issuer_id: '1652044', sector: 'Communication Services' },
    ]);
    const [c] = await rows<{ as_of: string; top10_share: number; effective_n: number }>(
      db.handle,
      `select as_of::text as as_of, top10_share::float8 as top10_share, effective_n::float8 as effective_n
       from analytics.index_concentration where index_code = 'SP500'`,
    );
    expect(c!.as_of).toBe('2025-02-01');
    expect(c!.top10_share).toBeCloseTo(TOP10_SHARE_2025_02_01, 12);
    expect(c!.effective_n).toBeCloseTo(EFFECTIVE_N_2025_02_01, 9);

    // The next tick asks with the ETags, the publisher answers 304, and nothing is loaded again.
    requests.length = 0;
    const second = await runPipeline({ handle: db.handle, logger, shared: bundledShared(), fetch }, pipeline, config, { trigger: 'manual' });
    expect(second.status, second.error).toBe('succeeded');
    expect(second.counts).toMatchObject({ filesSeen: 2, filesLoaded: 0 });
    expect(requests.map((r) => r.status)).toEqual([304, 304]);
  });

  it('dates a snapshot whose URL and rows carry no date by the time it was fetched, in the configured time zone', async () => {
    const db = await useDatabase(kind);
    const { logger } = memoryLogger();
    const fetch = createFetcher(httpSchema.parse({ user_agent: USER_AGENT, cache_dir: makeInbox() }), logger);
    const zone = 'Pacific/Kiritimati'; // UTC+14: its date differs from UTC's for 14 hours a day
    const config = urlConfig(['/vendor/latest/caps.csv', '/datasets/s-and-p-500-companies/main/data/constituents.csv'], {
      layout: 'sp500-financials',
      files: [{ match: 'caps.csv', as_of_from: 'fetch_time' }],
      fetch_time_zone: zone,
    });
    const before = dateIn(zone, new Date());
    const run = await runPipeline({ handle: db.handle, logger, shared: bundledShared(), fetch }, pipeline, config, { trigger: 'manual' });
    const after = dateIn(zone, new Date());
    expect(run.status, run.error).toBe('succeeded');
    const dates = await rows<{ as_of: string; n: number }>(
      db.handle,
      `select as_of::text as as_of, count(*)::int as n from raw.index_constituents where record_kind = 'cap' group by 1`,
    );
    expect(dates).toHaveLength(1);
    expect([before, after]).toContain(dates[0]!.as_of);
    expect(dates[0]!.n).toBe(18);
    const [c] = await rows<{ top10_share: number }>(db.handle, `select top10_share::float8 as top10_share from analytics.index_concentration`);
    expect(c!.top10_share).toBeCloseTo(TOP10_SHARE_2025_02_01, 12);
  });

  it('without a date source, fails the file with the URL, the option to set and the choices', async () => {
    const db = await useDatabase(kind);
    const { logger } = memoryLogger();
    const fetch = createFetcher(httpSchema.parse({ user_agent: USER_AGENT, cache_dir: makeInbox() }), logger);
    const run = await runPipeline(
      { handle: db.handle, logger, shared: bundledShared(), fetch },
      pipeline,
      urlConfig(['/vendor/latest/caps.csv'], { layout: 'sp500-financials' }),
      { trigger: 'manual' },
    );
    expect(run.status).toBe('failed');
    expect(run.error).toContain(`${base}/vendor/latest/caps.csv`);
    expect(run.error).toContain('"caps.csv"');
    expect(run.error).toContain('as_of_from: fetch_time');
  });
});

describeEachDatabase('index-constituents snapshot dates by option', (kind) => {
  it('takes the date from a URL name in another form when a file rule says file_name', async () => {
    const db = await useDatabase(kind);
    const { logger } = memoryLogger();
    const fetch = createFetcher(httpSchema.parse({ user_agent: USER_AGENT, cache_dir: makeInbox() }), logger);
    const run = await runPipeline(
      { handle: db.handle, logger, shared: bundledShared(), fetch },
      pipeline,
      urlConfig(['/vendor/daily/sp500-caps-20250201.csv'], { layout: 'sp500-financials', files: [{ match: 'sp500-caps-*.csv', as_of_from: 'file_name' }] }),
      { trigger: 'manual' },
    );
    expect(run.status, run.error).toBe('succeeded');
    const dates = await rows<{ as_of: string }>(db.handle, `select distinct as_of::text as as_of from raw.index_constituents where record_kind = 'cap'`);
    expect(dates).toEqual([{ as_of: '2025-02-01' }]);
  });

  it('takes the fetch date over a date column when told, and fails a layout without a date column asked for one', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    // The canonical fixture's 2025-02-01 rows: a file with a date column, the vendor's "today".
    const [header, ...lines] = readFileSync(join(FIXTURES, 'caps_canonical.csv'), 'utf8').trim().split('\n');
    writeFile(inbox, 'caps_today.csv', [header, ...lines.filter((l) => l.startsWith('2025-02-01,'))].join('\n') + '\n');
    const zone = 'UTC';
    const before = dateIn(zone, new Date());
    const ok = await runOnce(db.handle, pipeline, { ...inboxConfig(pipeline, inbox), options: { as_of_from: 'fetch_time', fetch_time_zone: zone } });
    expect(ok.status, ok.error).toBe('succeeded');
    // The file's 2025-02-01 becomes the date it was written on, just now.
    const dates = await rows<{ as_of: string }>(db.handle, `select distinct as_of::text as as_of from raw.index_constituents where record_kind = 'cap'`);
    expect(dates.map((d) => d.as_of)).toEqual([expect.stringMatching(new RegExp(`^(${before}|${dateIn(zone, new Date())})$`)) as unknown as string]);

    const other = makeInbox();
    copyFileSync(join(FIXTURES, 'constituents-financials_2025-02-01.csv'), join(other, 'constituents-financials_2025-02-01.csv'));
    const failed = await runOnce(db.handle, pipeline, { ...inboxConfig(pipeline, other), options: { layout: 'sp500-financials', files: [{ match: '*.csv', as_of_from: 'column' }] } });
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain('pipelines.index-constituents.options.files.0.as_of_from takes the date from a column, but layout sp500-financials');
    expect(failed.error).toContain('expected as_of_from: file_name or fetch_time');
  });

  it('names a bad as_of_from or time zone by its option path', () => {
    const parsed = pipeline.parseOptions({ as_of_from: 'download', fetch_time_zone: 'Mars/Olympus', files: [{ match: 'x.csv', as_of_from: 'now' }] });
    expect(parsed.ok).toBe(false);
    const problems = (parsed as { problems: readonly string[] }).problems.join('\n');
    expect(problems).toContain('pipelines.index-constituents.options.as_of_from: expected one of layout, column, file_name, fetch_time');
    expect(problems).toContain('pipelines.index-constituents.options.files.0.as_of_from: expected one of layout, column, file_name, fetch_time');
    expect(problems).toContain('pipelines.index-constituents.options.fetch_time_zone: expected an IANA time zone such as America/New_York or UTC');
  });
});

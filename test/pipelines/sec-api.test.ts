import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { secCompanyfacts } from '../../pipelines/sec-companyfacts/pipeline.js';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import { httpSchema, scheduleSchema } from '../../src/config/schema.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { createFetcher } from '../../src/http/fetcher.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { bundledShared, makeInbox, memoryLogger, rows } from '../helpers/pipelines.js';

/**
 * The companyfacts pipeline pointed at the SEC API URL template, served here by a local
 * server that behaves like data.sec.gov: one JSON per CIK, ETags, 404 for unknown CIKs.
 */

const pipeline = secCompanyfacts as unknown as AnyPipeline;
const SAMPLE = join(PACKAGE_ROOT, 'data', 'sample', 'sec', 'companyfacts');
const USER_AGENT = 'bubblewatch-tests/0.1 (tests@example.com)';

let server: Server;
let base: string;
const requests: { path: string; userAgent: string | undefined; ifNoneMatch: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', userAgent: req.headers['user-agent'], ifNoneMatch: req.headers['if-none-match'] as string | undefined });
    const m = /^\/api\/xbrl\/companyfacts\/(CIK\d{10}\.json)$/.exec(req.url ?? '');
    const file = m ? join(SAMPLE, m[1]!) : '';
    if (!m || !existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Not Found</body></html>');
      return;
    }
    const body = readFileSync(file);
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function apiConfig(): ResolvedPipelineConfig {
  return {
    name: pipeline.name,
    configured: true,
    enabled: true,
    schedule: scheduleSchema.parse(pipeline.defaults.schedule),
    sources: [{ kind: 'url', url: `${base}/api/xbrl/companyfacts/CIK{cik10}.json` }],
    baseDir: PACKAGE_ROOT,
    options: {},
  };
}

describeEachDatabase('sec-companyfacts from the SEC API', (kind) => {
  it('fetches one document per configured company with a contact User-Agent, and skips unchanged ones by ETag', async () => {
    const db = await useDatabase(kind);
    const cacheDir = makeInbox();
    const { logger } = memoryLogger();
    const fetch = createFetcher(httpSchema.parse({ user_agent: USER_AGENT, cache_dir: cacheDir }), logger);
    requests.length = 0;

    const first = await runPipeline({ handle: db.handle, logger, shared: bundledShared(), fetch }, pipeline, apiConfig(), { trigger: 'manual' });
    expect(first.status, first.error).toBe('succeeded');
    expect(first.counts).toMatchObject({ filesSeen: 5, filesLoaded: 5 });
    expect(requests.map((r) => r.path).sort()).toEqual(
      ['0000789019', '0001018724', '0001326801', '0001341439', '0001652044'].map((cik) => `/api/xbrl/companyfacts/CIK${cik}.json`),
    );
    expect(new Set(requests.map((r) => r.userAgent))).toEqual(new Set([USER_AGENT]));
    const files = await rows<{ uri: string; source_key: string }>(db.handle, 'select uri, source_key from etl.source_files order by uri');
    expect(files[0]).toEqual({ uri: `${base}/api/xbrl/companyfacts/CIK0000789019.json`, source_key: `${base}/api/xbrl/companyfacts/CIK0000789019.json` });

    requests.length = 0;
    const second = await runPipeline({ handle: db.handle, logger, shared: bundledShared(), fetch }, pipeline, apiConfig(), { trigger: 'manual' });
    expect(second.counts).toMatchObject({ filesSeen: 5, filesLoaded: 0, filesSkipped: 5 });
    expect(requests.every((r) => r.ifNoneMatch !== undefined)).toBe(true);

    const [msft] = await rows(db.handle, `select capex_ttm from analytics.hyperscaler_quarterly where ticker = 'MSFT' and period_end = '2026-06-30'`);
    expect(msft).toEqual({ capex_ttm: 115_948_000_000 });
  });

  it('fails the run with the URL and status when the SEC has no document for a company', async () => {
    const db = await useDatabase(kind);
    const { logger } = memoryLogger();
    const fetch = createFetcher(httpSchema.parse({ user_agent: USER_AGENT, cache_dir: makeInbox(), max_attempts: 1 }), logger);
    const shared = bundledShared();
    const companies = (shared.companies as { ticker: string; enabled: boolean }[]).map((c) => (c.ticker === 'NVDA' ? { ...c, enabled: true } : c));
    const run = await runPipeline({ handle: db.handle, logger, shared: { ...shared, companies }, fetch }, pipeline, apiConfig(), { trigger: 'manual' });
    expect(run.status).toBe('failed');
    expect(run.error).toContain(`${base}/api/xbrl/companyfacts/CIK0001045810.json`);
    expect(run.error).toMatch(/404/);
    const [n] = await rows<{ n: number }>(db.handle, 'select count(*)::int as n from raw.company_facts');
    expect(n!.n).toBe(0);
  });
});

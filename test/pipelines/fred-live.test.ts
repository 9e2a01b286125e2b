import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fred } from '../../pipelines/fred/pipeline.js';
import { REGISTRY } from '../../pipelines/registry.js';
import { resolveConfig } from '../../src/config/load.js';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import { httpSchema, scheduleSchema } from '../../src/config/schema.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { createFetcher } from '../../src/http/fetcher.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { bundledShared, makeInbox, memoryLogger, rows } from '../helpers/pipelines.js';

/**
 * The fred pipeline pointed at FRED's keyless download, https://fred.stlouisfed.org/graph/fredgraph.csv?id={series},
 * served here by a local server that answers as fred.stlouisfed.org does: one CSV per series
 * with the current header `observation_date,<SERIES>`, an ETag, and a 404 for an unknown series.
 * The bodies are the bundled sample's real figures (data/sample/fred) and FRED's SP500 excerpt
 * (test/fixtures/valuation), each given the current header.
 */

const pipeline = fred as unknown as AnyPipeline;
const USER_AGENT = 'bubblewatch-tests/0.1 (tests@example.com)';
const BODIES: Record<string, string> = {
  GDP: join(PACKAGE_ROOT, 'data', 'sample', 'fred', 'GDP.csv'),
  NCBEILQ027S: join(PACKAGE_ROOT, 'data', 'sample', 'fred', 'NCBEILQ027S.csv'),
  SP500: join(PACKAGE_ROOT, 'test', 'fixtures', 'valuation', 'fred_sp500_current.csv'),
};

/** fredgraph.csv's body: the file with its header in the current style. */
function fredgraphBody(id: string): Buffer {
  const text = readFileSync(BODIES[id]!, 'utf8');
  return Buffer.from(text.replace(/^[^\n]*\n/, `observation_date,${id}\n`));
}

let server: Server;
let base: string;
const requests: { url: string; userAgent: string | undefined; ifNoneMatch: string | undefined }[] = [];
const API_KEY = 'abcdef0123456789abcdef0123456789';

/**
 * api.stlouisfed.org/fred/series/observations?series_id=…&api_key=…&file_type=json: the same
 * observations in the API's JSON layout (FRED's "." for a missing value, as the API writes it).
 */
function apiBody(id: string): Buffer {
  const lines = fredgraphBody(id).toString('utf8').trim().split('\n').slice(1);
  const observations = lines.map((line) => {
    const [date, value] = line.split(',');
    return { realtime_start: '2026-12-03', realtime_end: '2026-12-03', date, value: value === '' ? '.' : value };
  });
  return Buffer.from(
    JSON.stringify({
      realtime_start: '2026-12-03', realtime_end: '2026-12-03', observation_start: '1600-01-01', observation_end: '9999-12-31',
      units: 'lin', output_type: 1, file_type: 'json', order_by: 'observation_date', sort_order: 'asc',
      count: observations.length, offset: 0, limit: 100000, observations,
    }),
  );
}

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', userAgent: req.headers['user-agent'], ifNoneMatch: req.headers['if-none-match'] as string | undefined });
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/fred/series/observations') {
      const series = url.searchParams.get('series_id') ?? '';
      if (url.searchParams.get('api_key') !== API_KEY) {
        // FRED's answer to a missing or wrong key.
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error_code: 400, error_message: 'Bad Request.  The value for variable api_key is not registered.' }));
        return;
      }
      if (!(series in BODIES) || url.searchParams.get('file_type') !== 'json') {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error_code: 400, error_message: 'Bad Request.  The series does not exist.' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(apiBody(series));
      return;
    }
    const id = url.searchParams.get('id') ?? '';
    if (url.pathname !== '/graph/fredgraph.csv' || !(id in BODIES) || !existsSync(BODIES[id]!)) {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Series not found</body></html>');
      return;
    }
    const body = fredgraphBody(id);
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/csv', etag }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function liveConfig(series: Record<string, unknown> = {}): ResolvedPipelineConfig {
  const parsed = pipeline.parseOptions({ series });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return {
    name: pipeline.name,
    configured: true,
    enabled: true,
    schedule: scheduleSchema.parse(pipeline.defaults.schedule),
    sources: [{ kind: 'url', url: `${base}/graph/fredgraph.csv?id={series}` }],
    baseDir: PACKAGE_ROOT,
    options: parsed.options,
  };
}

/** Observations with a value in a file: its lines after the header, less FRED's empty ones. */
function observationsIn(id: string): number {
  return fredgraphBody(id).toString('utf8').trim().split('\n').slice(1).filter((line) => !/,\.?\s*$/.test(line)).length;
}

describeEachDatabase('fred from fredgraph.csv (no API key)', (kind) => {
  it('fetches one CSV per configured series, the two built-in ones and the config\'s, and skips unchanged ones by ETag', async () => {
    const db = await useDatabase(kind);
    const { logger } = memoryLogger();
    const fetch = createFetcher(httpSchema.parse({ user_agent: USER_AGENT, cache_dir: makeInbox() }), logger);
    const config = liveConfig({ SP500: { unit: 'index', description: 'S&P 500 (S&P Dow Jones Indices via FRED)' } });
    requests.length = 0;

    const first = await runPipeline({ handle: db.handle, logger, shared: bundledShared(), fetch }, pipeline, config, { trigger: 'manual' });
    expect(first.status, first.error).toBe('succeeded');
    expect(first.counts).toMatchObject({ filesSeen: 3, filesLoaded: 3 });
    expect(requests.map((r) => r.url).sort()).toEqual(['GDP', 'NCBEILQ027S', 'SP500'].map((id) => `/graph/fredgraph.csv?id=${id}`));
    expect(new Set(requests.map((r) => r.userAgent))).toEqual(new Set([USER_AGENT]));

    const counts = await rows<{ series_id: string; n: number }>(db.handle, 'select series_id, count(*)::int as n from core.fred_observations group by 1 order by 1');
    expect(counts).toEqual(['GDP', 'NCBEILQ027S', 'SP500'].map((id) => ({ series_id: id, n: observationsIn(id) })));
    const files = await rows<{ source_key: string }>(db.handle, 'select source_key from etl.source_files order by source_key');
    expect(files.map((f) => f.source_key)).toEqual(['GDP', 'NCBEILQ027S', 'SP500'].map((id) => `${base}/graph/fredgraph.csv?id=${id}`));
    // The Buffett indicator of the newest quarter both series have, as the sample's files give it.
    const [buffett] = await rows<{ n: number }>(db.handle, 'select count(*)::int as n from analytics.buffett_indicator');
    expect(buffett!.n).toBeGreaterThan(0);

    requests.length = 0;
    const second = await runPipeline({ handle: db.handle, logger, shared: bundledShared(), fetch }, pipeline, config, { trigger: 'manual' });
    expect(second.status, second.error).toBe('succeeded');
    expect(second.counts).toMatchObject({ filesSeen: 3, filesLoaded: 0, filesSkipped: 3 });
    expect(requests).toHaveLength(3);
    expect(requests.every((r) => r.ifNoneMatch !== undefined)).toBe(true);
  });

  it('fails the run naming the URL and the 404 when FRED has no such series', async () => {
    const db = await useDatabase(kind);
    const { logger } = memoryLogger();
    const fetch = createFetcher(httpSchema.parse({ user_agent: USER_AGENT, cache_dir: makeInbox(), max_attempts: 1 }), logger);
    const run = await runPipeline(
      { handle: db.handle, logger, shared: bundledShared(), fetch },
      pipeline,
      liveConfig({ NOSUCHSERIES: { unit: 'percent' } }),
      { trigger: 'manual' },
    );
    expect(run.status).toBe('failed');
    expect(run.error).toContain(`${base}/graph/fredgraph.csv?id=NOSUCHSERIES`);
    expect(run.error).toMatch(/404/);
  });
});

describeEachDatabase('fred from the FRED API with a key (FRED_API_KEY)', (kind) => {
  /** The http settings the config loader gives, with the key from the environment and the API's host pointed here. */
  function http(env: Record<string, string>) {
    const host = new URL(base).host;
    return resolveConfig(
      join(PACKAGE_ROOT, 'config', 'test.yaml'),
      { http: { user_agent: USER_AGENT, cache_dir: makeInbox(), max_attempts: 1, query_secrets: [{ host, param: 'api_key', env: 'FRED_API_KEY' }] } },
      env,
      REGISTRY,
    ).http;
  }

  function apiConfig(): ResolvedPipelineConfig {
    return { ...liveConfig({ SP500: { unit: 'index' } }), sources: [{ kind: 'url', url: `${base}/fred/series/observations?series_id={series}&file_type=json` }] };
  }

  it('reads the JSON observations of each series with the key added to the request, and keeps the key out of the ledger and the log', async () => {
    const db = await useDatabase(kind);
    const { logger, lines } = memoryLogger();
    const fetch = createFetcher(http({ FRED_API_KEY: API_KEY }), logger);
    requests.length = 0;
    const run = await runPipeline({ handle: db.handle, logger, shared: bundledShared(), fetch }, pipeline, apiConfig(), { trigger: 'manual' });
    expect(run.status, run.error).toBe('succeeded');
    expect(requests.map((r) => new URL(r.url, base).searchParams.get('api_key'))).toEqual([API_KEY, API_KEY, API_KEY]);

    const counts = await rows<{ series_id: string; n: number }>(db.handle, 'select series_id, count(*)::int as n from core.fred_observations group by 1 order by 1');
    expect(counts).toEqual(['GDP', 'NCBEILQ027S', 'SP500'].map((id) => ({ series_id: id, n: observationsIn(id) })));
    const [gdp] = await rows<{ value: number }>(db.handle, `select value::float8 as value from core.fred_observations where series_id = 'GDP' and observation_date = '1947-01-01'`);
    expect(gdp).toEqual({ value: 243.164 });

    const ledger = JSON.stringify(await rows(db.handle, 'select * from etl.source_files'));
    expect(ledger).toContain('/fred/series/observations?series_id=GDP&file_type=json');
    expect(ledger).not.toContain(API_KEY);
    expect(JSON.stringify(lines)).not.toContain(API_KEY);
  });

  it('fails naming the URL and FRED\'s 400 when the key is refused, without showing the key', async () => {
    const db = await useDatabase(kind);
    const { logger, lines } = memoryLogger();
    const wrong = 'ffffffffffffffffffffffffffffffff';
    const run = await runPipeline({ handle: db.handle, logger, shared: bundledShared(), fetch: createFetcher(http({ FRED_API_KEY: wrong }), logger) }, pipeline, apiConfig(), {
      trigger: 'manual',
    });
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/400/);
    expect(run.error).toContain('/fred/series/observations?series_id=');
    expect(run.error).not.toContain(wrong);
    expect(JSON.stringify(lines)).not.toContain(wrong);
    const stored = JSON.stringify(await rows(db.handle, 'select * from etl.runs'));
    expect(stored).not.toContain(wrong);
  });
});

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fred } from '../../pipelines/fred/pipeline.js';
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

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', userAgent: req.headers['user-agent'], ifNoneMatch: req.headers['if-none-match'] as string | undefined });
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
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

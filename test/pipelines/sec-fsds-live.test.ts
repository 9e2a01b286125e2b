import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { REGISTRY } from '../../pipelines/registry.js';
import { secFsds } from '../../pipelines/sec-fsds/pipeline.js';
import { planBackfill, runBackfill } from '../../src/backfill/backfill.js';
import { collectStatus } from '../../src/app/status.js';
import { loadConfig, type ResolvedPipelineConfig } from '../../src/config/load.js';
import { httpSchema } from '../../src/config/schema.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { runPipeline, type RunSummary } from '../../src/engine/run-pipeline.js';
import { createFetcher } from '../../src/http/fetcher.js';
import { DEFAULT_CONFIG_FILE, PACKAGE_ROOT } from '../../src/paths.js';
import { makeZip } from '../fixtures/sec/fsds/make-zip.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { cliInProcess as cli } from '../helpers/cli.js';
import { inboxConfig, makeInbox, memoryLogger, rows, writeFile } from '../helpers/pipelines.js';

/**
 * sec-fsds from its publisher's URL template (issue 16 item 3): a local server stands in for
 * www.sec.gov, serving real-layout FSDS zips (Microsoft's filed figures, test/fixtures/sec/fsds)
 * at /files/dera/data/financial-statement-data-sets/<yyyy>q<q>.zip and, as the SEC does for a
 * quarter it has not published yet, 404 with an HTML page.
 */

const fsds = secFsds as unknown as AnyPipeline;
const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures', 'sec', 'fsds');
const APP = loadConfig({ registry: REGISTRY, file: DEFAULT_CONFIG_FILE, env: {} });
const SHARED: Readonly<Record<string, unknown>> = { ...APP.shared, archives: APP.archives };
const PATH = '/files/dera/data/financial-statement-data-sets/';

function zipOf(set: 'legacy' | 'layout-2025'): Buffer {
  return makeZip(['sub.txt', 'num.txt'].map((name) => ({ name, data: readFileSync(join(FIXTURES, set, name), 'utf8'), method: 'deflate' as const })));
}

/** A data set of a quarter with no filing of the configured companies: the 2025 layout's headers alone. */
function emptySet(): Buffer {
  return makeZip(['sub.txt', 'num.txt'].map((name) => ({ name, data: readFileSync(join(FIXTURES, 'layout-2025', name), 'utf8').split('\n')[0] + '\n', method: 'deflate' as const })));
}

interface SecServer {
  base: string;
  /** Published zips by file name (2025q1.zip); anything else answers 404. */
  readonly published: Map<string, Buffer>;
  /** Answer 403 with the SEC's page for undeclared automated tools (a client it refuses). */
  refuse: boolean;
  readonly requests: { path: string; userAgent: string | undefined; ifNoneMatch: string | undefined; status: number }[];
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function startSec(): Promise<SecServer> {
  const published = new Map<string, Buffer>();
  const requests: SecServer['requests'] = [];
  const sec: SecServer = { base: '', published, refuse: false, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const name = path.startsWith(PATH) ? path.slice(PATH.length) : '';
    const body = published.get(name);
    const etag = body ? `"${name}-${body.length}"` : undefined;
    let status: number;
    if (sec.refuse) {
      status = 403;
      res.writeHead(403, { 'content-type': 'text/html' }).end('<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head><body><h1>Your Request Originates from an Undeclared Automated Tool</h1></body></html>');
    } else if (!body) {
      status = 404;
      res.writeHead(404, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><head><title>Page Not Found | SEC.gov</title></head><body><h1>Page Not Found</h1></body></html>');
    } else if (req.headers['if-none-match'] === etag) {
      status = 304;
      res.writeHead(304, { etag }).end();
    } else {
      status = 200;
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': body.length, etag }).end(body);
    }
    requests.push({ path, userAgent: req.headers['user-agent'], ifNoneMatch: req.headers['if-none-match'] as string | undefined, status });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sec.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return sec;
}

function liveConfig(sec: SecServer): ResolvedPipelineConfig {
  return { ...inboxConfig(fsds, makeInbox()), sources: [{ kind: 'url', url: `${sec.base}${PATH}{yyyy}q{q}.zip` }] };
}

/** The download cache of the test: one per test, so ticks after the first ask conditionally. */
let cacheDir = '';
beforeEach(() => {
  cacheDir = makeInbox();
});

function context(handle: DatabaseHandle) {
  const http = httpSchema.parse({ user_agent: 'bubblewatch-test/0.1 (tests@example.com)', cache_dir: cacheDir, backoff_base_ms: 1, max_attempts: 2 });
  return { handle, logger: memoryLogger().logger, shared: SHARED, fetch: createFetcher(http, memoryLogger().logger) };
}

async function runQuarter(handle: DatabaseHandle, config: ResolvedPipelineConfig, partitionKey?: string): Promise<RunSummary> {
  return runPipeline(context(handle), fsds, config, { trigger: 'schedule', ...(partitionKey ? { partitionKey } : {}) });
}

/** The quarter a scheduled tick fetches now: the last complete one. */
function tickQuarter(now = new Date()): string {
  return fsds.partitions!.current!(now)!;
}

function zipName(key: string): string {
  return `${key.slice(0, 4)}q${key.slice(5)}.zip`;
}

describeEachDatabase('sec-fsds from the SEC URL template', (kind) => {
  it('records an unpublished quarter (404) as not yet available, the run succeeds, and the next tick loads the zip once it appears', async () => {
    const db = await useDatabase(kind);
    const sec = await startSec();
    const config = liveConfig(sec);
    const quarter = tickQuarter();

    const first = await runQuarter(db.handle, config);
    expect(first.error).toBeUndefined();
    expect(first.status).toBe('succeeded');
    expect(first.files).toHaveLength(1);
    expect(first.files[0]).toMatchObject({ action: 'not_available' });
    expect(first.counts).toMatchObject({ filesSeen: 0, filesLoaded: 0, filesFailed: 0 });
    const [file] = await rows<{ action: string; uri: string; message: string }>(db.handle, `select action, uri, message from etl.run_files where run_id = ${first.runId}`);
    expect(file).toMatchObject({ action: 'not_available', uri: `${sec.base}${PATH}${zipName(quarter)}` });
    expect(file!.message).toMatch(/HTTP 404.*not yet available.*next run/);
    const [partition] = await rows(db.handle, `select partition_key, status from etl.partitions where pipeline = 'sec-fsds'`);
    expect(partition).toEqual({ partition_key: quarter, status: 'not_available' });
    const status = (await collectStatus({ config: APP, registry: REGISTRY.pipelines }, db.handle)).find((s) => s.pipeline === 'sec-fsds')!;
    expect(status.failures_in_a_row).toBe(0);
    expect(status.not_available).toEqual([{ partition: quarter, uri: `${sec.base}${PATH}${zipName(quarter)}`, run_id: first.runId }]);
    expect(status.flags.join('; ')).toContain(`${quarter} not yet available from the publisher`);
    // Polite: the request named a contact.
    expect(sec.requests.map((r) => [r.path, r.userAgent, r.status])).toEqual([[`${PATH}${zipName(quarter)}`, 'bubblewatch-test/0.1 (tests@example.com)', 404]]);

    // The SEC publishes the quarter: the next tick loads it, and status no longer lists it.
    sec.published.set(zipName(quarter), zipOf('layout-2025'));
    const second = await runQuarter(db.handle, config);
    expect(second.status).toBe('succeeded');
    expect(second.counts).toMatchObject({ filesSeen: 1, filesLoaded: 1, rowsLoaded: 39 });
    const [after] = await rows(db.handle, `select partition_key, status from etl.partitions where pipeline = 'sec-fsds'`);
    expect(after).toEqual({ partition_key: quarter, status: 'succeeded' });
    const later = (await collectStatus({ config: APP, registry: REGISTRY.pipelines }, db.handle)).find((s) => s.pipeline === 'sec-fsds')!;
    expect(later.not_available).toEqual([]);

    // And the tick after that asks conditionally and loads nothing new.
    const third = await runQuarter(db.handle, config);
    expect(third.counts).toMatchObject({ filesSeen: 1, filesLoaded: 0, filesSkipped: 1 });
    expect(sec.requests.at(-1)).toMatchObject({ status: 304, ifNoneMatch: `"${zipName(quarter)}-${sec.published.get(zipName(quarter))!.length}"` });
  });

  it('fails a 404 for a quarter long past, whose data set the SEC has published for years: the URL is wrong, not early', async () => {
    const db = await useDatabase(kind);
    const sec = await startSec();
    const summary = await runQuarter(db.handle, liveConfig(sec), '2010Q1');
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/2010q1\.zip.*HTTP 404.*2010Q1 is before .* the latest quarter the publisher should have/);
    const [partition] = await rows(db.handle, `select status from etl.partitions where pipeline = 'sec-fsds'`);
    expect(partition).toEqual({ status: 'failed' });
  });

  it('fails on a 403 (the SEC refusing the client: no contact in the User-Agent, or too many requests), which a person must fix', async () => {
    const db = await useDatabase(kind);
    const sec = await startSec();
    sec.refuse = true;
    const summary = await runQuarter(db.handle, liveConfig(sec), tickQuarter());
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/HTTP 403 Forbidden, body "SEC.gov \| Request Rate Threshold Exceeded Your Request Originates from an Undeclared Automated Tool"; expected 200 OK/);
    const [partition] = await rows(db.handle, `select status from etl.partitions where pipeline = 'sec-fsds'`);
    expect(partition).toEqual({ status: 'failed' });
  });

  it('backfills from 2009-01-01 over every published quarter; the unpublished ones are not yet available and the backfill completes', async () => {
    const db = await useDatabase(kind);
    const sec = await startSec();
    const config = liveConfig(sec);
    const latest = tickQuarter();
    const keys: string[] = [];
    for (let y = 2009; `${y}Q1` <= latest; y++) for (let q = 1; q <= 4; q++) if (`${y}Q${q}` < latest) keys.push(`${y}Q${q}`);
    // Every quarter before the latest complete one is published (two carry real data, the others an
    // empty data set in the same layout); the latest complete one and the current one are not yet.
    const empty = emptySet();
    for (const key of keys) sec.published.set(zipName(key), empty);
    sec.published.set('2025q1.zip', zipOf('legacy'));
    sec.published.set('2026q1.zip', zipOf('layout-2025'));

    const ctx = context(db.handle);
    const current = new Date().toISOString().slice(0, 4) + 'Q' + (Math.floor(new Date().getUTCMonth() / 3) + 1);
    const { plan, inputs } = await planBackfill(ctx, fsds, config, { from: '2009Q1', to: current, only: 'missing' });
    expect(plan.partitions.filter((p) => p.action === 'run')).toHaveLength(keys.length + 2);
    const result = await runBackfill(ctx, fsds, config, plan, inputs, { concurrency: 1, retry: { maxAttempts: 1, baseMs: 1, maxMs: 1 } });
    expect(result.failures).toEqual([]);
    expect(result.succeeded).toBe(keys.length + 2);
    const statuses = await rows<{ partition_key: string; status: string }>(db.handle, `select partition_key, status from etl.partitions where pipeline = 'sec-fsds' and status <> 'succeeded' order by 1`);
    expect(statuses).toEqual([
      { partition_key: latest, status: 'not_available' },
      { partition_key: current, status: 'not_available' },
    ]);
    const [{ n }] = (await rows<{ n: number }>(db.handle, `select count(*)::int as n from raw.company_facts`)) as [{ n: number }];
    expect(n).toBe(78);

    // A second backfill asks again only for the quarters not yet available.
    sec.published.set(zipName(latest), empty);
    const again = await planBackfill(ctx, fsds, config, { from: '2009Q1', to: current, only: 'missing' });
    expect(again.plan.partitions.filter((p) => p.action === 'run').map((p) => p.key)).toEqual([latest, current]);
    const second = await runBackfill(ctx, fsds, config, again.plan, again.inputs, { concurrency: 1, retry: { maxAttempts: 1, baseMs: 1, maxMs: 1 } });
    expect(second.failures).toEqual([]);
    const [l] = await rows(db.handle, `select status from etl.partitions where pipeline = 'sec-fsds' and partition_key = '${latest}'`);
    expect(l).toEqual({ status: 'succeeded' });
  });

  it('shows the unpublished quarter in status, runs <id> and backfill from the command line, which exit 0', async () => {
    const db = await useDatabase(kind);
    await db.close();
    const sec = await startSec();
    const quarter = tickQuarter();
    // The quarters before the latest complete one are out; the latest complete one and the current one are not.
    for (let k = '2026Q1'; k < quarter; k = `2026Q${Number(k.slice(5)) + 1}`) sec.published.set(zipName(k), emptySet());
    sec.published.set('2026q1.zip', zipOf('layout-2025'));
    const config = writeFile(
      makeInbox(),
      'bubblewatch.yaml',
      `http:
  user_agent: "bubblewatch-test/0.1 (tests@example.com)"
  cache_dir: ${cacheDir}
pipelines:
  sec-fsds:
    enabled: true
    sources:
      - url: ${sec.base}${PATH}{yyyy}q{q}.zip
`,
    );
    const run = await cli(['--config', config, 'run', 'sec-fsds', '--no-preview'], db.env);
    expect(run.stderr).toContain('succeeded in');
    expect(run.stderr).toContain('1 not yet available');
    expect(run.stderr).not.toMatch(/"level":(40|50)/);
    expect(run.code).toBe(0);
    const status = await cli(['--config', config, 'status'], db.env);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`sec-fsds: not yet available from the publisher (not a failure; asked again on the next run):\n  ${quarter}: ${sec.base}${PATH}${zipName(quarter)} (run 1)`);
    const json = JSON.parse((await cli(['--config', config, 'status', '--json'], db.env)).stdout) as { pipelines: { pipeline: string; not_available: unknown[]; failures_in_a_row: number }[] };
    expect(json.pipelines.find((p) => p.pipeline === 'sec-fsds')).toMatchObject({ failures_in_a_row: 0, not_available: [{ partition: quarter, run_id: 1 }] });
    const detail = await cli(['--config', config, 'runs', '1'], db.env);
    expect(detail.stdout).toMatch(/run 1: sec-fsds, manual, succeeded/);
    expect(detail.stdout).toMatch(new RegExp(`not_available +${sec.base.replace(/[.]/g, '\\.')}`));

    // From a date to today: 2026Q1 loads, the quarters after it up to the latest complete one are
    // empty data sets, and the unpublished ones are listed as not yet available.
    const backfill = await cli(['--config', config, 'backfill', 'sec-fsds', '--from', '2026-01-01'], db.env);
    expect(backfill.code).toBe(0);
    expect(backfill.stdout).toMatch(/\d+ succeeded, 0 failed/);
    // 2026q1.zip's 46 rows are read (this config names no companies, so none is kept).
    expect(backfill.stdout).toMatch(/4 succeeded, 0 failed, 0 interrupted, 0 skipped; rows read 46,/);
    expect(backfill.stdout).toContain(`not yet available from the publisher (not failures; asked again by the next run or backfill): ${quarter}, 2026Q4`);
  });
});

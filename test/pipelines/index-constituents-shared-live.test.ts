import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Papa from 'papaparse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexConstituents } from '../../pipelines/index-constituents/pipeline.js';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import { httpSchema, scheduleSchema } from '../../src/config/schema.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { createFetcher } from '../../src/http/fetcher.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { bundledShared, inboxConfig, makeInbox, memoryLogger, rows, runOnce } from '../helpers/pipelines.js';

/**
 * The whole public route for membership and caps, on the real files in ../shared/data/sp500
 * (when present beside the checkout): the datahub membership list (503 rows,
 * datasets/s-and-p-500-companies 56509dd) and the datahub financials snapshot of 2026-08-22,
 * served by a local server at the paths the publishers use. The financials repository's
 * current file, data/constituents-financials.csv, has no date in its name or rows, so it is
 * dated by its fetch; its figures must equal those of the same bytes read from a folder under
 * their dated name, and a top-10 share worked out here from the CSVs.
 */

const pipeline = indexConstituents as unknown as AnyPipeline;
const SHARED = join(PACKAGE_ROOT, '..', 'shared', 'data', 'sp500');
const MEMBERS = join(SHARED, 'constituents.csv');
const SNAPSHOT = join(SHARED, 'snapshots', 'constituents-financials_2026-08-22.csv');
const USER_AGENT = 'bubblewatch-tests/0.1 (tests@example.com)';

const MEMBERS_PATH = '/datasets/s-and-p-500-companies/main/data/constituents.csv';
const LATEST_PATH = '/datasets/s-and-p-500-companies-financials/main/data/constituents-financials.csv';

const key = (t: string): string => t.trim().toUpperCase().replace(/[-/ ]/g, '.');

/** Top-10 share by hand: each issuer (by CIK; a ticker outside the list is its own issuer) once, at its largest class cap. */
function top10Share(members: string, snapshot: string): { issuers: number; share: number } {
  const cik = new Map<string, string>();
  for (const r of Papa.parse<Record<string, string>>(members, { header: true, skipEmptyLines: true }).data) cik.set(key(r.Symbol!), r.CIK!.replace(/^0+/, ''));
  const byIssuer = new Map<string, number>();
  for (const r of Papa.parse<Record<string, string>>(snapshot, { header: true, skipEmptyLines: true }).data) {
    const cap = Number(r['Market Cap']);
    if (r['Market Cap']!.trim() === '' || !(cap > 0)) continue;
    const issuer = cik.get(key(r.Symbol!)) ?? key(r.Symbol!);
    byIssuer.set(issuer, Math.max(byIssuer.get(issuer) ?? 0, cap));
  }
  const caps = [...byIssuer.values()].sort((a, b) => b - a);
  const total = caps.reduce((s, c) => s + c, 0);
  return { issuers: caps.length, share: caps.slice(0, 10).reduce((s, c) => s + c, 0) / total };
}

if (!existsSync(MEMBERS) || !existsSync(SNAPSHOT)) {
  describe.skip(`index-constituents on the shared datahub files [SKIPPED: ${SHARED} does not hold constituents.csv and snapshots/constituents-financials_2026-08-22.csv]`, () => {
    it('needs ../shared/data/sp500', () => {});
  });
} else {
  const bodies: Record<string, Buffer> = { [MEMBERS_PATH]: readFileSync(MEMBERS), [LATEST_PATH]: readFileSync(SNAPSHOT) };
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const body = bodies[req.url ?? ''];
      if (!body) res.writeHead(404, { 'content-type': 'text/plain' }).end('404: Not Found');
      else res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  describeEachDatabase('index-constituents on the shared datahub files', (kind) => {
    it('loads the 503-member list and the undated latest snapshot from URLs, with the figures of the same snapshot read under its dated name', async () => {
      const db = await useDatabase(kind);
      const { logger } = memoryLogger();
      const fetch = createFetcher(httpSchema.parse({ user_agent: USER_AGENT, cache_dir: makeInbox() }), logger);
      const options = { layout: 'sp500-financials', files: [{ match: 'constituents-financials.csv', as_of_from: 'fetch_time' }], fetch_time_zone: 'UTC' };
      const live: ResolvedPipelineConfig = {
        name: pipeline.name,
        configured: true,
        enabled: true,
        schedule: scheduleSchema.parse(pipeline.defaults.schedule),
        sources: [{ kind: 'url', url: `${base}${MEMBERS_PATH}` }, { kind: 'url', url: `${base}${LATEST_PATH}` }],
        baseDir: PACKAGE_ROOT,
        options,
      };
      const run = await runPipeline({ handle: db.handle, logger, shared: bundledShared(), fetch }, pipeline, live, { trigger: 'manual' });
      expect(run.status, run.error).toBe('succeeded');
      expect(run.counts).toMatchObject({ filesLoaded: 2, rowsRead: 1006, rowsLoaded: 1006, rowsRejected: 0 });

      // The same snapshot from a folder, dated by its name.
      const inbox = makeInbox();
      copyFileSync(SNAPSHOT, join(inbox, 'constituents-financials_2026-08-22.csv'));
      const folder = await runOnce(db.handle, pipeline, { ...inboxConfig(pipeline, inbox), options: { layout: 'sp500-financials' } });
      expect(folder.status, folder.error).toBe('succeeded');

      const figures = await rows<{ as_of: string; issuers_with_cap: number; total_market_cap: string; top10_share: number; hhi: number }>(
        db.handle,
        `select as_of::text as as_of, issuers_with_cap::int as issuers_with_cap, total_market_cap::text as total_market_cap,
                top10_share::float8 as top10_share, hhi::float8 as hhi
         from analytics.index_concentration order by as_of`,
      );
      expect(figures).toHaveLength(2);
      const [dated, fetched] = figures.map(({ as_of: _, ...rest }) => rest);
      expect(figures[0]!.as_of).toBe('2026-08-22');
      expect(figures[1]!.as_of > '2026-08-22').toBe(true);
      expect(fetched).toEqual(dated);

      const byHand = top10Share(readFileSync(MEMBERS, 'utf8'), readFileSync(SNAPSHOT, 'utf8'));
      expect(dated!.issuers_with_cap).toBe(byHand.issuers);
      expect(dated!.top10_share).toBeCloseTo(byHand.share, 12);
    });
  });
}

import { join } from 'node:path';
import { expect, it } from 'vitest';
import { REGISTRY } from '../../pipelines/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { discoverFiles } from '../../src/engine/discover.js';
import { ConfigError } from '../../src/errors.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { makeInbox, writeFile } from '../helpers/pipelines.js';

/**
 * config/live.yaml, the configuration that pulls every source from its publisher: it loads
 * with nothing but the SEC contact from the environment, every URL template expands to the
 * publisher's addresses (per company, per FRED series, for the current quarter), and it shares
 * companies, metrics and alert rules with the sample configuration, so the two cannot drift.
 */

const LIVE = join(PACKAGE_ROOT, 'config', 'live.yaml');
const SAMPLE = join(PACKAGE_ROOT, 'config', 'bubblewatch.yaml');
const ENV = { BUBBLEWATCH_USER_AGENT: 'bubblewatch-tests/0.1 (tests@example.com)' };

/** The URLs a run of the pipeline would fetch at `now`, with a fetcher that only records them. */
async function urlsOf(name: string, now: Date): Promise<string[]> {
  const config = loadConfig({ file: LIVE, registry: REGISTRY, env: ENV });
  const definition = REGISTRY.pipelines.find((p) => p.name === name)!;
  const resolved = config.pipelines.get(name)!;
  const empty = writeFile(makeInbox(), 'empty', '');
  const urls: string[] = [];
  await discoverFiles({
    sources: resolved.sources.filter((s) => s.kind === 'url'),
    baseDir: resolved.baseDir,
    spec: definition.source,
    runtime: { pipeline: name, options: resolved.options, shared: config.shared },
    partitions: definition.partitions,
    now,
    fetch: async (url) => {
      urls.push(url);
      return { path: empty, status: 'downloaded' as const };
    },
  });
  return urls;
}

it('loads with the SEC contact from the environment, every pipeline resolved and the live ones enabled', () => {
  const config = loadConfig({ file: LIVE, registry: REGISTRY, env: ENV });
  expect(config.http.user_agent).toBe(ENV.BUBBLEWATCH_USER_AGENT);
  expect([...config.pipelines.values()].filter((p) => !p.configured).map((p) => p.name)).toEqual([]);
  const enabled = [...config.pipelines.values()].filter((p) => p.enabled).map((p) => p.name).sort();
  expect(enabled).toEqual(['company-metrics', 'custom-series', 'fred', 'sec-companyfacts', 'sec-fsds', 'shiller']);
  // Publishers for the scheduled sources; the analysts' inboxes are the only local folders.
  const sources = Object.fromEntries([...config.pipelines].map(([name, p]) => [name, p.sources.map((s) => (s.kind === 'url' ? s.url : s.path))]));
  expect(sources['sec-companyfacts']).toEqual(['https://data.sec.gov/api/xbrl/companyfacts/CIK{cik10}.json']);
  expect(sources['sec-fsds']).toEqual(['https://www.sec.gov/files/dera/data/financial-statement-data-sets/{yyyy}q{q}.zip']);
  expect(sources.fred).toEqual(['https://fred.stlouisfed.org/graph/fredgraph.csv?id={series}']);
  expect(sources.shiller).toEqual(['https://shillerdata.com/']);
  expect(config.pipelines.get('shiller')!.options).toMatchObject({ workbook_link: 'ie_data\\.xls' });
  expect(sources['custom-series']).toEqual([join(PACKAGE_ROOT, 'inbox', 'custom-series', '*.csv')]);
  expect(sources['company-metrics']).toEqual([join(PACKAGE_ROOT, 'inbox', 'company-metrics', '*.csv')]);
  // Never the bundled sample, not even in its embedded database.
  for (const [name, list] of Object.entries(sources)) for (const s of list) expect(s, name).not.toContain('data/sample');
  expect(config.embeddedDir).not.toBe(loadConfig({ file: SAMPLE, registry: REGISTRY, env: {} }).embeddedDir);
});

it('refuses to load without a SEC contact, naming the variable that gives one', () => {
  expect(() => loadConfig({ file: LIVE, registry: REGISTRY, env: {} })).toThrow(ConfigError);
  expect(() => loadConfig({ file: LIVE, registry: REGISTRY, env: {} })).toThrow(/BUBBLEWATCH_USER_AGENT/);
});

it('expands companyfacts per enabled company, FRED per series and the FSDS zip for the last complete quarter', async () => {
  expect((await urlsOf('sec-companyfacts', new Date('2026-12-03T12:00:00Z'))).sort()).toEqual(
    ['0000789019', '0001018724', '0001326801', '0001341439', '0001652044'].map((cik) => `https://data.sec.gov/api/xbrl/companyfacts/CIK${cik}.json`),
  );
  expect((await urlsOf('fred', new Date('2026-12-03T12:00:00Z'))).sort()).toEqual([
    'https://fred.stlouisfed.org/graph/fredgraph.csv?id=GDP',
    'https://fred.stlouisfed.org/graph/fredgraph.csv?id=NCBEILQ027S',
  ]);
  expect(await urlsOf('sec-fsds', new Date('2026-12-03T12:00:00Z'))).toEqual(['https://www.sec.gov/files/dera/data/financial-statement-data-sets/2026q3.zip']);
  expect(await urlsOf('sec-fsds', new Date('2027-02-10T12:00:00Z'))).toEqual(['https://www.sec.gov/files/dera/data/financial-statement-data-sets/2026q4.zip']);
  // And for today, whatever today is: the quarter before the current one.
  const now = new Date();
  const q = Math.floor(now.getUTCMonth() / 3);
  const [year, quarter] = q === 0 ? [now.getUTCFullYear() - 1, 4] : [now.getUTCFullYear(), q];
  expect(await urlsOf('sec-fsds', now)).toEqual([`https://www.sec.gov/files/dera/data/financial-statement-data-sets/${year}q${quarter}.zip`]);
});

it('keeps the sample configuration\'s companies, metrics and alert rules', () => {
  const live = loadConfig({ file: LIVE, registry: REGISTRY, env: ENV });
  const sample = loadConfig({ file: SAMPLE, registry: REGISTRY, env: {} });
  expect(live.shared).toEqual(sample.shared);
  expect(live.alerts).toEqual(sample.alerts);
  for (const [name, p] of sample.pipelines) expect(live.pipelines.get(name)!.schedule, name).toEqual(p.schedule);
});

import { expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load.js';
import { ConfigError, redactSecrets } from '../../src/errors.js';
import { REGISTRY } from '../../pipelines/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { DEFAULT_CONFIG_FILE, PACKAGE_ROOT } from '../../src/paths.js';
import { join } from 'node:path';
import { makeInbox, writeFile } from '../helpers/pipelines.js';

const FILE = '/etc/bubblewatch/test.yaml';

function problems(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    resolveConfig(FILE, raw, env, REGISTRY);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  return [];
}

it('loads the bundled config with sources resolved against its folder', () => {
  const config = loadConfig({ registry: REGISTRY, env: {} });
  expect(config.file).toBe(DEFAULT_CONFIG_FILE);
  expect(config.databaseUrl).toBeUndefined();
  expect(config.embeddedDir).toBe(join(PACKAGE_ROOT, '.bubblewatch', 'db'));
  const custom = config.pipelines.get('custom-series')!;
  expect(custom).toMatchObject({ enabled: true, schedule: { cron: '15 6 * * *', timezone: 'UTC' } });
  expect(custom.sources).toEqual([{ kind: 'path', path: join(PACKAGE_ROOT, 'data', 'sample', 'custom-series'), pattern: '*.csv' }]);
});

it('reports every problem as path: message', () => {
  expect(
    problems({
      log: { level: 'loud' },
      pipelines: {
        'custom-series': { schedule: { cron: '61 * * * *', timezone: 'Mars/Olympus' }, sources: [{ path: 'x' }] },
      },
      extra: 1,
    }),
  ).toEqual([
    'log.level: Invalid option: expected one of "trace"|"debug"|"info"|"warn"|"error"|"fatal"|"silent"',
    expect.stringMatching(/^pipelines\.custom-series\.schedule\.cron: invalid cron expression "61 \* \* \* \*" \(minute: .+\); expected five or six fields such as "30 6 \* \* \*"$/),
    'pipelines.custom-series.schedule.timezone: unknown time zone "Mars/Olympus"; expected an IANA name such as "UTC" or "America/New_York"',
    '(top level): unknown key "extra"',
  ]);
});

it('names unknown pipelines and enabled pipelines without sources', () => {
  expect(problems({ pipelines: { 'custom-seriess': { sources: [{ path: 'x' }] }, 'custom-series': { enabled: true } } })).toEqual([
    `pipelines.custom-seriess: no such pipeline (known: ${REGISTRY.pipelines.map((p) => p.name).join(', ')})`,
    'pipelines.custom-series.sources: required for an enabled pipeline (a file, folder, glob or URL)',
  ]);
});

it('keeps secrets out of the file', () => {
  expect(problems({ database: { url: 'postgres://u:p@h/db' } })).toEqual([
    'database: unknown key "url" (secrets and connection strings come only from the environment, e.g. DATABASE_URL)',
  ]);
  expect(problems({}, { DATABASE_URL: 'mysql://x' })).toEqual(['DATABASE_URL (environment): expected a postgres:// or postgresql:// connection string']);
});

it('lets the environment choose the database, log level and embedded folder', () => {
  const config = resolveConfig(FILE, {}, { DATABASE_URL: 'postgres://a@b/c', LOG_LEVEL: 'debug', BUBBLEWATCH_EMBEDDED_DIR: '/tmp/x' }, REGISTRY);
  expect(config).toMatchObject({ databaseUrl: 'postgres://a@b/c', embeddedDir: '/tmp/x', log: { level: 'debug', format: 'auto' } });
  expect(config.pipelines.get('custom-series')).toMatchObject({ configured: false, enabled: false });
});

it('reports YAML syntax errors with line and column', () => {
  const path = writeFile(makeInbox(), 'bad.yaml', 'log:\n  level: info\n   format: json\n');
  expect(() => loadConfig({ file: path, registry: REGISTRY })).toThrow(/bad\.yaml: not valid YAML\n  - line 2, column 10: Nested mappings are not allowed in compact mappings\n/);
});

it('redacts passwords in connection strings', () => {
  expect(redactSecrets('cannot reach postgres://analyst:s3cr3t@db.example:5432/warehouse?sslmode=require')).toBe(
    'cannot reach postgres://analyst:***@db.example:5432/warehouse?sslmode=require',
  );
  expect(redactSecrets('host=db password=s3cr3t user=x')).toBe('host=db password=*** user=x');
  expect(redactSecrets('postgres://analyst@db/warehouse')).toBe('postgres://analyst@db/warehouse');
});

it('takes the SEC contact and per-pipeline cron expressions from the environment, over the file', () => {
  const raw = {
    http: { user_agent: 'from-file (file@example.com)' },
    pipelines: { fred: { schedule: { cron: '0 8 * * *', timezone: 'America/New_York' }, sources: [{ url: 'https://fred.stlouisfed.org/graph/fredgraph.csv?id={series}' }] } },
  };
  const config = resolveConfig(FILE, raw, { BUBBLEWATCH_USER_AGENT: 'ops (ops@example.com)', BUBBLEWATCH_SCHEDULE_FRED: '30 9 * * 1-5', BUBBLEWATCH_SCHEDULE_SEC_COMPANYFACTS: '0 6 * * *' }, REGISTRY);
  expect(config.http.user_agent).toBe('ops (ops@example.com)');
  expect(config.pipelines.get('fred')!.schedule).toMatchObject({ cron: '30 9 * * 1-5', timezone: 'America/New_York' });
  expect(config.pipelines.get('sec-companyfacts')!.schedule.cron).toBe('0 6 * * *');
  // Without the variables the file's values stand.
  const plain = resolveConfig(FILE, raw, {}, REGISTRY);
  expect(plain.http.user_agent).toBe('from-file (file@example.com)');
  expect(plain.pipelines.get('fred')!.schedule.cron).toBe('0 8 * * *');
});

it('lets BUBBLEWATCH_USER_AGENT stand in for http.user_agent when a source is a URL', () => {
  const raw = { pipelines: { fred: { sources: [{ url: 'https://fred.stlouisfed.org/graph/fredgraph.csv?id={series}' }] } } };
  expect(problems(raw)).toEqual([
    'http.user_agent: required when a source is a URL (or set BUBBLEWATCH_USER_AGENT in the environment); the SEC refuses requests without a contact, e.g. "bubblewatch/0.1 (you@example.com)"',
  ]);
  expect(problems(raw, { BUBBLEWATCH_USER_AGENT: '  ' })).toHaveLength(1);
  expect(problems(raw, { BUBBLEWATCH_USER_AGENT: 'ops (ops@example.com)' })).toEqual([]);
});

it('reports a schedule variable naming no pipeline, or holding a bad cron expression, by its name', () => {
  const found = problems({}, { BUBBLEWATCH_SCHEDULE_FREDD: '0 8 * * *', BUBBLEWATCH_SCHEDULE_SHILLER: '0 25 * * *' });
  expect(found).toHaveLength(2);
  expect(found[0]).toMatch(/^BUBBLEWATCH_SCHEDULE_FREDD \(environment\): no such pipeline; expected one of .*BUBBLEWATCH_SCHEDULE_FRED\b/);
  expect(found[1]).toMatch(/^BUBBLEWATCH_SCHEDULE_SHILLER \(environment\): invalid cron expression "0 25 \* \* \*"/);
});

it('accepts partition placeholders where the pipeline has partitions, and names any placeholder no one fills', () => {
  const ua = { http: { user_agent: 'tests (tests@example.com)' } };
  const fsds = 'https://www.sec.gov/files/dera/data/financial-statement-data-sets/{yyyy}q{q}.zip';
  expect(problems({ ...ua, pipelines: { 'sec-fsds': { sources: [{ url: fsds }] } } })).toEqual([]);
  expect(problems({ ...ua, pipelines: { 'sec-fsds': { sources: [{ url: `${fsds}?cik={cik10}` }] } } })).toEqual([
    'pipelines.sec-fsds.sources.0.url: pipeline sec-fsds does not expand {cik10}; expected only partition placeholders ({yyyy}, {q}, {mm}, {dd}, {partition})',
  ]);
  expect(problems({ ...ua, pipelines: { shiller: { sources: [{ url: 'https://example.com/{yyyy}/ie_data.xls' }] } } })).toEqual([
    'pipelines.shiller.sources.0.url: pipeline shiller does not expand {yyyy}; expected a URL without placeholders',
  ]);
});

it('knows the FRED API key from the environment as a secret: resolved for the fetcher, masked in any message', () => {
  const key = 'f00dfeed0123456789abcdef01234567';
  const config = resolveConfig(FILE, {}, { FRED_API_KEY: key }, REGISTRY);
  expect(config.http.secrets).toEqual([{ host: 'api.stlouisfed.org', param: 'api_key', value: key }]);
  expect(redactSecrets(`FRED said no to ${key}`)).toBe('FRED said no to ***');
  expect(resolveConfig(FILE, {}, {}, REGISTRY).http.secrets).toEqual([]);
});

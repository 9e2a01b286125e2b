import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PACKAGE_ROOT } from '../../src/paths.js';

/**
 * docker-compose.yml and the Grafana provisioning: valid for docker-compose, no secrets in the
 * files, Grafana reading through the read-only role. (The panel queries themselves run in
 * loaded-queries.test.ts.)
 */

const COMPOSE = join(PACKAGE_ROOT, 'docker-compose.yml');
const PASSWORDS = { POSTGRES_PASSWORD: 'test-pg', GRAFANA_DB_PASSWORD: 'test-grafana-db', GRAFANA_ADMIN_PASSWORD: 'test-grafana-admin' };
/** What compose refuses to start without: the passwords, and the SEC contact the live configuration needs. */
const REQUIRED = { ...PASSWORDS, BUBBLEWATCH_USER_AGENT: 'bubblewatch-tests/0.1 (tests@example.com)' };

function findCompose(): string[] | undefined {
  if (spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0) return ['docker-compose'];
  if (spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0) return ['docker', 'compose'];
  return undefined;
}

const compose = findCompose();

/** docker-compose config with a clean environment and an empty env file (so a developer's .env is not read). */
function composeConfig(env: Record<string, string>, quiet = true) {
  const emptyEnv = join(mkdtempSync(join(tmpdir(), 'bubblewatch-compose-')), 'empty.env');
  writeFileSync(emptyEnv, '');
  const [cmd, ...pre] = compose!;
  return spawnSync(cmd!, [...pre, '--env-file', emptyEnv, '-f', COMPOSE, 'config', ...(quiet ? ['-q'] : [])], {
    encoding: 'utf8',
    cwd: PACKAGE_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
}

describe('docker-compose.yml', () => {
  const composeIt = compose ? it : it.skip;
  const label = compose ? '' : ' [SKIPPED: neither docker-compose nor docker compose is installed; apt-get install docker-compose]';

  composeIt(`passes docker-compose config -q with the passwords and SEC contact set, and refuses to start without them${label}`, () => {
    const ok = composeConfig(REQUIRED);
    expect(ok.status, ok.stderr).toBe(0);
    const missing = composeConfig({});
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/set (POSTGRES_PASSWORD|GRAFANA_DB_PASSWORD|GRAFANA_ADMIN_PASSWORD|BUBBLEWATCH_USER_AGENT) in \.env/);
    const { BUBBLEWATCH_USER_AGENT: _, ...withoutContact } = REQUIRED;
    const noContact = composeConfig(withoutContact);
    expect(noContact.status).not.toBe(0);
    expect(noContact.stderr).toMatch(/set BUBBLEWATCH_USER_AGENT in \.env/);
  });

  composeIt(`runs the live configuration by default, and the bundled sample only when asked${label}`, () => {
    const configOf = (env: Record<string, string>) => {
      const out = composeConfig(env, false);
      expect(out.status, out.stderr).toBe(0);
      const file = parse(out.stdout) as { services: Record<string, { environment: Record<string, string> }> };
      return file.services.bubblewatch!.environment;
    };
    expect(configOf(REQUIRED)).toMatchObject({ BUBBLEWATCH_CONFIG: '/app/config/live.yaml', BUBBLEWATCH_USER_AGENT: REQUIRED.BUBBLEWATCH_USER_AGENT });
    expect(configOf({ ...REQUIRED, BUBBLEWATCH_CONFIG_FILE: 'bubblewatch.yaml' }).BUBBLEWATCH_CONFIG).toBe('/app/config/bubblewatch.yaml');
    expect(configOf({ ...REQUIRED, BUBBLEWATCH_SCHEDULE_FRED: '0 9 * * *' }).BUBBLEWATCH_SCHEDULE_FRED).toBe('0 9 * * *');
  });

  it('builds an image whose default configuration is the live one, not the bundled sample', () => {
    const dockerfile = readFileSync(join(PACKAGE_ROOT, 'Dockerfile'), 'utf8');
    const env = [...dockerfile.matchAll(/^ENV (.+)$/gm)].map((m) => m[1]!).join(' ');
    expect(env).toMatch(/\bBUBBLEWATCH_CONFIG=\/app\/config\/live\.yaml\b/);
    expect(readFileSync(COMPOSE, 'utf8')).toMatch(/BUBBLEWATCH_CONFIG: \/app\/config\/\$\{BUBBLEWATCH_CONFIG_FILE:-live\.yaml\}/);
  });

  it('holds no secrets, publishes only on loopback, and creates the read-only grafana role before starting the scheduler', () => {
    const text = readFileSync(COMPOSE, 'utf8');
    const file = parse(text) as { services: Record<string, { environment?: Record<string, string>; ports?: string[]; command?: string[]; volumes?: string[] }> };
    expect(Object.keys(file.services).sort()).toEqual(['bubblewatch', 'grafana', 'postgres']);
    for (const [name, service] of Object.entries(file.services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (/PASSWORD|SECRET|TOKEN|WEBHOOK/.test(key)) expect(String(value), `${name}.${key}`).toMatch(/^\$\{[A-Z_]+(:\?[^}]+|:-)\}$/);
      }
      for (const port of service.ports ?? []) expect(port, `${name} port`).toMatch(/^127\.0\.0\.1:/);
    }
    expect(file.services.bubblewatch!.environment!.DATABASE_URL).toMatch(/^postgres:\/\/bubblewatch:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\/bubblewatch$/);
    expect(file.services.bubblewatch!.command!.join(' ')).toMatch(/grant-analyst grafana --password-env GRAFANA_DB_PASSWORD &&\s+exec node bin\/bubblewatch\.js start/);
    expect(file.services.bubblewatch!.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/^\.\/inbox:\/app\/inbox/), expect.stringMatching(/:\/app\/\.bubblewatch$/)]));
    expect(file.services.grafana!.volumes).toEqual(
      expect.arrayContaining(['./grafana/provisioning:/etc/grafana/provisioning:ro', './grafana/dashboards:/etc/grafana/dashboards/bubblewatch:ro']),
    );

    const example = readFileSync(join(PACKAGE_ROOT, '.env.example'), 'utf8');
    for (const name of Object.keys(REQUIRED)) expect(example).toMatch(new RegExp(`^${name}=$`, 'm'));
  });

  it('provisions a Postgres data source that logs in as the read-only role, with its password from the environment', () => {
    const dir = join(PACKAGE_ROOT, 'grafana', 'provisioning', 'datasources');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(0);
    const sources = files.flatMap((f) => (parse(readFileSync(join(dir, f), 'utf8')) as { datasources: Record<string, unknown>[] }).datasources);
    expect(sources).toEqual([
      expect.objectContaining({
        uid: 'bubblewatch',
        type: 'grafana-postgresql-datasource',
        url: 'postgres:5432',
        user: 'grafana',
        jsonData: expect.objectContaining({ database: 'bubblewatch' }),
        secureJsonData: { password: '$GRAFANA_DB_PASSWORD' },
      }),
    ]);

    const providers = parse(readFileSync(join(PACKAGE_ROOT, 'grafana', 'provisioning', 'dashboards', 'bubblewatch.yaml'), 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    expect(providers.providers[0]!.options.path).toBe('/etc/grafana/dashboards/bubblewatch');
  });

  it('has a dashboard whose panels all query the provisioned data source with SQL over the analytics views', () => {
    const dashboard = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'grafana', 'dashboards', 'bubblewatch.json'), 'utf8')) as {
      uid: string;
      panels: { title: string; targets: { rawSql: string; datasource: { uid: string } }[] }[];
    };
    expect(dashboard.uid).toBe('bubblewatch');
    const titles = dashboard.panels.map((p) => p.title).join(' | ');
    for (const topic of [/Big-five capex/, /Self-funding ratio per company/, /CAPE and the December 1999 peak/, /Top-10 share/, /Buffett indicator/, /Open alerts/, /Dashboard/]) {
      expect(titles).toMatch(topic);
    }
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) {
        expect(target.datasource.uid, panel.title).toBe('bubblewatch');
        expect(target.rawSql, panel.title).toMatch(/from analytics\.[a-z_]+/);
      }
    }
  });
});

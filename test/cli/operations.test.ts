import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { cli, cliInProcess } from '../helpers/cli.js';
import { makeInbox, writeFile } from '../helpers/pipelines.js';

/**
 * start --once, status, dashboard and backfill through the command line: main in this process
 * (cliInProcess), and the built binary where the test reads what the process writes to its own
 * stderr (backfill's progress line).
 */

function setup(): string {
  const dir = makeInbox();
  cpSync(join(PACKAGE_ROOT, 'data', 'sample', 'custom-series'), join(dir, 'custom'), { recursive: true });
  const constituents = join(PACKAGE_ROOT, 'data', 'sample', 'index-constituents');
  for (const f of ['constituents.csv', 'issuers-historical.csv', 'constituents-financials_2025-02-01.csv', 'constituents-financials_2026-06-30.csv']) {
    cpSync(join(constituents, f), join(dir, 'index', f));
  }
  return writeFile(
    dir,
    'bubblewatch.yaml',
    `pipelines:
  custom-series:
    sources: [{ path: ./custom }]
  index-constituents:
    enabled: false
    sources: [{ path: ./index }]
    options:
      index: SP500
      layout: sp500-financials
      files: [{ match: "issuers-*.csv", layout: sp500-constituents }]
`,
  );
}

describeEachDatabase('operating bubblewatch', (kind) => {
  it('start --once runs every enabled pipeline once, prints the summary and exits; status, dashboard and backfill follow', async () => {
    const db = await useDatabase(kind, { migrated: false });
    await db.close();
    const config = setup();

    const start = await cliInProcess(['--config', config, 'start', '--once'], db.env);
    expect(start.code, start.stderr.slice(-800)).toBe(0);
    expect(start.stdout).toMatch(/1\s+custom-series\s+succeeded\s+1\s+0\s+0\s+42\s+42\s+0\s+0/);
    expect(start.stdout).not.toContain('Running on schedule');

    const status = await cliInProcess(['--config', config, 'status', '--json'], db.env);
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout) as { pipelines: { pipeline: string; state: string; last_run: { status: string; trigger: string } | null; next_tick: string | null }[] };
    const custom = report.pipelines.find((p) => p.pipeline === 'custom-series')!;
    expect(custom).toMatchObject({ state: 'enabled', last_run: { status: 'succeeded', trigger: 'manual' } });
    expect(custom.next_tick).toMatch(/T06:15:00\.000Z$/);
    expect(report.pipelines.find((p) => p.pipeline === 'index-constituents')).toMatchObject({ state: 'disabled', last_run: null });

    const dashboard = await cliInProcess(['--config', config, 'dashboard', '--family', 'custom', '--json'], db.env);
    expect(dashboard.code).toBe(0);
    const rowsOut = JSON.parse(dashboard.stdout) as { indicator: string; subject: string; latest_value: number }[];
    expect(rowsOut).toContainEqual(expect.objectContaining({ indicator: 'openai_revenue_annualized', subject: 'OpenAI', latest_value: 40_000_000_000 }));

    const noPartitions = await cliInProcess(['--config', config, 'backfill', 'custom-series', '--from', '2025-01-01', '--to', '2025-12-31'], db.env);
    expect(noPartitions.code).toBe(2);
    expect(noPartitions.stderr).toMatch(/pipeline custom-series has no partitions.*Pipelines with partitions: sec-fsds \(quarter\), index-constituents \(day\)/);

    const badRange = await cliInProcess(['--config', config, 'backfill', 'index-constituents', '--from', '2025-13-01', '--to', '2025-12-31'], db.env);
    expect(badRange).toMatchObject({ code: 2, stderr: 'bubblewatch: --from: got "2025-13-01", expected a real date like 2025-06-30\n' });

    const dry = await cliInProcess(['--config', config, 'backfill', 'index-constituents', '--from', '2025-01-31', '--to', '2025-02-02', '--dry-run'], db.env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('backfill index-constituents 2025-01-31..2025-02-02 (--only missing): 1 of 3 partition(s) would run');
    expect(dry.stdout).toMatch(/2025-02-01\s+run\s+never\s+1\s+never run/);

    // The progress line goes to the process's stderr (src/cli/progress.ts), not through main's streams.
    const run = await cli(['--config', config, 'backfill', 'index-constituents', '--from', '2025-01-01', '--to', '2026-12-31'], db.env);
    expect(run.code, run.stderr.slice(-800)).toBe(0);
    expect(run.stdout).toMatch(/backfill \d+ of index-constituents 2025-01-01\.\.2026-12-31: 2 succeeded, 0 failed, 0 interrupted, \d+ skipped/);
    expect(run.stderr).toMatch(/backfill progress: 2\/2 partitions/);

    const again = await cliInProcess(['--config', config, 'backfill', 'index-constituents', '--from', '2025-01-01', '--to', '2026-12-31'], db.env);
    expect(again.stdout).toMatch(/nothing to do \(\d+ partition\(s\) checked\)/);
  });

  it('start takes serve and report from the config: serves the embedded database and writes the report after its first pass', async () => {
    const db = await useDatabase(kind, { migrated: false });
    await db.close();
    const config = setup();
    writeFileSync(config, readFileSync(config, 'utf8') + 'serve: { enabled: true, port: 0 }\nreport: { path: ./out/report.html }\n');

    const start = await cliInProcess(['--config', config, 'start', '--once'], db.env);
    expect(start.code, start.stderr.slice(-800)).toBe(0);
    if (kind === 'pglite') expect(start.stdout).toMatch(/Serving the embedded database on postgres:\/\/[^@]+@127\.0\.0\.1:\d+/);
    else expect(start.stderr).toContain('DATABASE_URL points at a PostgreSQL server already');
    const html = readFileSync(join(config, '..', 'out', 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('custom-series');
    expect(start.stderr).toMatch(/report rewritten: .*out\/report\.html/);
  });
});

import { copyFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect.js';
import { PIPELINES } from '../../pipelines/registry.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { cli, cliInProcess } from '../helpers/cli.js';
import { makeInbox, rows, writeFile } from '../helpers/pipelines.js';

/**
 * The command line as a user runs it. Most cases call main() in this process (cliInProcess:
 * the same output and exit code without starting node and PGlite each time); the binary itself
 * (built by the test setup) runs where the process matters: its start and exit code, and the
 * lock between two processes on one embedded folder.
 */

function configFor(inbox: string): string {
  return writeFile(
    inbox,
    'bubblewatch.yaml',
    `log:\n  level: info\npipelines:\n  custom-series:\n    sources:\n      - path: ./inbox\n        pattern: "*.csv"\n`,
  );
}

describe('bubblewatch CLI', () => {
  it('prints help for every command and exits 0', async () => {
    const top = await cliInProcess(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['migrate', 'run', 'runs', 'pipelines']) expect(top.stdout).toContain(command);
    expect(top.stdout).toContain('Exit codes: 0 success, 1 a run failed, 2 bad usage or configuration.');
    for (const command of ['migrate', 'run', 'runs', 'pipelines']) {
      const help = await cliInProcess([command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(new RegExp(`Usage: bubblewatch ${command}`));
    }
  });

  it('prints its version: the built binary starts and exits 0', async () => {
    const result = await cli(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) as unknown });
  });

  it('exits 2 on bad usage, with one clear message', async () => {
    const unknown = await cliInProcess(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    const noTarget = await cliInProcess(['run']);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toBe(`bubblewatch: name the pipelines to run, or --all (pipelines: ${PIPELINES.map((p) => p.name).join(', ')})\n`);
    const noSuch = await cliInProcess(['run', 'nope']);
    expect(noSuch.code).toBe(2);
    expect(noSuch.stderr).toContain(`nope: no such pipeline (known: ${PIPELINES.map((p) => p.name).join(', ')})`);
  });

  it('exits 2 on a bad config file and names each problem', async () => {
    const dir = makeInbox();
    const file = writeFile(dir, 'bad.yaml', 'pipelines:\n  custom-series:\n    schedule:\n      cron: "every morning"\n    sources:\n      - path: ./inbox\n');
    const result = await cliInProcess(['--config', file, 'pipelines']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`bubblewatch: ${file}: invalid configuration\n  - pipelines.custom-series.schedule.cron: invalid cron expression "every morning"`);
    const viaEnv = await cliInProcess(['pipelines'], { BUBBLEWATCH_CONFIG: file });
    expect(viaEnv.code).toBe(2);
  });

  it('never prints the password of DATABASE_URL', async () => {
    const result = await cliInProcess(['migrate'], { DATABASE_URL: 'postgres://analyst:s3cr3t-pw@127.0.0.1:1/warehouse' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot connect to PostgreSQL at postgres://analyst:***@127.0.0.1:1/warehouse');
    expect(result.stdout + result.stderr).not.toContain('s3cr3t-pw');
  });

  it('lists pipelines with their schedule and sources', async () => {
    const result = await cliInProcess(['pipelines']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/custom-series\s+enabled\s+15 6 \* \* \* \(UTC\)/);
  });
});

describeEachDatabase('bubblewatch CLI on a database', (kind) => {
  it('migrates, runs, lists runs, skips a loaded file and shows rejected rows', async () => {
    const db = await useDatabase(kind, { migrated: false });
    await db.close();
    const dir = makeInbox();
    const config = configFor(dir);
    copyFileSync(join(PACKAGE_ROOT, 'test', 'fixtures', 'custom-series', 'bad_rows.csv'), writeFile(dir, 'inbox/bad_rows.csv', ''));

    const migrate = await cliInProcess(['--config', config, 'migrate'], db.env);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/migrated to version \d+:\n  applied 0001_schemas_and_run_ledger\.sql/);
    const again = await cliInProcess(['--config', config, 'migrate'], db.env);
    expect(again.stdout).toMatch(/is up to date \(version \d+\); nothing to apply/);

    const run = await cliInProcess(['--config', config, 'run', '--all'], db.env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/1\s+custom-series\s+succeeded\s+1\s+0\s+0\s+8\s+2\s+6\s+0/);
    expect(run.stdout).toContain('bad_rows.csv: 2 row(s) loaded, 6 rejected');
    expect(run.stdout).toContain('rejected rows: bubblewatch runs 1');
    // JSON log lines on a non-terminal, with the run's pipeline and id on each.
    const logs = run.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs).toContainEqual(expect.objectContaining({ pipeline: 'custom-series', run_id: 1, level: 40 }));

    const rerun = await cliInProcess(['--config', config, 'run', 'custom-series', '--json'], db.env);
    expect(rerun.code).toBe(0);
    const [summary] = JSON.parse(rerun.stdout) as Record<string, unknown>[];
    expect(summary).toMatchObject({ run_id: 2, status: 'succeeded', files_loaded: 0, files_skipped: 1, rows_read: 0 });

    const runs = await cliInProcess(['--config', config, 'runs'], db.env);
    expect(runs.code).toBe(0);
    expect(runs.stdout).toMatch(/2\s+custom-series\s+manual\s+succeeded\s.+0\+1s\s+0\s+0\s+0\s+0/);
    expect(runs.stdout).toMatch(/1\s+custom-series\s+manual\s+succeeded\s.+1\+0s\s+8\s+2\s+6\s+0/);

    const detail = await cliInProcess(['--config', config, 'runs', '1'], db.env);
    expect(detail.code).toBe(0);
    expect(detail.stdout).toContain('rows read 8 = loaded 2 + rejected 6 + skipped 0');
    expect(detail.stdout).toMatch(/bad_rows\.csv\s+3\s+date \(3\)\s+"2025-02-30"\s+column 'date': got "2025-02-30", expected a real calendar date YYYY-MM-DD/);

    const missing = await cliInProcess(['--config', config, 'runs', '99'], db.env);
    expect(missing).toMatchObject({ code: 2, stderr: 'bubblewatch: run 99 does not exist (see bubblewatch runs)\n' });
  });

  it('exits 1 when a run fails, and the ledger says why', async () => {
    const db = await useDatabase(kind);
    await db.close();
    const dir = makeInbox();
    const config = configFor(dir);
    writeFile(dir, 'inbox/broken.csv', 'series,subject,date\nx,y,2025-01-01\n');
    const run = await cliInProcess(['--config', config, 'run', '--all'], db.env);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/run 1 FAILED, nothing from it was kept: .*broken\.csv:1: the header lacks required column value/);
    const handle = await db.reopen();
    const [row] = await rows(handle, 'select status, error from etl.runs');
    expect(row).toMatchObject({ status: 'failed', error: expect.stringContaining('broken.csv:1: the header lacks required column value') as unknown });
  });

  if (kind === 'pglite') {
    it('refuses a second process on the same embedded folder, naming the folder and the holder', async () => {
      const db = await useDatabase(kind);
      const dir = makeInbox();
      const result = await cli(['--config', configFor(dir), 'runs'], db.env);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        `bubblewatch: the embedded database folder ${db.openOptions.embeddedDir} is in use by process ${process.pid} on ${hostname()} ("vitest", since `,
      );
      expect(result.stderr).toContain('only one process may open it at a time');
      // Once this process lets go, the CLI gets in.
      await db.close();
      const after = await cli(['--config', configFor(dir), 'runs'], db.env);
      expect(after.code).toBe(0);
      const handle = await openDatabase({ ...db.openOptions, command: 'vitest' });
      await handle.close();
    });
  }
});

import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { cliInProcess } from '../helpers/cli.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { makeInbox, writeFile } from '../helpers/pipelines.js';

/** `alerts`, `rules check` and `rules test` through the command line (main, in this process), on the bundled custom series. */

function setup(threshold: number): { dir: string; config: string } {
  const dir = makeInbox();
  cpSync(join(PACKAGE_ROOT, 'data', 'sample', 'custom-series'), join(dir, 'custom'), { recursive: true });
  const config = writeFile(
    dir,
    'bubblewatch.yaml',
    `alerts:
  rules:
    - id: openai_run_rate
      indicator: openai_revenue_annualized
      subject: OpenAI
      op: ">"
      threshold: ${threshold}
      severity: critical
      message: "{subject} run-rate {value} in {period}"
pipelines:
  custom-series:
    sources: [{ path: ./custom }]
`,
  );
  return { dir, config };
}

describeEachDatabase('alert commands', (kind) => {
  it('logs a breach when a run finds it, lists it, and replays a changed threshold without writing', async () => {
    const db = await useDatabase(kind, { migrated: false });
    await db.close();
    const { config } = setup(10e9);

    const run = await cliInProcess(['--config', config, 'run', '--all', '--no-preview'], db.env);
    expect(run.code, run.stderr.slice(-600)).toBe(0);
    const logs = run.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 50, rule: 'openai_run_rate', subject: 'OpenAI', msg: expect.stringMatching(/^ALERT CRITICAL openai_run_rate firing for OpenAI \(since 2025-07-31; latest 2026-08-23\): OpenAI run-rate 40,000,000,000 in 2026-08-23$/) as unknown }),
    );

    const open = await cliInProcess(['--config', config, 'alerts'], db.env);
    expect(open.code).toBe(0);
    expect(open.stdout).toMatch(/critical\s+openai_run_rate\s+OpenAI\s+2025-07-31\s+2026-08-23\s+40,000,000,000\s+10,000,000,000/);
    const history = await cliInProcess(['--config', config, 'alerts', '--all', '--json'], db.env);
    expect((JSON.parse(history.stdout) as { transition: string }[]).map((h) => h.transition)).toEqual(['fired']);

    const check = await cliInProcess(['--config', config, 'rules', 'check'], db.env);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/1 alert rule\(s\) valid/);

    // The analyst tries a higher threshold: the replay shows when it would have fired, and writes nothing.
    const { config: higher } = setup(20e9);
    const test = await cliInProcess(['--config', higher, 'rules', 'test', '--rule', 'openai_run_rate'], db.env);
    expect(test.code, test.stderr.slice(-600)).toBe(0);
    expect(test.stdout).toMatch(/2026-03-29\s+OpenAI\s+fires\s+25,000,000,000\s+breach/);
    expect(test.stdout).toContain('now: OpenAI firing (latest 2026-08-23: 40,000,000,000)');
    const after = await cliInProcess(['--config', config, 'alerts', '--all', '--json'], db.env);
    expect(JSON.parse(after.stdout)).toHaveLength(1);
  });

  it('refuses a malformed rule as a config error naming the rule and field', async () => {
    const db = await useDatabase(kind, { migrated: false });
    await db.close();
    const dir = makeInbox();
    const config = writeFile(dir, 'bad.yaml', `alerts:\n  rules:\n    - { id: cape_high, indicator: cape, op: ">", threshold: 35, recover_below: 40 }\n`);
    const result = await cliInProcess(['--config', config, 'rules', 'check'], db.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('alerts.rules.0.recover_below: got 40, expected at most the threshold 35');
  });
});

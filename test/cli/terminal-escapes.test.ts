import { expect, it } from 'vitest';
import { cliInProcess } from '../helpers/cli.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { makeInbox, writeFile } from '../helpers/pipelines.js';

/**
 * Item 15 of issue 14: escape sequences and bidi controls in data (a custom series' subject
 * holding ESC[2J, a source holding U+202E) reach the terminal through no command: the run
 * preview, `dashboard`, `runs`, `runs N` (rejected rows), `alerts`, `status` and error messages
 * show them escaped. JSON output stays exact JSON.
 */

const CLEAR = '\u001b[2J\u001b[H';
const SUBJECT = `OpenAI${CLEAR}`;
/** Right-to-left override: shown raw, "IAnepO" reads as "OpenAI". */
const RLO_SUBJECT = '\u202EIAnepO\u202C';
/** C1 CSI (U+009B), which some terminals take as ESC [. */
const C1_SUBJECT = 'xAI\u009b2J';

/** Every raw control or bidi character that must not reach a terminal. */
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function config(dir: string): string {
  return writeFile(
    dir,
    'bubblewatch.yaml',
    `log: { level: info }
pipelines:
  custom-series:
    sources:
      - path: ./inbox
alerts:
  rules:
    - id: run_rate_above_1bn
      indicator: openai_revenue_annualized
      subject: "*"
      op: ">"
      threshold: 1000000000
      severity: warning
      message: "{subject} run-rate is {value} in {period}"
`,
  );
}

describeEachDatabase('terminal escapes in data', (kind) => {
  it('are shown escaped by the run preview, dashboard, runs, alerts and status; JSON keeps them exactly', async () => {
    const db = await useDatabase(kind);
    await db.close();
    const dir = makeInbox();
    const file = config(dir);
    writeFile(
      dir,
      'inbox/escapes.csv',
      [
        'series,subject,date,value,unit,source',
        `openai_revenue_annualized,${SUBJECT},2025-06-30,10000000000,USD,company statement`,
        `openai_revenue_annualized,${SUBJECT},2025-12-31,20000000000,USD,company statement`,
        `openai_revenue_annualized,${RLO_SUBJECT},2025-12-31,3000000000,USD,"press \u202Eerom\u202C"`,
        `openai_revenue_annualized,${C1_SUBJECT},2025-12-31,1500000000,USD,press`,
        // Rejected: a series id holds letters and digits only; the reject quotes the value.
        `vc${CLEAR}share,global,2025-09-30,0.53,share,WIPO`,
      ].join('\n') + '\n',
    );

    const run = await cliInProcess(['--config', file, 'run', 'custom-series'], db.env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('OpenAI\\x1b[2J\\x1b[H');
    expect(run.stdout).toContain('\\u202eIAnepO\\u202c');
    expect(run.stdout).toContain('xAI\\u009b2J');
    expect(run.stdout).not.toMatch(RAW);

    const dashboard = await cliInProcess(['--config', file, 'dashboard', '--family', 'custom'], db.env);
    expect(dashboard.code, dashboard.stderr).toBe(0);
    expect(dashboard.stdout).toContain('OpenAI\\x1b[2J\\x1b[H');
    expect(dashboard.stdout).not.toMatch(RAW);

    const detail = await cliInProcess(['--config', file, 'runs', '1'], db.env);
    expect(detail.code, detail.stderr).toBe(0);
    // The reject's reason quotes the value as JSON does (\u001b); either way nothing raw is printed.
    expect(detail.stdout).toContain(`column 'series': got "vc\\u001b[2J\\u001b[Hshare"`);
    expect(detail.stdout).not.toMatch(RAW);

    for (const args of [['runs'], ['alerts'], ['status']]) {
      const out = await cliInProcess(['--config', file, ...args], db.env);
      expect(out.code, `${args.join(' ')}: ${out.stderr}`).toBe(0);
      expect(out.stdout, args.join(' ')).not.toMatch(RAW);
    }
    const alerts = await cliInProcess(['--config', file, 'alerts'], db.env);
    expect(alerts.stdout).toContain('OpenAI\\x1b[2J\\x1b[H');

    // JSON: the same characters, exactly, once parsed.
    const json = await cliInProcess(['--config', file, 'dashboard', '--family', 'custom', '--json'], db.env);
    expect(json.stdout).not.toMatch(RAW);
    const rows = JSON.parse(json.stdout) as { subject: string }[];
    expect(rows.map((r) => r.subject).sort()).toEqual([SUBJECT, RLO_SUBJECT, C1_SUBJECT].sort());
    const detailJson = JSON.parse((await cliInProcess(['--config', file, 'runs', '1', '--json'], db.env)).stdout) as { rejects: { value: string }[] };
    expect(detailJson.rejects.map((r) => r.value)).toEqual([`vc${CLEAR}share`]);
  });
});

it('shows an error message holding escapes escaped', async () => {
  const result = await cliInProcess(['run', `nope${CLEAR}\u202E`]);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('nope\\x1b[2J\\x1b[H\\u202e: no such pipeline');
  expect(result.stderr).not.toMatch(RAW);
});

it('pretty log lines (a terminal) show escapes in messages escaped; JSON log lines stay exact', async () => {
  const { createLogger } = await import('../../src/log/logger.js');
  const { Writable } = await import('node:stream');
  const capture = () => {
    let text = '';
    const stream = new Writable({ write: (chunk: Buffer, _enc, done) => ((text += String(chunk)), done()) });
    return { stream, text: () => text };
  };
  const pretty = capture();
  createLogger({ level: 'info', format: 'pretty', destination: pretty.stream }).error(`run 3 failed: got "${SUBJECT}${RLO_SUBJECT}"`);
  expect(pretty.text()).toContain('run 3 failed: got "OpenAI\\x1b[2J\\x1b[H\\u202eIAnepO\\u202c"');
  expect(pretty.text()).not.toMatch(RAW);
  const json = capture();
  createLogger({ level: 'info', format: 'json', destination: json.stream }).error(`got ${SUBJECT}${RLO_SUBJECT}`);
  expect((JSON.parse(json.text()) as { msg: string }).msg).toBe(`got ${SUBJECT}${RLO_SUBJECT}`);
});

import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { cli } from '../helpers/cli.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, memoryLogger, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/** No data value reaches SQL text; file sources stay inside their folders; secrets stay out of logs. */

const custom = customSeries as unknown as AnyPipeline;
const NASTY = [
  `'; drop table raw.custom_series; --`,
  `Robert'); DROP TABLE etl.runs;--`,
  `$1 $$ ; select pg_sleep(10) $$`,
  `\\copy etl.runs to '/tmp/x'`,
  `"quoted, with comma"`,
];

describeEachDatabase('security', (kind) => {
  it('keeps SQL-looking text as data: it round-trips exactly and every table survives', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const lines = ['series,subject,date,value,unit,source', ...NASTY.map((s, i) => `vc_share_to_ai,"${s.replace(/"/g, '""')}",2025-0${i + 1}-01,0.5,share,"${s.replace(/"/g, '""')}"`)];
    writeFile(inbox, 'nasty.csv', lines.join('\n') + '\n');
    const run = await runOnce(db.handle, custom, inboxConfig(custom, inbox));
    expect(run.counts).toMatchObject({ rowsRead: NASTY.length, rowsLoaded: NASTY.length, rowsRejected: 0 });
    const stored = await rows<{ subject: string; source: string }>(db.handle, 'select subject, source from analytics.custom_series order by observation_date');
    expect(stored).toEqual(NASTY.map((s) => ({ subject: s, source: s })));
    const tables = await rows(db.handle, `select to_regclass('raw.custom_series') is not null as raw, to_regclass('etl.runs') is not null as runs`);
    expect(tables).toEqual([{ raw: true, runs: true }]);
  });

  it('does not follow a link that points outside the source folder', async () => {
    const db = await useDatabase(kind);
    const outside = makeInbox();
    writeFileSync(join(outside, 'secret.csv'), 'series,subject,date,value\nsecret,x,2025-01-01,1\n');
    const inbox = makeInbox();
    writeFile(inbox, 'good.csv', 'series,subject,date,value\nvc_share_to_ai,global (WIPO),2025-09-30,0.53\n');
    symlinkSync(join(outside, 'secret.csv'), join(inbox, 'escape.csv'));
    mkdirSync(join(inbox, 'sub'));
    writeFile(inbox, 'sub/inside.csv', 'series,subject,date,value\nvc_share_to_ai,global (WIPO),2024-09-30,0.32\n');
    symlinkSync(join(inbox, 'sub', 'inside.csv'), join(inbox, 'link-inside.csv'));
    const { logger, lines } = memoryLogger();
    const run = await runOnce(db.handle, custom, inboxConfig(custom, inbox), {}, logger);
    expect(run.files.map((f) => f.file.path.split('/').pop()).sort()).toEqual(['good.csv', 'link-inside.csv']);
    expect(lines.map((l) => l.msg)).toContainEqual(expect.stringMatching(/escape\.csv: not read: a symbolic link to .*secret\.csv, outside the source folder/));
    expect(await rows(db.handle, `select count(*)::int as n from core.custom_series where series = 'secret'`)).toEqual([{ n: 0 }]);
  });
});

it('keeps passwords and tokens out of every line the CLI prints', async () => {
  const secret = 'pa55-w0rd-value';
  const result = await cli(['run', '--all'], { DATABASE_URL: `postgresql://analyst:${secret}@127.0.0.1:1/warehouse?sslmode=disable`, LOG_LEVEL: 'debug' });
  expect(result.code).not.toBe(0);
  expect(result.stdout + result.stderr).not.toContain(secret);
  expect(result.stderr).toContain('postgresql://analyst:***@127.0.0.1:1/warehouse');
});

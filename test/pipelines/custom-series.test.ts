import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, memoryLogger, rows, runOnce, writeFile } from '../helpers/pipelines.js';

const pipeline = customSeries as unknown as AnyPipeline;
const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures', 'custom-series');
const SAMPLE = join(PACKAGE_ROOT, 'data', 'sample', 'custom-series', 'ai_series.csv');

function fixture(inbox: string, name: string, as = name): string {
  const target = join(inbox, as);
  copyFileSync(join(FIXTURES, name), target);
  return target;
}

const CORE = `select series, subject, observation_date, value, unit, source, file_id, line_no, run_id, updated_at
              from core.custom_series order by series, subject, observation_date`;

async function counts(handle: Parameters<typeof rows>[0]) {
  const [row] = await rows<Record<string, number>>(
    handle,
    `select (select count(*) from raw.custom_series) as raw, (select count(*) from core.custom_series) as core,
            (select count(*) from etl.source_files) as files, (select count(*) from etl.rejects) as rejects`,
  );
  return row!;
}

describeEachDatabase('custom-series pipeline', (kind) => {
  it('loads the bundled sample end to end into analytics.custom_series', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copyFileSync(SAMPLE, join(inbox, 'ai_series.csv'));
    const summary = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));

    const lines = readFileSync(SAMPLE, 'utf8').trim().split('\n').length - 1;
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ filesSeen: 1, filesLoaded: 1, rowsRead: lines, rowsLoaded: lines, rowsRejected: 0, rowsSkipped: 0 });

    const view = await rows(db.handle, 'select * from analytics.custom_series order by series, subject, observation_date');
    expect(view).toHaveLength(lines);
    const openai = view.find((r) => r.series === 'openai_revenue_annualized' && r.observation_date === '2025-06-09');
    expect(openai).toMatchObject({ subject: 'OpenAI', value: 10_000_000_000, unit: 'USD', source_line: 4, run_id: summary.runId });
    expect(openai!.source_sha256).toMatch(/^[0-9a-f]{64}$/);
    const vc = view.find((r) => r.series === 'vc_share_to_ai' && r.subject === 'US (PitchBook)');
    expect(vc).toMatchObject({ observation_date: '2025-03-31', value: 0.711, unit: 'share' });

    const [run] = await rows(db.handle, 'select * from etl.runs where run_id = $1', [summary.runId]);
    expect(run).toMatchObject({ pipeline: 'custom-series', trigger: 'manual', status: 'succeeded', rows_read: lines, rows_loaded: lines, rows_rejected: 0, rows_skipped: 0, error: null });
    expect(run!.finished_at).toBeInstanceOf(Date);
    const checks = await rows(db.handle, 'select check_name, status from etl.check_results where run_id = $1 order by 1', [summary.runId]);
    expect(checks.map((c) => c.status)).toEqual(['passed', 'passed', 'passed', 'passed', 'passed']);
  });

  it('keeps decimals exactly as written (no binary float on the way in)', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(inbox, 'precise.csv', 'series,subject,date,value\ngdp_saar_bn,US,2025-10-01,31462.523\nmsft_rpo,MSFT,2025-09-30,392000000000\ntiny,x,2025-01-01,0.1000000000000000055511151231257827\n');
    await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    const texts = await rows<{ series: string; v: string }>(db.handle, 'select series, value::text as v from core.custom_series order by series');
    expect(texts).toEqual([
      { series: 'gdp_saar_bn', v: '31462.523' },
      { series: 'msft_rpo', v: '392000000000' },
      { series: 'tiny', v: '0.1000000000000000055511151231257827' },
    ]);
  });

  it('changes nothing when re-run with no new input, and says the file was already loaded', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'good.csv');
    const first = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    const before = { core: await rows(db.handle, CORE), counts: await counts(db.handle) };

    const { logger, lines } = memoryLogger();
    const second = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox), {}, logger);
    expect(second.status).toBe('succeeded');
    expect(second.counts).toMatchObject({ filesSeen: 1, filesLoaded: 0, filesSkipped: 1, rowsRead: 0, rowsLoaded: 0 });
    expect(second.files[0]).toMatchObject({ action: 'skipped', loadedByRun: first.runId });
    expect(lines.map((l) => l.msg)).toContainEqual(expect.stringMatching(/good\.csv: unchanged since run \d+ loaded it \(file \d+\); skipped/));
    expect(await rows(db.handle, CORE)).toEqual(before.core);
    expect(await counts(db.handle)).toEqual(before.counts);
    const [runFile] = await rows(db.handle, 'select action, message from etl.run_files where run_id = $1', [second.runId]);
    expect(runFile).toEqual({ action: 'skipped', message: `unchanged since run ${first.runId} loaded it as file ${first.files[0]!.action === 'loaded' ? (first.files[0] as { fileId: number }).fileId : '?'}` });

    // The same bytes under another name are a source of their own: loaded, and the values stay.
    fixture(inbox, 'good.csv', 'copy-of-good.csv');
    const third = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(third.counts).toMatchObject({ filesSeen: 2, filesLoaded: 1, filesSkipped: 1 });
    const VALUES = 'select series, subject, observation_date, value, unit, source from core.custom_series order by series, subject, observation_date';
    const values = await rows(db.handle, VALUES);
    expect(values).toEqual(before.core.map(({ series, subject, observation_date, value, unit, source }) => ({ series, subject, observation_date, value, unit, source })));
    const afterCopy = await rows(db.handle, CORE);

    // A full refresh recomputes every key from raw and rewrites nothing that is unchanged.
    const refresh = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox), { fullRefresh: true });
    expect(refresh.status).toBe('succeeded');
    expect(await rows(db.handle, CORE)).toEqual(afterCopy);
  });

  it('loads a changed file again and its rows supersede the old version', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const v1 =
      'series,subject,date,value,unit\n' +
      'openai_revenue_annualized,OpenAI,2024-12-31,5500000000,USD\n' +
      'openai_revenue_annualized,OpenAI,2025-06-09,10000000000,USD\n' +
      'openai_compute_capacity_gw,OpenAI,2024-12-31,0.6,GW\n';
    writeFile(inbox, 'openai.csv', v1);
    const first = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(first.counts.rowsLoaded).toBe(3);

    // v2 revises one figure, drops one row and adds one.
    const v2 =
      'series,subject,date,value,unit\n' +
      'openai_revenue_annualized,OpenAI,2024-12-31,6000000000,USD\n' +
      'openai_revenue_annualized,OpenAI,2025-06-09,10000000000,USD\n' +
      'openai_compute_capacity_gw,OpenAI,2025-12-31,1.9,GW\n';
    writeFile(inbox, 'openai.csv', v2);
    const second = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(second.status).toBe('succeeded');
    expect(second.counts).toMatchObject({ filesLoaded: 1, rowsLoaded: 3 });
    expect(second.files[0]).toMatchObject({ action: 'loaded' });
    const oldFileId = (first.files[0] as { fileId: number }).fileId;
    const newFileId = (second.files[0] as { fileId: number }).fileId;
    expect((second.files[0] as { superseded: number[] }).superseded).toEqual([oldFileId]);

    const core = await rows<{ series: string; observation_date: string; value: number; file_id: number }>(
      db.handle,
      'select series, observation_date, value, file_id from core.custom_series order by series, observation_date',
    );
    expect(core).toEqual([
      { series: 'openai_compute_capacity_gw', observation_date: '2025-12-31', value: 1.9, file_id: newFileId },
      { series: 'openai_revenue_annualized', observation_date: '2024-12-31', value: 6_000_000_000, file_id: newFileId },
      { series: 'openai_revenue_annualized', observation_date: '2025-06-09', value: 10_000_000_000, file_id: newFileId },
    ]);
    const files = await rows(db.handle, 'select file_id, superseded_by, superseded_run_id from etl.source_files order by file_id');
    expect(files).toEqual([
      { file_id: oldFileId, superseded_by: newFileId, superseded_run_id: second.runId },
      { file_id: newFileId, superseded_by: null, superseded_run_id: null },
    ]);
    // The old version's raw rows stay for provenance.
    expect((await counts(db.handle)).raw).toBe(6);

    // Putting v1 back is a change too: the path's newest bytes count, although they were loaded once before.
    writeFile(inbox, 'openai.csv', v1);
    const third = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(third.counts).toMatchObject({ filesLoaded: 1, filesSkipped: 0 });
    const restored = await rows(db.handle, 'select series, observation_date, value from core.custom_series order by series, observation_date');
    expect(restored).toEqual([
      { series: 'openai_compute_capacity_gw', observation_date: '2024-12-31', value: 0.6 },
      { series: 'openai_revenue_annualized', observation_date: '2024-12-31', value: 5_500_000_000 },
      { series: 'openai_revenue_annualized', observation_date: '2025-06-09', value: 10_000_000_000 },
    ]);
  });

  it('stores bad rows in etl.rejects with file, line, column and reason, loads the rest, and reconciles counts', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const path = fixture(inbox, 'bad_rows.csv');
    const summary = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(summary.status).toBe('succeeded');
    expect(summary.counts).toMatchObject({ rowsRead: 8, rowsLoaded: 2, rowsRejected: 6, rowsSkipped: 0 });

    const rejects = await rows(
      db.handle,
      'select uri, line_no, column_name, column_no, value, reason, raw_text, run_id, pipeline from etl.rejects order by line_no',
    );
    expect(rejects.map(({ uri, run_id, pipeline: p, ...rest }) => {
      expect(uri).toBe(path);
      expect(run_id).toBe(summary.runId);
      expect(p).toBe('custom-series');
      return rest;
    })).toEqual([
      {
        line_no: 3, column_name: 'date', column_no: 3, value: '2025-02-30',
        reason: `column 'date': got "2025-02-30", expected a real calendar date YYYY-MM-DD`,
        raw_text: 'openai_revenue_annualized,OpenAI,2025-02-30,10000000000,USD,impossible date',
      },
      {
        line_no: 4, column_name: 'value', column_no: 4, value: 'ten billion',
        reason: `column 'value': got "ten billion", expected a plain decimal number such as 1234.5 or 1.2e9`,
        raw_text: 'openai_revenue_annualized,OpenAI,2025-06-09,ten billion,USD,not a number',
      },
      {
        line_no: 5, column_name: 'unit', column_no: 5, value: null,
        reason: `column 'unit': missing: the row has 4 fields, the header has 6 (no value for unit, source)`,
        raw_text: 'vc_share_to_ai,global (Crunchbase),2025-03-31,0.53',
      },
      {
        line_no: 6, column_name: 'value', column_no: 4, value: '1,760',
        reason: `column 'value': got "1,760", expected a plain decimal number such as 1234.5 or 1.2e9 (no thousands separators)`,
        raw_text: 'datacenter_electricity_twh,US,2023-12-31,"1,760",TWh,thousands separator',
      },
      {
        line_no: 7, column_name: 'series', column_no: 1, value: '',
        reason: `column 'series': got "", expected a non-empty value`,
        raw_text: ',OpenAI,2025-12-31,20000000000,USD,empty series',
      },
      {
        line_no: 8, column_name: 'date', column_no: 3, value: '12/31/2018',
        reason: `column 'date': got "12/31/2018", expected a date written YYYY-MM-DD`,
        raw_text: 'datacenter_electricity_twh,US,12/31/2018,76,TWh,US date format',
      },
    ]);
    const loaded = await rows(db.handle, 'select line_no, series, subject from raw.custom_series order by line_no');
    expect(loaded).toEqual([
      { line_no: 2, series: 'openai_revenue_annualized', subject: 'OpenAI' },
      { line_no: 9, series: 'datacenter_electricity_twh', subject: 'global' },
    ]);
    const [file] = await rows(db.handle, 'select rows_read, rows_loaded, rows_rejected, rows_skipped from etl.source_files');
    expect(file).toEqual({ rows_read: 8, rows_loaded: 2, rows_rejected: 6, rows_skipped: 0 });
  });

  it('records every problem of a row, not just the first', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(inbox, 'two-problems.csv', 'series,subject,date,value\nx,OpenAI,2025-13-01,$5\n');
    await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    const [reject] = await rows<{ reason: string; problems: unknown[] }>(db.handle, 'select reason, problems from etl.rejects');
    expect(reject!.reason).toBe(
      `column 'date': got "2025-13-01", expected a real calendar date YYYY-MM-DD; ` +
        `column 'value': got "$5", expected a plain decimal number such as 1234.5 or 1.2e9 (no currency signs; put the currency in the unit column)`,
    );
    expect(reject!.problems).toHaveLength(2);
  });

  it.each([
    ['missing_value_column.csv', /missing_value_column\.csv:1: the header lacks required column value; got columns series, subject, date, amount; expected columns series, subject, date, value \(optional: unit, source\)/],
    ['unterminated_quote.csv', /unterminated_quote\.csv:3: a quoted field is never closed, so the rest of the file cannot be read/],
    ['not_utf8.csv', /not_utf8\.csv:3: bytes that are not UTF-8 at byte offset \d+; got 0xfc; expected UTF-8 text/],
    ['semicolons.csv', /semicolons\.csv:1: the header lacks required columns series, subject, date, value; got the single column "series;subject;date;value" \(the header looks ";"-separated; this source expects ","\)/],
  ])('fails %s alone when it cannot be parsed: nothing of it is kept, the good file beside it loads', async (name, message) => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'good.csv', 'a-good.csv');
    fixture(inbox, name, `b-${name}`);
    const summary = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(summary.status).toBe('partial');
    expect(summary.error).toMatch(message);
    expect(await counts(db.handle)).toEqual({ raw: 5, core: 5, files: 1, rejects: 0 });
    const [run] = await rows(db.handle, 'select status, error, rows_read, rows_loaded, files_failed from etl.runs where run_id = $1', [summary.runId]);
    expect(run).toMatchObject({ status: 'partial', rows_read: 5, rows_loaded: 5, files_failed: 1 });
    expect(run!.error).toMatch(message);
    const runFiles = await rows(db.handle, 'select action, uri, message from etl.run_files where run_id = $1 order by uri', [summary.runId]);
    expect(runFiles).toEqual([
      { action: 'loaded', uri: join(inbox, 'a-good.csv'), message: null },
      { action: 'failed', uri: join(inbox, `b-${name}`), message: expect.stringMatching(message) as unknown },
    ]);

    // Unchanged, the bad file is not read again, and the pipeline stays partial.
    const again = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(again.status).toBe('partial');
    expect(again.files.find((f) => f.action === 'failed')).toMatchObject({ sinceRun: summary.runId });

    // Fix the file and the next run loads it; the good one is unchanged.
    fixture(inbox, 'crlf.csv', `b-${name}`);
    const next = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(next.status).toBe('succeeded');
    expect(next.counts).toMatchObject({ filesLoaded: 1, filesSkipped: 1, rowsLoaded: 2 });
    expect(await rows(db.handle, 'select * from etl.file_failures')).toEqual([]);
  });

  it('reads CRLF files and a UTF-8 byte-order mark', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'crlf.csv');
    writeFile(inbox, 'bom.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Series,Subject,Date,Value\ndatacenter_electricity_twh,Zürich,2023-12-31,1\n')]));
    const summary = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(summary.counts).toMatchObject({ rowsRead: 3, rowsLoaded: 3, rowsRejected: 0 });
    const subjects = await rows(db.handle, 'select subject, source from core.custom_series order by subject');
    expect(subjects).toEqual([
      { subject: 'Zürich', source: null },
      { subject: 'global (WIPO)', source: 'WIPO GII blog 2025-11-30' },
      { subject: 'global (WIPO)', source: 'WIPO GII blog 2025-11-30' },
    ]);
  });

  it('lets the last line win when a file repeats a key, and says so in a warning check', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(inbox, 'dupes.csv', 'series,subject,date,value\nvc_share_to_ai,global,2025-06-30,0.40\nvc_share_to_ai,global,2025-06-30,0.45\n');
    const summary = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(summary.status).toBe('succeeded');
    const [row] = await rows(db.handle, 'select value, line_no from core.custom_series');
    expect(row).toEqual({ value: 0.45, line_no: 3 });
    const [check] = await rows(db.handle, `select status, severity, failing_rows, sample from etl.check_results where check_name = 'custom_series_no_duplicate_lines'`);
    expect(check).toMatchObject({ status: 'failed', severity: 'warn', failing_rows: 1 });
    expect(check!.sample).toEqual([expect.objectContaining({ series: 'vc_share_to_ai', lines: [2, 3] })]);
  });

  it('runs one load at a time: two concurrent runs load a file once', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    fixture(inbox, 'good.csv');
    const [a, b] = await Promise.all([
      runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox)),
      runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox)),
    ]);
    expect([a.status, b.status]).toEqual(['succeeded', 'succeeded']);
    expect(a.counts.filesLoaded + b.counts.filesLoaded).toBe(1);
    expect(a.counts.filesSkipped + b.counts.filesSkipped).toBe(1);
    expect(await counts(db.handle)).toMatchObject({ raw: 5, core: 5, files: 1 });
  });

  it('documents analytics.custom_series and every column with COMMENT ON', async () => {
    const db = await useDatabase(kind);
    const [view] = await rows<{ comment: string | null }>(db.handle, `select obj_description('analytics.custom_series'::regclass, 'pg_class') as comment`);
    expect(view!.comment).toMatch(/Analyst-supplied dated figures/);
    const columns = await rows<{ column_name: string; comment: string | null }>(
      db.handle,
      `select a.attname as column_name, col_description(a.attrelid, a.attnum) as comment
       from pg_attribute a where a.attrelid = 'analytics.custom_series'::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    );
    expect(columns.length).toBeGreaterThanOrEqual(10);
    for (const c of columns) expect(c.comment, `column ${c.column_name}`).toBeTruthy();
  });
});

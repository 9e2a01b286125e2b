import { appendFileSync, renameSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { discoverFiles } from '../../src/engine/discover.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { bundledShared, inboxConfig, makeInbox, memoryLogger, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/**
 * The inbox as it stands is the truth (issue 14): a source is its pipeline and path, its content
 * the bytes read. Each case is a reproduction found by trying the product as a user would.
 */

const pipeline = customSeries as unknown as AnyPipeline;
const HEADER = 'series,subject,date,value,unit\n';
const line = (value: string, date = '2025-06-30') => `openai_revenue_annualized,OpenAI,${date},${value},USD\n`;

async function values(handle: Parameters<typeof rows>[0]): Promise<string[]> {
  const found = await rows<{ subject: string; observation_date: string; value: number }>(
    handle,
    'select subject, observation_date, value from core.custom_series order by subject, observation_date',
  );
  return found.map((r) => `${r.subject} ${r.observation_date} ${r.value}`);
}

describeEachDatabase('source identity: the database equals the sources as they stand', (kind) => {
  it('loads a file restored to an earlier version: 100, then 999 (a typo), then 100 again', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const config = inboxConfig(pipeline, inbox);
    writeFile(inbox, 'series.csv', HEADER + line('100'));
    expect((await runOnce(db.handle, pipeline, config)).counts.filesLoaded).toBe(1);
    writeFile(inbox, 'series.csv', HEADER + line('999'));
    expect((await runOnce(db.handle, pipeline, config)).counts.filesLoaded).toBe(1);
    expect(await values(db.handle)).toEqual(['OpenAI 2025-06-30 999']);

    writeFile(inbox, 'series.csv', HEADER + line('100'));
    const third = await runOnce(db.handle, pipeline, config);
    expect(third.status).toBe('succeeded');
    expect(third.counts).toMatchObject({ filesLoaded: 1, filesSkipped: 0 });
    expect(await values(db.handle)).toEqual(['OpenAI 2025-06-30 100']);
    // Each version is in the ledger, and only the newest counts.
    const versions = await rows(db.handle, `select superseded_reason from etl.source_files order by file_id`);
    expect(versions.map((v) => v.superseded_reason)).toEqual(['replaced', 'replaced', null]);
    // Unchanged, it is skipped.
    expect((await runOnce(db.handle, pipeline, config)).counts).toMatchObject({ filesLoaded: 0, filesSkipped: 1 });
  });

  it('keeps identical bytes under two names as two sources: editing one leaves the other\'s rows', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const config = inboxConfig(pipeline, inbox);
    const both = HEADER + line('100', '2025-03-31') + line('200', '2025-06-30');
    writeFile(inbox, 'a.csv', both);
    writeFile(inbox, 'b.csv', both);
    const first = await runOnce(db.handle, pipeline, config);
    expect(first.counts).toMatchObject({ filesSeen: 2, filesLoaded: 2 });

    // a.csv drops its June row; b.csv, unchanged, still holds it.
    writeFile(inbox, 'a.csv', HEADER + line('100', '2025-03-31'));
    const second = await runOnce(db.handle, pipeline, config);
    expect(second.counts).toMatchObject({ filesLoaded: 1, filesSkipped: 1 });
    expect(await values(db.handle)).toEqual(['OpenAI 2025-03-31 100', 'OpenAI 2025-06-30 200']);

    // Deleting b.csv with the policy `retire` takes the June row away; a.csv's March row stays.
    rmSync(join(inbox, 'b.csv'));
    const third = await runOnce(db.handle, pipeline, { ...config, onMissing: 'retire' });
    expect(third.files.map((f) => [f.action, f.file.sourceKey])).toEqual([
      ['skipped', 'a.csv'],
      ['retired', 'b.csv'],
    ]);
    expect(await values(db.handle)).toEqual(['OpenAI 2025-03-31 100']);
  });

  it('renamed, then edited: with on_missing retire the old name serves nothing; with keep the run says the file is missing', async () => {
    for (const policy of ['retire', 'keep'] as const) {
      const db = await useDatabase(kind);
      const inbox = makeInbox();
      const config = { ...inboxConfig(pipeline, inbox), onMissing: policy };
      writeFile(inbox, 'old.csv', HEADER + line('100', '2025-03-31') + line('200', '2025-06-30'));
      await runOnce(db.handle, pipeline, config);
      renameSync(join(inbox, 'old.csv'), join(inbox, 'new.csv'));
      writeFile(inbox, 'new.csv', HEADER + line('100', '2025-03-31'));
      const run = await runOnce(db.handle, pipeline, config);
      expect(run.status).toBe('succeeded');
      const missing = run.files.find((f) => f.file.sourceKey === 'old.csv');
      const [runFile] = await rows(db.handle, `select action, message from etl.run_files where run_id = $1 and uri like '%old.csv'`, [run.runId]);
      if (policy === 'retire') {
        expect(missing).toMatchObject({ action: 'retired' });
        expect(runFile).toMatchObject({ action: 'retired', message: expect.stringMatching(/no longer among the sources: its rows .* no longer count \(on_missing: retire\)/) });
        expect(await values(db.handle)).toEqual(['OpenAI 2025-03-31 100']);
      } else {
        expect(missing).toMatchObject({ action: 'missing' });
        expect(runFile).toMatchObject({ action: 'missing', message: expect.stringMatching(/are kept \(on_missing: keep; retire them with run --retire-missing\)/) });
        expect(await values(db.handle)).toEqual(['OpenAI 2025-03-31 100', 'OpenAI 2025-06-30 200']);
        // Said once: the next run does not list it again; --retire-missing retires it.
        const next = await runOnce(db.handle, pipeline, config);
        expect(next.files.map((f) => f.action)).toEqual(['skipped']);
        const retire = await runOnce(db.handle, pipeline, config, { onMissing: 'retire' });
        expect(retire.files.map((f) => f.action)).toEqual(['skipped', 'retired']);
        expect(await values(db.handle)).toEqual(['OpenAI 2025-03-31 100']);
      }
    }
  });

  it('refuses a file that grows between hashing and reading, then loads it as it stands, and follows it when truncated back', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const config = inboxConfig(pipeline, inbox);
    const path = writeFile(inbox, 'series.csv', HEADER + line('100', '2025-03-31'));
    const original = HEADER.length + line('100', '2025-03-31').length;
    // A writer appends to the file after the run hashed it, as the reader starts to read it.
    const appending: AnyPipeline = {
      ...pipeline,
      reader: (runtime, logger) => {
        const inner = pipeline.reader(runtime, logger);
        return {
          read: (file, sink) => {
            appendFileSync(file, line('999', '2025-06-30'));
            return inner.read(file, sink);
          },
        };
      },
    };
    const grown = await runOnce(db.handle, appending, config);
    expect(grown.files[0]).toMatchObject({ action: 'changed', message: expect.stringMatching(/its bytes changed while it was read \(a writer at work\?\); nothing of it was kept/) });
    expect(grown.status).toBe('succeeded');
    expect(await values(db.handle)).toEqual([]);
    expect(await rows(db.handle, 'select * from etl.source_files')).toEqual([]);

    // The writer is done: the next run loads the file as it stands, both lines.
    const next = await runOnce(db.handle, pipeline, config);
    expect(next.counts).toMatchObject({ filesLoaded: 1, rowsLoaded: 2 });
    const [ledger] = await rows<{ size_bytes: number }>(db.handle, 'select size_bytes from etl.source_files where superseded_at is null');
    expect(ledger!.size_bytes).toBe(original + line('999', '2025-06-30').length);

    // Truncated back to its first version: the database follows.
    truncateSync(path, original);
    const back = await runOnce(db.handle, pipeline, config);
    expect(back.counts).toMatchObject({ filesLoaded: 1 });
    expect(await values(db.handle)).toEqual(['OpenAI 2025-03-31 100']);
  });

  it('refuses a file appended to while the reader is in the middle of it', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const config = inboxConfig(pipeline, inbox);
    // Big enough to take several chunks, so that the append lands in the middle of the read.
    let text = HEADER;
    for (let i = 0; i < 20_000; i++) text += `s${i},OpenAI,2025-06-30,${i},USD\n`;
    writeFile(inbox, 'big.csv', text);
    let appended = false;
    const appending: AnyPipeline = {
      ...pipeline,
      reader: (runtime, logger) => {
        const inner = pipeline.reader(runtime, logger);
        return {
          read: (file, sink) =>
            inner.read(file, async (records) => {
              if (!appended) {
                appended = true;
                appendFileSync(file, line('999', '2030-01-01'));
              }
              await sink(records);
            }),
        };
      },
    };
    const run = await runOnce(db.handle, appending, config);
    expect(appended).toBe(true);
    expect(run.files[0]).toMatchObject({ action: 'changed', message: expect.stringMatching(/its bytes changed while it was read/) });
    expect((await rows<{ n: number }>(db.handle, 'select count(*)::int as n from raw.custom_series'))[0]!.n).toBe(0);
  });

  it('reads every line of a CRLF file that has one LF-only line', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(inbox, 'mixed.csv', 'series,subject,date,value,unit\r\n' + 'a,OpenAI,2025-03-31,1,USD\r\n' + 'a,OpenAI,2025-06-30,2,USD\n' + 'a,OpenAI,2025-09-30,3,USD\r\n');
    const run = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox));
    expect(run.counts).toMatchObject({ rowsRead: 3, rowsLoaded: 3, rowsRejected: 0 });
    expect(await values(db.handle)).toEqual(['OpenAI 2025-03-31 1', 'OpenAI 2025-06-30 2', 'OpenAI 2025-09-30 3']);
    const lines = await rows(db.handle, 'select line_no from raw.custom_series order by line_no');
    expect(lines.map((l) => l.line_no)).toEqual([2, 3, 4]);
  });

  it('reads an inbox file whose extension is upper case (DATA.CSV)', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(inbox, 'DATA.CSV', HEADER + line('100'));
    writeFile(inbox, 'notes.txt', 'not a source');
    const { logger, lines } = memoryLogger();
    const run = await runOnce(db.handle, pipeline, inboxConfig(pipeline, inbox), {}, logger);
    expect(run.counts).toMatchObject({ filesLoaded: 1, rowsLoaded: 1 });
    // Files that the pattern does not take are named, not ignored without a word.
    expect(lines.map((l) => l.msg)).toContainEqual(expect.stringMatching(/1 file\(s\) not matching \*\.csv left alone: notes\.txt/));
  });

  it('says a file deleted between listing and reading is gone, instead of failing with a raw ENOENT', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const config = inboxConfig(pipeline, inbox);
    writeFile(inbox, 'a.csv', HEADER + line('100', '2025-03-31'));
    writeFile(inbox, 'b.csv', HEADER + line('200', '2025-06-30'));
    const units = await discoverFiles({ sources: config.sources, baseDir: inbox, spec: pipeline.source, runtime: { pipeline: pipeline.name, options: {}, shared: bundledShared() } });
    rmSync(join(inbox, 'b.csv'));
    const run = await runOnce(db.handle, pipeline, config, { units });
    expect(run.status).toBe('succeeded');
    expect(run.files.map((f) => f.action)).toEqual(['loaded', 'missing']);
    expect(run.files[1]).toMatchObject({ message: expect.stringMatching(/^deleted after this run listed it, before it was read/) });
    expect(await values(db.handle)).toEqual(['OpenAI 2025-03-31 100']);
  });

  it('fails a bad file alone: the good new file beside it loads, the run is partial, and the bad one is retried only when it changes', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    const config = inboxConfig(pipeline, inbox);
    writeFile(inbox, 'bad.csv', 'series;subject;date;value\n');
    const first = await runOnce(db.handle, pipeline, config);
    expect(first.status).toBe('failed');
    writeFile(inbox, 'good.csv', HEADER + line('100'));
    const second = await runOnce(db.handle, pipeline, config);
    expect(second.status).toBe('partial');
    expect(second.counts).toMatchObject({ filesSeen: 2, filesLoaded: 1, filesFailed: 1 });
    expect(second.error).toMatch(/^1 of 2 file\(s\) failed alone and kept nothing; the others loaded: .*bad\.csv: unchanged since it failed in run \d+/);
    expect(await values(db.handle)).toEqual(['OpenAI 2025-06-30 100']);
    const [failure] = await rows(db.handle, 'select source_key, first_run_id, run_id from etl.file_failures');
    expect(failure).toEqual({ source_key: 'bad.csv', first_run_id: first.runId, run_id: first.runId });
    // --retry-failed reads it again although it has not changed.
    const retried = await runOnce(db.handle, pipeline, config, { retryFailed: true });
    expect(retried.files.find((f) => f.file.sourceKey === 'bad.csv')).toMatchObject({ action: 'failed', message: expect.stringMatching(/the header lacks required columns/) });
    // Removing the bad file ends the partial state.
    rmSync(join(inbox, 'bad.csv'));
    const third = await runOnce(db.handle, pipeline, config);
    expect(third.status).toBe('succeeded');
    expect(await rows(db.handle, 'select * from etl.file_failures')).toEqual([]);
  });
});

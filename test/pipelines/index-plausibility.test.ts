import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { indexConstituents } from '../../pipelines/index-constituents/pipeline.js';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/**
 * A snapshot whose size departs from its neighbours' is held back (issue 14, item 7): a truncated
 * download of the S&P 500 (10 rows) made the top-10 share 100% and fired a false alert. The
 * snapshots are the bundled sample's (datasets/s-and-p-500-companies-financials, real caps).
 */

const pipeline = indexConstituents as unknown as AnyPipeline;
const SAMPLE = join(PACKAGE_ROOT, 'data', 'sample', 'index-constituents');
const OPTIONS = { index: 'SP500', layout: 'sp500-financials' };

function config(inbox: string, options: Record<string, unknown> = {}): ResolvedPipelineConfig {
  return { ...inboxConfig(pipeline, inbox), options: { ...OPTIONS, ...options } };
}

function sample(inbox: string, name: string): void {
  copyFileSync(join(SAMPLE, name), join(inbox, name));
}

/** The first `n` rows of a sample snapshot under another date: a download cut short. */
function truncated(inbox: string, from: string, date: string, n: number): string {
  const lines = readFileSync(join(SAMPLE, from), 'utf8').split('\n');
  return writeFile(inbox, `constituents-financials_${date}.csv`, lines.slice(0, n + 1).join('\n') + '\n');
}

/** A sample snapshot under another date with every cap multiplied by `factor`. */
function scaled(inbox: string, from: string, date: string, factor: number): string {
  const [header, ...rest] = readFileSync(join(SAMPLE, from), 'utf8').trim().split('\n');
  const body = rest.map((l) => {
    const cells = l.split(',');
    const cap = cells.length - 2; // Symbol, Name, Sector, Market Cap, Price/Sales (names hold no commas here)
    if (cells[cap] !== '') cells[cap] = String(Math.round(Number(cells[cap]) * factor));
    return cells.join(',');
  });
  return writeFile(inbox, `constituents-financials_${date}.csv`, [header, ...body].join('\n') + '\n');
}

async function dates(handle: Parameters<typeof rows>[0]): Promise<string[]> {
  return (await rows<{ as_of: string }>(handle, 'select as_of from core.index_concentration order by as_of')).map((r) => r.as_of);
}

describeEachDatabase('index-constituents: snapshots that depart from their neighbours are held back', (kind) => {
  it('holds back a 10-row snapshot beside 504-row ones, keeps nothing of it, and loads the full file when it arrives', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    sample(inbox, 'constituents-financials_2025-02-01.csv');
    sample(inbox, 'constituents-financials_2026-06-30.csv');
    const first = await runOnce(db.handle, pipeline, config(inbox));
    expect(first.status, first.error).toBe('succeeded');

    const cut = truncated(inbox, 'constituents-financials_2026-08-22.csv', '2026-08-22', 10);
    const second = await runOnce(db.handle, pipeline, config(inbox));
    expect(second.status).toBe('partial');
    const failed = second.files.find((f) => f.action === 'failed');
    expect(failed).toMatchObject({ file: { path: cut } });
    const message = (failed as { message: string }).message;
    expect(message).toMatch(/^data check index_snapshot_plausible failed on 1 row\(s\): each snapshot in the file has about as many constituents.*; got \[\{.*\}\]; the file is held back \(nothing of it kept\) until it changes, or run --retry-failed$/);
    expect(message).toMatch(/"as_of": ?"2026-08-22"/);
    expect(message).toMatch(/"constituents": ?10[,}]/);
    expect(message).toMatch(/"reference_constituents": ?50[0-9][,}]/);
    expect(await dates(db.handle)).toEqual(['2025-02-01', '2026-06-30']);
    expect(await rows(db.handle, `select count(*)::int as n from raw.index_constituents where as_of = '2026-08-22'`)).toEqual([{ n: 0 }]);
    const [check] = await rows(db.handle, `select check_name, status, failing_rows from etl.check_results where run_id = $1`, [second.runId]);
    expect(check).toEqual({ check_name: 'index_snapshot_plausible:constituents-financials_2026-08-22.csv', status: 'failed', failing_rows: 1 });

    // The whole snapshot replaces the cut one: it loads.
    sample(inbox, 'constituents-financials_2026-08-22.csv');
    const third = await runOnce(db.handle, pipeline, config(inbox));
    expect(third.status, third.error).toBe('succeeded');
    expect(await dates(db.handle)).toEqual(['2025-02-01', '2026-06-30', '2026-08-22']);
  });

  it('holds back a cut snapshot loaded in the same first run as its neighbours', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    sample(inbox, 'constituents-financials_2025-02-01.csv');
    truncated(inbox, 'constituents-financials_2026-06-30.csv', '2026-06-30', 40);
    sample(inbox, 'constituents-financials_2026-08-22.csv');
    const run = await runOnce(db.handle, pipeline, config(inbox));
    expect(run.status).toBe('partial');
    expect(run.files.map((f) => f.action)).toEqual(['loaded', 'failed', 'loaded']);
    expect(await dates(db.handle)).toEqual(['2025-02-01', '2026-08-22']);
  });

  it('holds back a snapshot whose total cap halves within days of its neighbour, and lets it through when the check is off', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    sample(inbox, 'constituents-financials_2026-08-22.csv');
    await runOnce(db.handle, pipeline, config(inbox));
    scaled(inbox, 'constituents-financials_2026-08-22.csv', '2026-08-24', 0.5);
    const held = await runOnce(db.handle, pipeline, config(inbox));
    expect(held.status).toBe('partial');
    const message = (held.files.find((f) => f.action === 'failed') as { message: string }).message;
    expect(message).toMatch(/"constituents": ?503[,}]/);
    expect(message).toMatch(/"reference_constituents": ?503[,}]/);
    expect(message).toMatch(/"as_of": ?"2026-08-24"/);

    const off = await runOnce(db.handle, pipeline, config(inbox, { plausibility: { enabled: false } }), { retryFailed: true });
    expect(off.status, off.error).toBe('succeeded');
    expect(await dates(db.handle)).toEqual(['2026-08-22', '2026-08-24']);
  });

  it('lets through a snapshot within the bands: a month later, a few constituents more or less', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    sample(inbox, 'constituents-financials_2026-06-30.csv');
    await runOnce(db.handle, pipeline, config(inbox));
    truncated(inbox, 'constituents-financials_2026-08-22.csv', '2026-07-15', 480);
    const run = await runOnce(db.handle, pipeline, config(inbox));
    expect(run.status, run.error).toBe('succeeded');
  });
});

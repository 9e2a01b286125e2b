import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { indexConstituents } from '../../pipelines/index-constituents/pipeline.js';
import { planBackfill, runBackfill } from '../../src/backfill/backfill.js';
import { loadConfig, type ResolvedPipelineConfig } from '../../src/config/load.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { ConfigError } from '../../src/errors.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { REGISTRY } from '../../pipelines/registry.js';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { bundledShared, makeInbox, memoryLogger, rows } from '../helpers/pipelines.js';

/** Backfills over the index-constituents snapshots, which are partitioned by day (the snapshot date in the file name). */

const pipeline = indexConstituents as unknown as AnyPipeline;
const SAMPLE = join(PACKAGE_ROOT, 'data', 'sample', 'index-constituents');
const retry = { maxAttempts: 1, baseMs: 1, maxMs: 1 };

function configFor(inbox: string): ResolvedPipelineConfig {
  const bundled = loadConfig({ registry: REGISTRY, env: {} }).pipelines.get('index-constituents')!;
  return { ...bundled, sources: [{ kind: 'path', path: inbox, pattern: '*.csv' }], baseDir: inbox };
}

function inbox(): string {
  const dir = makeInbox();
  for (const f of ['constituents.csv', 'issuers-historical.csv', 'constituents-financials_2024-10-25.csv', 'constituents-financials_2025-02-01.csv', 'constituents-financials_2026-06-30.csv']) {
    cpSync(join(SAMPLE, f), join(dir, f));
  }
  return dir;
}

describeEachDatabase('backfill', (kind) => {
  it('plans partitions in a range: a dry run lists what would run and why', async () => {
    const db = await useDatabase(kind);
    const ctx = { handle: db.handle, logger: memoryLogger().logger, shared: bundledShared() };
    const { plan } = await planBackfill(ctx, pipeline, configFor(inbox()), { from: '2024-10-24', to: '2024-10-26', only: 'missing' });
    expect(plan.partitions).toEqual([
      { key: '2024-10-24', status: 'never', lastRunId: null, inputs: 0, action: 'skip', reason: 'no input file for this period' },
      { key: '2024-10-25', status: 'never', lastRunId: null, inputs: 1, action: 'run', reason: 'never run' },
      { key: '2024-10-26', status: 'never', lastRunId: null, inputs: 0, action: 'skip', reason: 'no input file for this period' },
    ]);
  });

  it('runs missing partitions, resumes after an interruption, and does nothing the second time', async () => {
    const db = await useDatabase(kind);
    const dir = inbox();
    const config = configFor(dir);
    const ctx = { handle: db.handle, logger: memoryLogger().logger, shared: bundledShared() };
    const range = { from: '2024-01-01', to: '2026-12-31', only: 'missing' as const };

    // First attempt stops after one partition (as if Ctrl-C had been pressed).
    const first = await planBackfill(ctx, pipeline, config, range);
    expect(first.plan.partitions.filter((p) => p.action === 'run').map((p) => p.key)).toEqual(['2024-10-25', '2025-02-01', '2026-06-30']);
    const controller = new AbortController();
    const interrupted = await runBackfill(ctx, pipeline, config, first.plan, first.inputs, {
      concurrency: 1,
      retry,
      signal: controller.signal,
      onProgress: () => controller.abort(new Error('stopped by the test')),
    });
    expect(interrupted).toMatchObject({ succeeded: 1, failed: 0 });

    // Run again: only what is left.
    const second = await planBackfill(ctx, pipeline, config, range);
    expect(second.plan.partitions.filter((p) => p.action === 'run').map((p) => p.key)).toEqual(['2025-02-01', '2026-06-30']);
    const progress: string[] = [];
    const resumed = await runBackfill(ctx, pipeline, config, second.plan, second.inputs, {
      concurrency: 2,
      retry,
      onProgress: (e) => progress.push(`${e.done}/${e.total} ${e.partition} ${e.summary.status}`),
    });
    expect(resumed).toMatchObject({ succeeded: 2, failed: 0, interrupted: 0 });
    expect(progress).toHaveLength(2);

    const partitions = await rows(db.handle, `select partition_key, status, rows_loaded from etl.partitions where pipeline = 'index-constituents' order by 1`);
    expect(partitions).toEqual([
      { partition_key: '2024-10-25', status: 'succeeded', rows_loaded: 503 },
      { partition_key: '2025-02-01', status: 'succeeded', rows_loaded: 503 },
      { partition_key: '2026-06-30', status: 'succeeded', rows_loaded: 503 },
    ]);
    const runs = await rows<{ trigger: string; partition_key: string; backfill_id: number }>(
      db.handle,
      `select trigger, partition_key, backfill_id from etl.runs order by run_id`,
    );
    expect(runs.every((r) => r.trigger === 'backfill' && r.backfill_id !== null)).toBe(true);

    // The backfilled history computes the same figures as loading everything at once.
    const concentration = await rows<{ as_of: string; top10_share: number }>(db.handle, 'select as_of, top10_share from analytics.index_concentration order by as_of');
    expect(concentration.map((c) => [c.as_of, Math.round(c.top10_share * 10000) / 100])).toEqual([
      ['2024-10-25', 36.6],
      ['2025-02-01', 38.09],
      ['2026-06-30', 39.66],
    ]);

    // Nothing is left to do.
    const third = await planBackfill(ctx, pipeline, config, range);
    expect(third.plan.partitions.filter((p) => p.action === 'run')).toEqual([]);
    // --only all runs every partition with an input again; the files are already loaded, so nothing changes.
    const all = await planBackfill(ctx, pipeline, config, { ...range, only: 'all' });
    expect(all.plan.partitions.filter((p) => p.action === 'run')).toHaveLength(3);
  });

  it('reruns only failed partitions with --only failed', async () => {
    const db = await useDatabase(kind);
    const dir = inbox();
    const config = configFor(dir);
    const ctx = { handle: db.handle, logger: memoryLogger().logger, shared: bundledShared() };
    const broken = join(dir, 'constituents-financials_2025-02-01.csv');
    const good = join(SAMPLE, 'constituents-financials_2025-02-01.csv');
    cpSync(join(PACKAGE_ROOT, 'test', 'fixtures', 'custom-series', 'not_utf8.csv'), broken);
    const range = { from: '2025-01-01', to: '2025-12-31', only: 'missing' as const };
    const first = await planBackfill(ctx, pipeline, config, range);
    const result = await runBackfill(ctx, pipeline, config, first.plan, first.inputs, { concurrency: 1, retry });
    expect(result).toMatchObject({ succeeded: 0, failed: 1 });
    expect(result.failures[0]!.error).toMatch(/constituents-financials_2025-02-01\.csv:3: bytes that are not UTF-8/);
    expect((await planBackfill(ctx, pipeline, config, range)).plan.partitions.find((p) => p.key === '2025-02-01')).toMatchObject({
      action: 'skip',
      status: 'failed',
    });
    rmSync(broken);
    cpSync(good, broken);
    const retried = await planBackfill(ctx, pipeline, config, { ...range, only: 'failed' });
    expect(retried.plan.partitions.filter((p) => p.action === 'run').map((p) => p.key)).toEqual(['2025-02-01']);
    const fixed = await runBackfill(ctx, pipeline, config, retried.plan, retried.inputs, { concurrency: 1, retry });
    expect(fixed).toMatchObject({ succeeded: 1, failed: 0 });
  });

  it('refuses pipelines without partitions, and ranges that are not periods', async () => {
    const db = await useDatabase(kind);
    const ctx = { handle: db.handle, logger: memoryLogger().logger, shared: bundledShared() };
    const custom = customSeries as unknown as AnyPipeline;
    const config = loadConfig({ registry: REGISTRY, env: {} }).pipelines.get('custom-series')!;
    await expect(planBackfill(ctx, custom, config, { from: '2025-01-01', to: '2025-01-02', only: 'missing' })).rejects.toThrow(
      /pipeline custom-series has no partitions: each of its source files covers its whole history/,
    );
    await expect(planBackfill(ctx, pipeline, configFor(inbox()), { from: '2025-02-01', to: '2025-01-01', only: 'missing' })).rejects.toThrow(ConfigError);
  });
});

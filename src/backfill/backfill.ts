import { hostname } from 'node:os';
import type { AppContext } from '../app/context.js';
import type { ResolvedPipelineConfig } from '../config/load.js';
import type { PartitionStatus } from '../db/tables/scheduling.table.js';
import { discoverFiles, type DiscoveredFile } from '../engine/discover.js';
import { PARTITION_PLACEHOLDER, partitionRange } from '../engine/partitions.js';
import type { AnyPipeline, PipelineRuntime } from '../engine/pipeline.js';
import type { BackoffPolicy } from '../engine/retry.js';
import type { RunSummary } from '../engine/run-pipeline.js';
import { runWithRetries } from '../engine/run-with-retries.js';
import { ConfigError } from '../errors.js';

/**
 * Backfills over partitions (periods), as Airflow 3 and Dagster do them:
 *   missing  partitions never run successfully (never run, interrupted, or not yet published)   [default]
 *   failed   those, and partitions whose last run failed
 *   all      every partition in the range
 * Each partition is its own run and transaction, recorded in etl.partitions as it finishes, so
 * a backfill that crashed resumes where it stopped when run again, and scheduled runs of the
 * same pipeline get their turn between partitions (the pipeline lock is held per run, not per backfill).
 */

export type OnlyMode = 'missing' | 'failed' | 'all';

export interface PlannedPartition {
  readonly key: string;
  /** How it last ran, or 'never'. */
  readonly status: PartitionStatus | 'never';
  readonly lastRunId: number | null;
  readonly inputs: number;
  readonly action: 'run' | 'skip';
  readonly reason: string;
}

export interface BackfillPlan {
  readonly pipeline: string;
  readonly from: string;
  readonly to: string;
  readonly only: OnlyMode;
  readonly partitions: readonly PlannedPartition[];
}

/** What a backfill uses of the AppContext: the database, logger and shared config, and what runs use (fetcher, alerts, lock wait). */
export type BackfillContext = Pick<AppContext, 'handle' | 'logger' | 'shared'> & Partial<Pick<AppContext, 'fetch' | 'afterSuccess' | 'lockWaitMs'>>;

function requirePartitions(pipeline: AnyPipeline) {
  if (!pipeline.partitions) {
    throw new ConfigError(
      `pipeline ${pipeline.name} has no partitions: each of its source files covers its whole history, so there is nothing to backfill period by period; use bubblewatch run ${pipeline.name} (--full-refresh to recompute)`,
    );
  }
  return pipeline.partitions;
}

export async function planBackfill(
  ctx: BackfillContext,
  pipeline: AnyPipeline,
  config: ResolvedPipelineConfig,
  range: { from: string; to: string; only: OnlyMode },
): Promise<{ plan: BackfillPlan; inputs: ReadonlyMap<string, readonly DiscoveredFile[]> }> {
  const spec = requirePartitions(pipeline);
  const keys = partitionRange(range.from, range.to, spec.grain);
  const runtime: PipelineRuntime = { pipeline: pipeline.name, options: config.options, shared: ctx.shared };

  // URL templates with partition placeholders give every partition an input (fetched when it runs);
  // files in folders are listed once and grouped by the partition their names say they hold.
  const urlTemplated = config.sources.some((s) => s.kind === 'url' && PARTITION_PLACEHOLDER.test(s.url));
  const pathSources = config.sources.filter((s) => s.kind === 'path');
  const inputs = new Map<string, DiscoveredFile[]>();
  // Files that belong to no period (a ticker → issuer map) go with every partition: loaded once, then skipped.
  const shared: DiscoveredFile[] = [];
  if (pathSources.length > 0) {
    const files = await discoverFiles({ sources: pathSources, baseDir: config.baseDir, spec: pipeline.source, runtime });
    for (const f of files) {
      const key = spec.keyOf(f);
      if (!key) shared.push(f);
      else inputs.set(key, [...(inputs.get(key) ?? []), f]);
    }
  }

  const rows = await ctx.handle.db
    .selectFrom('etl.partitions')
    .select(['partition_key', 'status', 'last_run_id'])
    .where('pipeline', '=', pipeline.name)
    .where('partition_key', '>=', keys[0]!)
    .where('partition_key', '<=', keys.at(-1)!)
    .execute();
  const known = new Map(rows.map((r) => [r.partition_key, r]));

  const partitions: PlannedPartition[] = keys.map((key) => {
    const row = known.get(key);
    const status: PlannedPartition['status'] = row?.status ?? 'never';
    const count = inputs.get(key)?.length ?? (urlTemplated ? 1 : 0); // period files only, not the shared maps
    const base = { key, status, lastRunId: row?.last_run_id ?? null, inputs: count };
    if (count === 0) return { ...base, action: 'skip', reason: 'no input file for this period' };
    const wanted =
      range.only === 'all' ||
      status === 'never' ||
      status === 'interrupted' ||
      status === 'no_input' ||
      // The publisher had not published it when last asked: ask again.
      status === 'not_available' ||
      (range.only === 'failed' && (status === 'failed' || status === 'partial'));
    if (!wanted) {
      return { ...base, action: 'skip', reason: status === 'failed' ? `last run ${row?.last_run_id} failed (use --only failed)` : `already ${status} (run ${row?.last_run_id})` };
    }
    return { ...base, action: 'run', reason: status === 'never' ? 'never run' : `last run ${row?.last_run_id}: ${status}` };
  });
  const withShared = new Map([...inputs].map(([key, files]) => [key, [...shared, ...files]]));
  return { plan: { pipeline: pipeline.name, from: keys[0]!, to: keys.at(-1)!, only: range.only, partitions }, inputs: withShared };
}

export interface BackfillProgress {
  (event: { done: number; total: number; partition: string; summary: RunSummary }): void;
}

export interface BackfillResult {
  readonly backfillId: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  readonly interrupted: number;
  readonly rowsRead: number;
  readonly rowsLoaded: number;
  readonly rowsRejected: number;
  readonly durationMs: number;
  readonly failures: readonly { partition: string; error: string }[];
  /** Partitions that succeeded with nothing to read because the publisher has not published them yet (counted in succeeded). */
  readonly notAvailable: readonly string[];
}

export async function runBackfill(
  ctx: BackfillContext,
  pipeline: AnyPipeline,
  config: ResolvedPipelineConfig,
  plan: BackfillPlan,
  inputs: ReadonlyMap<string, readonly DiscoveredFile[]>,
  options: { concurrency: number; retry: BackoffPolicy; signal?: AbortSignal; onProgress?: BackfillProgress },
): Promise<BackfillResult> {
  const started = performance.now();
  const todo = plan.partitions.filter((p) => p.action === 'run');
  const { backfill_id: backfillId } = await ctx.handle.db
    .insertInto('etl.backfills')
    .values({
      pipeline: pipeline.name,
      from_partition: plan.from,
      to_partition: plan.to,
      only_mode: plan.only,
      status: 'running',
      partitions_total: todo.length,
      finished_at: null,
      host: hostname(),
      pid: process.pid,
    })
    .returning('backfill_id')
    .executeTakeFirstOrThrow();

  let next = 0;
  let done = 0;
  const result = { succeeded: 0, failed: 0, interrupted: 0, rowsRead: 0, rowsLoaded: 0, rowsRejected: 0 };
  const failures: { partition: string; error: string }[] = [];
  const notAvailable: string[] = [];
  const worker = async () => {
    while (next < todo.length && !options.signal?.aborted) {
      const partition = todo[next++]!;
      const units = inputs.get(partition.key);
      const summary = await runWithRetries(
        ctx,
        pipeline,
        config,
        {
          trigger: 'backfill',
          partitionKey: partition.key,
          backfillId,
          // Asked to redo failed partitions: read their failed files again, changed or not.
          ...(plan.only === 'failed' ? { retryFailed: true } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          // Files in folders: this partition's, as listed once; URL templates are filled with the partition instead.
          ...(units ? { units } : {}),
        },
        options.retry,
      );
      done++;
      if (summary.status === 'succeeded') {
        result.succeeded++;
        if (summary.files.some((f) => f.action === 'not_available')) notAvailable.push(partition.key);
      } else if (summary.status === 'interrupted') result.interrupted++;
      else {
        result.failed++;
        failures.push({ partition: partition.key, error: summary.error ?? 'failed' });
      }
      result.rowsRead += summary.counts.rowsRead;
      result.rowsLoaded += summary.counts.rowsLoaded;
      result.rowsRejected += summary.counts.rowsRejected;
      options.onProgress?.({ done, total: todo.length, partition: partition.key, summary });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, todo.length || 1)) }, worker));

  const status = options.signal?.aborted || result.interrupted > 0 ? 'interrupted' : result.failed > 0 ? 'failed' : 'succeeded';
  await ctx.handle.db.updateTable('etl.backfills').set({ status, finished_at: new Date() }).where('backfill_id', '=', backfillId).execute();
  return {
    backfillId,
    ...result,
    skipped: plan.partitions.length - todo.length + (todo.length - done),
    durationMs: Math.round(performance.now() - started),
    failures,
    notAvailable: notAvailable.sort(),
  };
}

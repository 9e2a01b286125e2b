import type { ResolvedPipelineConfig } from '../config/load.js';
import type { DatabaseHandle, SqlConnection } from '../db/connect.js';
import type { RunTrigger } from '../db/tables/runs.table.js';
import { DataCheckError, InputFileError, RunInterrupted, errorMessage, redactSecrets, throwIfAborted, withoutNul } from '../errors.js';
import { isConnectionLoss, isTransient } from './retry.js';
import type { Logger } from '../log/logger.js';
import { checkTableCounts, runChecks, type CheckOutcome } from './checks.js';
import { describeUnit, discoverFiles, type DiscoveredFile, type Fetcher } from './discover.js';
import { loadUnit, type FileLoadCounts } from './load-records.js';
import type { AnyPipeline, PipelineRuntime } from './pipeline.js';
import { ZERO_COUNTS, finishRun, heartbeat, startRun, type RunCounts } from './run-ledger.js';
import { runTransforms } from './transforms.js';

/**
 * One run of one pipeline:
 *   record the run → find source files → (one transaction) skip files already loaded,
 *   load new ones, supersede older versions, run transforms and data checks → record the outcome.
 * The transaction makes the run all-or-nothing: a file that cannot be parsed, a failing
 * transform or an `error` data check leaves the database as it was (apart from the run's
 * own ledger entry, which says what happened).
 */

export interface RunOptions {
  readonly trigger: RunTrigger;
  /** Recompute every transform over all data instead of only what this run touched. */
  readonly fullRefresh?: boolean;
  readonly scheduledFor?: Date;
  readonly partitionKey?: string;
  /** How often the run's heartbeat is written while it works. */
  readonly heartbeatMs?: number;
  /** Aborting stops the run at the next batch; it rolls back and is recorded as interrupted. */
  readonly signal?: AbortSignal;
  readonly attempt?: number;
  readonly retryOf?: number;
  readonly backfillId?: number;
  /** Only these source units (a partition's inputs); all discovered units otherwise. */
  readonly select?: (file: DiscoveredFile) => boolean;
  /** Units already discovered (a backfill lists the folder once); skips discovery. */
  readonly units?: readonly DiscoveredFile[];
}

export type FileOutcome =
  | { readonly action: 'loaded'; readonly file: DiscoveredFile; readonly fileId: number; readonly counts: FileLoadCounts; readonly superseded: number[] }
  | { readonly action: 'skipped'; readonly file: DiscoveredFile; readonly fileId: number; readonly loadedByRun: number }
  | { readonly action: 'failed'; readonly file: DiscoveredFile; readonly message: string };

export interface RunSummary {
  readonly runId: number;
  readonly pipeline: string;
  readonly status: 'succeeded' | 'failed' | 'interrupted';
  /** The failure looks transient (connection lost, HTTP 429/5xx): another attempt may succeed. */
  readonly transient: boolean;
  readonly counts: RunCounts;
  readonly files: readonly FileOutcome[];
  readonly checks: readonly CheckOutcome[];
  readonly durationMs: number;
  readonly error?: string;
}

export interface RunContext {
  readonly handle: DatabaseHandle;
  readonly logger: Logger;
  /** Shared config sections (companies, metrics, …) handed to the pipeline. */
  readonly shared?: Readonly<Record<string, unknown>>;
  /** Fetches URL sources; absent when no source is a URL. */
  readonly fetch?: Fetcher;
  /** Called after a run succeeds (alert evaluation); its failure is logged, not the run's. */
  readonly afterSuccess?: (summary: RunSummary, options: RunOptions) => Promise<void>;
}

/** Any 32-bit constant; with the pipeline's hash it names the pipeline's advisory lock. */
const PIPELINE_LOCK_CLASS = 0x62775f70; // "bw_p"

class RunAbort extends Error {
  constructor(
    override readonly cause: unknown,
    readonly files: readonly FileOutcome[],
    readonly checks: readonly CheckOutcome[],
  ) {
    super(errorMessage(cause));
  }
}

function tally(files: readonly FileOutcome[]): RunCounts {
  const counts = { ...ZERO_COUNTS, filesSeen: files.length };
  for (const f of files) {
    if (f.action === 'loaded') {
      counts.filesLoaded++;
      counts.rowsRead += f.counts.read;
      counts.rowsLoaded += f.counts.loaded;
      counts.rowsRejected += f.counts.rejected;
      counts.rowsSkipped += f.counts.skipped;
    } else if (f.action === 'skipped') {
      counts.filesSkipped++;
    }
  }
  return counts;
}

export async function runPipeline(
  ctx: RunContext,
  pipeline: AnyPipeline,
  config: ResolvedPipelineConfig,
  options: RunOptions,
): Promise<RunSummary> {
  const started = performance.now();
  const runId = await startRun(ctx.handle, {
    pipeline: pipeline.name,
    trigger: options.trigger,
    scheduledFor: options.scheduledFor,
    partitionKey: options.partitionKey,
    attempt: options.attempt,
    retryOf: options.retryOf,
    backfillId: options.backfillId,
  });
  const log = ctx.logger.child({ pipeline: pipeline.name, run_id: runId });
  log.info(`run ${runId} of ${pipeline.name} started (${options.trigger})`);

  let beat: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    beat = beat.then(() => heartbeat(ctx.handle, runId)).catch(() => {});
  }, options.heartbeatMs ?? 15_000);
  timer.unref();

  try {
    const runtime: PipelineRuntime = { pipeline: pipeline.name, options: config.options, shared: ctx.shared ?? {} };
    const all = options.units ?? await discoverFiles({
      sources: config.sources,
      baseDir: config.baseDir,
      spec: pipeline.source,
      runtime,
      fetch: ctx.fetch,
      partitionKey: options.partitionKey,
      partitions: pipeline.partitions,
      onRefused: (path, reason) => log.warn({ file: path }, `${path}: not read: ${reason}`),
    });
    const discovered = options.select ? all.filter(options.select) : all;
    throwIfAborted(options.signal);
    log.debug({ files: discovered.length }, `found ${discovered.length} source unit(s)`);
    const { files, checks } = await ctx.handle.withTransaction((conn) => loadAndTransform(conn, pipeline, runtime, runId, discovered, options, log));
    const counts = tally(files);
    clearInterval(timer);
    await beat;
    try {
      await finishRun(ctx.handle, runId, 'succeeded', counts);
    } catch (e) {
      // Committed already: the run succeeded even if the ledger cannot say so now (the next
      // process marks it interrupted; its files and counts are in etl.source_files).
      log.warn({ err: e }, `run ${runId} of ${pipeline.name} committed its data but could not be recorded as succeeded: ${redactSecrets(errorMessage(e))}`);
    }
    await recordPartitions(ctx.handle, pipeline, runId, options.partitionKey, files, 'succeeded').catch((e: unknown) =>
      log.warn({ err: e }, 'could not record partition status'),
    );
    const summary: RunSummary = { runId, pipeline: pipeline.name, status: 'succeeded', transient: false, counts, files, checks, durationMs: Math.round(performance.now() - started) };
    logOutcome(log, summary);
    if (ctx.afterSuccess) {
      await ctx.afterSuccess(summary, options).catch((e: unknown) => log.error({ err: e }, `after run ${runId}: ${errorMessage(e)}`));
    }
    return summary;
  } catch (error) {
    clearInterval(timer);
    await beat;
    const aborted = error instanceof RunAbort ? error : undefined;
    const cause = aborted ? aborted.cause : error;
    const message = describeFailure(ctx.handle, cause);
    // Files loaded before the failure were rolled back with it: only the failed one is reported.
    const files = (aborted?.files ?? []).filter((f) => f.action === 'failed');
    const checks = aborted?.checks ?? [];
    await recordFailure(ctx.handle, runId, pipeline, files, checks).catch((e: unknown) => {
      log.warn({ err: e }, 'could not record the failed run\'s file and check details');
    });
    const interrupted = cause instanceof RunInterrupted;
    const transient = !interrupted && isTransient(cause);
    try {
      await finishRun(ctx.handle, runId, interrupted ? 'interrupted' : 'failed', { ...ZERO_COUNTS, filesSeen: files.length }, message);
    } catch (e) {
      // The database itself went away (the usual reason for getting here with a connection
      // error): the run cannot be marked now. Its transaction rolled back all the same, and
      // the next process marks it interrupted once its heartbeat is stale. The cause reported
      // is the first failure, not this echo of it.
      log.warn({ err: e }, `run ${runId} of ${pipeline.name} could not be recorded as failed: ${redactSecrets(errorMessage(e))}`);
    }
    await recordPartitions(ctx.handle, pipeline, runId, options.partitionKey, files, interrupted ? 'interrupted' : 'failed', message).catch(() => {});
    const summary: RunSummary = {
      runId,
      pipeline: pipeline.name,
      status: interrupted ? 'interrupted' : 'failed',
      transient,
      counts: { ...ZERO_COUNTS, filesSeen: files.length },
      files,
      checks,
      durationMs: Math.round(performance.now() - started),
      error: message,
    };
    if (interrupted) log.warn(`run ${runId} of ${pipeline.name} was interrupted and rolled back: ${message}`);
    else log.error({ err: cause instanceof InputFileError || cause instanceof DataCheckError ? undefined : cause, transient }, `run ${runId} of ${pipeline.name} failed: ${message}`);
    return summary;
  }
}

async function loadAndTransform(
  conn: SqlConnection,
  pipeline: AnyPipeline,
  runtime: PipelineRuntime,
  runId: number,
  discovered: readonly DiscoveredFile[],
  options: RunOptions,
  log: Logger,
): Promise<{ files: FileOutcome[]; checks: CheckOutcome[] }> {
  // One run per pipeline at a time: a second run waits here, then sees the first one's files as loaded.
  await conn.query('select pg_advisory_xact_lock($1, hashtext($2))', [PIPELINE_LOCK_CLASS, pipeline.name]);

  const prepared = pipeline.prepare ? await pipeline.prepare(conn, runtime) : undefined;
  const fullRefresh = (options.fullRefresh ?? false) || (prepared?.fullRefresh ?? false);
  if (prepared?.fullRefresh) log.info('configuration changed since the last run: recomputing everything this pipeline derives');

  const files: FileOutcome[] = [];
  const loadedShas = await alreadyLoaded(conn, pipeline.name, discovered.map((f) => f.sha256));
  for (const file of discovered) {
    throwIfAborted(options.signal);
    const previous = loadedShas.get(file.sha256);
    if (previous) {
      files.push({ action: 'skipped', file, fileId: previous.fileId, loadedByRun: previous.runId });
      log.info({ file: file.uri, file_id: previous.fileId }, `${describeUnit(file)}: already loaded (same SHA-256, file ${previous.fileId}, run ${previous.runId}); skipped`);
      continue;
    }
    try {
      const outcome = await loadOneFile(conn, pipeline, runtime, runId, file, log, options.signal);
      files.push(outcome);
      loadedShas.set(file.sha256, { fileId: outcome.fileId, runId });
    } catch (error) {
      files.push({ action: 'failed', file, message: withoutNul(redactSecrets(errorMessage(error))) });
      throw new RunAbort(error, files, []);
    }
  }

  const changed = files.some((f) => f.action === 'loaded');
  let checks: CheckOutcome[] = [];
  let tableCounts: { table: string; count: number }[] = [];
  if (changed || fullRefresh) {
    throwIfAborted(options.signal);
    await runTransforms(conn, pipeline.transforms, { runId, pipeline: pipeline.name, fullRefresh }, log);
    await conn.query(`select set_config('bubblewatch.run_id', $1, true)`, [String(runId)]);
    checks = await runChecks(conn, pipeline.checks);
    // A configuration change (a company disabled) legitimately removes rows: the guards wait for the next run.
    const guarded = await checkTableCounts(conn, pipeline.name, pipeline.guardedTables ?? [], !prepared?.fullRefresh);
    checks.push(...guarded.outcomes);
    tableCounts = guarded.counts;
    for (const c of checks.filter((c) => !c.passed)) {
      const line = `data check ${c.check.name} failed on ${c.failingRows} row(s): ${c.check.description}`;
      if (c.check.severity === 'warn') log.warn({ check: c.check.name, failing_rows: c.failingRows, sample: c.sample.slice(0, 3) }, line);
    }
    const blocking = checks.filter((c) => !c.passed && c.check.severity === 'error');
    if (blocking.length > 0) {
      const text = blocking.map((c) => `${c.check.name} (${c.failingRows} failing row(s): ${c.check.description})`).join('; ');
      throw new RunAbort(new DataCheckError(`data check failed, nothing from this run was kept: ${text}; failing rows are in etl.check_results`), files, checks);
    }
  } else {
    log.info('no new files; nothing to transform');
  }

  await recordFiles(conn, runId, files);
  await recordChecks(conn, runId, pipeline.name, checks);
  for (const t of tableCounts) {
    await conn.query('insert into etl.table_counts (run_id, pipeline, table_name, row_count) values ($1, $2, $3, $4)', [runId, pipeline.name, t.table, t.count]);
  }
  return { files, checks };
}

async function alreadyLoaded(conn: SqlConnection, pipeline: string, shas: readonly string[]): Promise<Map<string, { fileId: number; runId: number }>> {
  const map = new Map<string, { fileId: number; runId: number }>();
  if (shas.length === 0) return map;
  const rows = await conn.db
    .selectFrom('etl.source_files')
    .select(['sha256', 'file_id', 'run_id'])
    .where('pipeline', '=', pipeline)
    .where('sha256', 'in', [...new Set(shas)])
    .execute();
  for (const r of rows) map.set(r.sha256, { fileId: r.file_id, runId: r.run_id });
  return map;
}

async function loadOneFile(
  conn: SqlConnection,
  pipeline: AnyPipeline,
  runtime: PipelineRuntime,
  runId: number,
  file: DiscoveredFile,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<Extract<FileOutcome, { action: 'loaded' }>> {
  const started = performance.now();
  // The older version of this file (same source key) stops counting once this one is in.
  const older = await conn.db
    .selectFrom('etl.source_files')
    .select('file_id')
    .where('pipeline', '=', pipeline.name)
    .where('source_key', '=', file.sourceKey)
    .where('superseded_at', 'is', null)
    .execute();
  if (older.length > 0) {
    // Leave the partial unique index (one current version per source key) before the new version enters it.
    await conn.db
      .updateTable('etl.source_files')
      .set({ superseded_at: new Date(), superseded_run_id: runId })
      .where('file_id', 'in', older.map((o) => o.file_id))
      .execute();
  }
  const inserted = await conn.db
    .insertInto('etl.source_files')
    .values({
      pipeline: pipeline.name,
      source_key: file.sourceKey,
      uri: file.uri,
      sha256: file.sha256,
      size_bytes: file.sizeBytes,
      run_id: runId,
      superseded_by: null,
      superseded_at: null,
      superseded_run_id: null,
    })
    .returning('file_id')
    .executeTakeFirstOrThrow();
  const fileId = inserted.file_id;
  if (older.length > 0) {
    await conn.db
      .updateTable('etl.source_files')
      .set({ superseded_by: fileId })
      .where('file_id', 'in', older.map((o) => o.file_id))
      .execute();
  }

  const counts = await loadUnit(conn, pipeline, runtime, runId, { path: file.path, uri: file.uri, fileId }, log, signal);
  await conn.db
    .updateTable('etl.source_files')
    .set({ rows_read: counts.read, rows_loaded: counts.loaded, rows_rejected: counts.rejected, rows_skipped: counts.skipped })
    .where('file_id', '=', fileId)
    .execute();
  const ms = Math.round(performance.now() - started);
  const supersededIds = older.map((o) => o.file_id);
  log.info(
    { file: file.uri, file_id: fileId, read: counts.read, loaded: counts.loaded, rejected: counts.rejected, skipped: counts.skipped, ms, superseded: supersededIds },
    `${describeUnit(file)}: read ${counts.read}, loaded ${counts.loaded}, rejected ${counts.rejected}, skipped ${counts.skipped}` +
      (supersededIds.length > 0 ? ` (supersedes file ${supersededIds.join(', ')})` : ''),
  );
  if (counts.rejected > 0) {
    log.warn({ file: file.uri, rejected: counts.rejected }, `${describeUnit(file)}: ${counts.rejected} row(s) rejected; see etl.rejects where file_id = ${fileId}`);
  }
  return { action: 'loaded', file, fileId, counts, superseded: supersededIds };
}

async function recordFiles(conn: SqlConnection, runId: number, files: readonly FileOutcome[]): Promise<void> {
  if (files.length === 0) return;
  await conn.db
    .insertInto('etl.run_files')
    .values(
      files.map((f) => ({
        run_id: runId,
        uri: f.file.uri,
        sha256: f.file.sha256,
        size_bytes: f.file.sizeBytes,
        action: f.action,
        file_id: f.action === 'failed' ? null : f.fileId,
        rows_read: f.action === 'loaded' ? f.counts.read : 0,
        rows_loaded: f.action === 'loaded' ? f.counts.loaded : 0,
        rows_rejected: f.action === 'loaded' ? f.counts.rejected : 0,
        rows_skipped: f.action === 'loaded' ? f.counts.skipped : 0,
        message:
          f.action === 'skipped'
            ? `already loaded as file ${f.fileId} by run ${f.loadedByRun} (same SHA-256)`
            : f.action === 'failed'
              ? f.message
              : f.superseded.length > 0
                ? `supersedes file ${f.superseded.join(', ')}`
                : null,
      })),
    )
    .execute();
}

async function recordChecks(conn: SqlConnection, runId: number, pipeline: string, checks: readonly CheckOutcome[]): Promise<void> {
  if (checks.length === 0) return;
  for (const c of checks.filter((x) => !x.passed)) {
    for (let i = 0; i < c.kept.length; i += 200) {
      await conn.db
        .insertInto('etl.check_failures')
        .values(c.kept.slice(i, i + 200).map((row, j) => ({ run_id: runId, pipeline, check_name: c.check.name, row_no: i + j + 1, row_data: JSON.stringify(row) })))
        .execute();
    }
  }
  await conn.db
    .insertInto('etl.check_results')
    .values(
      checks.map((c) => ({
        run_id: runId,
        pipeline,
        check_name: c.check.name,
        severity: c.check.severity,
        status: c.passed ? ('passed' as const) : ('failed' as const),
        failing_rows: c.failingRows,
        sample: JSON.stringify(c.sample),
        description: c.check.description,
      })),
    )
    .execute();
}

/**
 * After a rollback, keep what explains the failure: which file failed and why, and the
 * failing rows of data checks. Loaded rows and rejects of the failed run are gone with it.
 */
async function recordFailure(
  handle: DatabaseHandle,
  runId: number,
  pipeline: AnyPipeline,
  files: readonly FileOutcome[],
  checks: readonly CheckOutcome[],
): Promise<void> {
  await handle.withTransaction(async (conn) => {
    const failed = files.filter((f) => f.action === 'failed');
    await recordFiles(conn, runId, failed);
    await recordChecks(conn, runId, pipeline.name, checks.filter((c) => !c.passed));
  });
}

/**
 * Partition status: each partition a run touched (the one it was asked for, and the
 * partitions of the files it loaded or found loaded) and how that went.
 */
async function recordPartitions(
  handle: DatabaseHandle,
  pipeline: AnyPipeline,
  runId: number,
  requested: string | undefined,
  files: readonly FileOutcome[],
  status: 'succeeded' | 'failed' | 'interrupted',
  error?: string,
): Promise<void> {
  const spec = pipeline.partitions;
  if (!spec) return;
  const byKey = new Map<string, { read: number; loaded: number; rejected: number; files: number }>();
  const add = (key: string | undefined, f?: FileOutcome) => {
    if (!key) return;
    const entry = byKey.get(key) ?? { read: 0, loaded: 0, rejected: 0, files: 0 };
    if (f) {
      entry.files++;
      if (f.action === 'loaded') {
        entry.read += f.counts.read;
        entry.loaded += f.counts.loaded;
        entry.rejected += f.counts.rejected;
      }
    }
    byKey.set(key, entry);
  };
  // A file counts toward the partition its name says; a URL filled for the requested partition toward that one.
  // Files of no period (a ticker map loaded alongside) count toward none.
  for (const f of files) add(spec.keyOf(f.file) ?? (f.file.uri !== f.file.path ? requested : undefined), f);
  if (requested && !byKey.has(requested)) add(requested);
  for (const [key, c] of byKey) {
    // A partition a successful run found already loaded keeps its counts from the run that loaded it.
    const nothingNew = status === 'succeeded' && c.read === 0 && c.files > 0;
    await handle.db
      .insertInto('etl.partitions')
      .values({
        pipeline: pipeline.name,
        partition_key: key,
        status: status === 'succeeded' && c.files === 0 ? 'no_input' : status,
        last_run_id: runId,
        rows_read: c.read,
        rows_loaded: c.loaded,
        rows_rejected: c.rejected,
        files: c.files,
        error: error ?? null,
      })
      .onConflict((oc) =>
        oc.columns(['pipeline', 'partition_key']).doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          last_run_id: eb.ref('excluded.last_run_id'),
          error: eb.ref('excluded.error'),
          updated_at: new Date(),
          ...(nothingNew
            ? {}
            : {
                rows_read: eb.ref('excluded.rows_read'),
                rows_loaded: eb.ref('excluded.rows_loaded'),
                rows_rejected: eb.ref('excluded.rows_rejected'),
                files: eb.ref('excluded.files'),
              }),
        })),
      )
      .execute();
  }
}

/** The run's error: the cause, and when the database went away, that it did and that nothing was kept. */
function describeFailure(handle: DatabaseHandle, cause: unknown): string {
  const message = withoutNul(redactSecrets(errorMessage(cause)));
  if (!isConnectionLoss(cause)) return message;
  const where = handle.kind === 'pglite' ? 'the embedded database' : `the PostgreSQL server at ${handle.location}`;
  return `lost the connection to ${where} (${message}); the run's transaction rolled back, so nothing from it was kept`;
}

function logOutcome(log: Logger, summary: RunSummary): void {
  const c = summary.counts;
  log.info(
    { status: summary.status, ms: summary.durationMs, ...c },
    `run ${summary.runId} of ${summary.pipeline} succeeded in ${summary.durationMs} ms: ` +
      `${c.filesLoaded} file(s) loaded, ${c.filesSkipped} skipped; rows read ${c.rowsRead}, loaded ${c.rowsLoaded}, rejected ${c.rowsRejected}, skipped ${c.rowsSkipped}`,
  );
}

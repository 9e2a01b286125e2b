import type { MissingFilePolicy, ResolvedPipelineConfig } from '../config/load.js';
import type { DatabaseHandle, SqlConnection } from '../db/connect.js';
import type { RunTrigger } from '../db/tables/runs.table.js';
import { DataCheckError, InputFileError, LockError, RunInterrupted, errorMessage, redactSecrets, throwIfAborted, withoutNul } from '../errors.js';
import { isConnectionLoss, isTransient } from './retry.js';
import type { Logger } from '../log/logger.js';
import { checkTableCounts, runChecks, runFileChecks, type CheckOutcome, type FileCheckFailure } from './checks.js';
import { describeUnit, discoverFiles, displayPath, stampOf, type DiscoveredFile, type Fetcher } from './discover.js';
import { loadUnit, type FileLoadCounts } from './load-records.js';
import type { AnyPipeline, DataCheck, PartitionSpec, PipelineRuntime } from './pipeline.js';
import { ZERO_COUNTS, finishRun, heartbeat, startRun, type RunCounts } from './run-ledger.js';
import { rememberUnrecorded } from './unrecorded.js';
import { runTransforms } from './transforms.js';

/**
 * One run of one pipeline:
 *   record the run → find source files → (one transaction) skip the files whose bytes are
 *   those of their path's current version, load the others (each replaces its path's earlier
 *   version), handle files gone from the sources, run transforms and data checks → record the outcome.
 *
 * A source is its pipeline and source key (the path, or the URL); its content is the bytes read.
 * Each file loads inside a savepoint: a file that cannot be read whole, or fails a file check,
 * fails alone (nothing of it is kept; it is not read again until its bytes change) and the other
 * files load; such a run is `partial`. A failing transform or `error` data check, a lost
 * connection or an interruption still rolls the whole run back.
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
  /** Read files that failed before even though their bytes have not changed (e.g. after widening a check). */
  readonly retryFailed?: boolean;
  /** Override the pipeline's policy for the rows of files gone from the sources. */
  readonly onMissing?: MissingFilePolicy;
}

export type FileOutcome =
  | { readonly action: 'loaded'; readonly file: DiscoveredFile; readonly fileId: number; readonly counts: FileLoadCounts; readonly superseded: number[] }
  | { readonly action: 'skipped'; readonly file: DiscoveredFile; readonly fileId: number; readonly loadedByRun: number }
  /** Refused whole; `sinceRun`: not read again, its bytes are those that failed in that run. */
  | { readonly action: 'failed'; readonly file: DiscoveredFile; readonly message: string; readonly sinceRun?: number }
  /** Gone from the sources: its rows are kept (`missing`) or no longer count (`retired`). */
  | { readonly action: 'missing' | 'retired'; readonly file: DiscoveredFile; readonly fileId: number | null; readonly message: string }
  /** Its bytes changed between listing and reading (a writer at work): left for the next run. */
  | { readonly action: 'changed'; readonly file: DiscoveredFile; readonly message: string }
  /** Not published yet (HTTP 404 for the latest quarter): not a failure, asked again next run. */
  | { readonly action: 'not_available'; readonly file: DiscoveredFile; readonly message: string };

export interface RunSummary {
  readonly runId: number;
  readonly pipeline: string;
  /** partial: some files failed alone and the others loaded. */
  readonly status: 'succeeded' | 'partial' | 'failed' | 'interrupted';
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
  /** Called after a run succeeds or is partial (alert evaluation); its failure is logged, not the run's. */
  readonly afterSuccess?: (summary: RunSummary, options: RunOptions) => Promise<void>;
  /** How long a run waits for another run of its pipeline to finish before it fails (default 15 min). */
  readonly lockWaitMs?: number;
}

const DEFAULT_LOCK_WAIT_MS = 15 * 60_000;

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
  const counts = { ...ZERO_COUNTS, filesSeen: 0 };
  for (const f of files) {
    // Files gone from the sources, or not published yet, were not seen by this run.
    if (f.action !== 'missing' && f.action !== 'retired' && f.action !== 'not_available') counts.filesSeen++;
    if (f.action === 'loaded') {
      counts.filesLoaded++;
      counts.rowsRead += f.counts.read;
      counts.rowsLoaded += f.counts.loaded;
      counts.rowsRejected += f.counts.rejected;
      counts.rowsSkipped += f.counts.skipped;
    } else if (f.action === 'skipped') {
      counts.filesSkipped++;
    } else if (f.action === 'failed') {
      counts.filesFailed++;
    }
  }
  return counts;
}

/** Failed alone: some files failed while others were seen and loaded or found unchanged. */
function runStatus(counts: RunCounts): 'succeeded' | 'partial' | 'failed' {
  if (counts.filesFailed === 0) return 'succeeded';
  return counts.filesFailed < counts.filesSeen ? 'partial' : 'failed';
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
      onIgnored: (folder, pattern, names) =>
        log.info({ folder, pattern, files: names.slice(0, 20) }, `${displayPath(folder)}: ${names.length} file(s) not matching ${pattern} left alone: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`),
    });
    const discovered = options.select ? all.filter(options.select) : all;
    throwIfAborted(options.signal);
    log.debug({ files: discovered.length }, `found ${discovered.length} source unit(s)`);
    // Files gone from the sources can be told only when every source was listed (not in a
    // partition's run or a backfill, which see part of the inbox).
    const complete = !options.select && !options.units && options.partitionKey === undefined;
    const policy = options.onMissing ?? config.onMissing ?? 'keep';
    await ensureLockRow(ctx.handle, pipeline.name);
    const { files, checks } = await ctx.handle.withTransaction((conn) =>
      loadAndTransform(conn, pipeline, runtime, runId, discovered, options, log, { complete, policy, lockWaitMs: ctx.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS }),
    );
    const counts = tally(files);
    const status = runStatus(counts);
    const error = status === 'succeeded' ? undefined : describeFileFailures(files, counts);
    clearInterval(timer);
    await beat;
    try {
      await finishRun(ctx.handle, runId, status, counts, error);
    } catch (e) {
      // Committed already: the run's data is in even if the ledger cannot say so now (the next
      // process marks it interrupted; its files and counts are in etl.source_files).
      log.warn({ err: e }, `run ${runId} of ${pipeline.name} committed its data but could not be recorded as ${status}: ${redactSecrets(errorMessage(e))}`);
    }
    await recordPartitions(ctx.handle, pipeline, runId, options.partitionKey, files, status, error).catch((e: unknown) =>
      log.warn({ err: e }, 'could not record partition status'),
    );
    const summary: RunSummary = {
      runId,
      pipeline: pipeline.name,
      status,
      transient: false,
      counts,
      files,
      checks,
      durationMs: Math.round(performance.now() - started),
      ...(error === undefined ? {} : { error }),
    };
    logOutcome(log, summary);
    if (ctx.afterSuccess && status !== 'failed') {
      await ctx.afterSuccess(summary, options).catch((e: unknown) => log.error({ err: e }, `after run ${runId}: ${errorMessage(e)}`));
    }
    return summary;
  } catch (error) {
    clearInterval(timer);
    await beat;
    const aborted = error instanceof RunAbort ? error : undefined;
    const cause = aborted ? aborted.cause : error;
    const message = describeFailure(ctx.handle, cause);
    // Files loaded before the failure were rolled back with it: only the failed ones are reported.
    const files = (aborted?.files ?? []).filter((f) => f.action === 'failed');
    const checks = aborted?.checks ?? [];
    await recordFailure(ctx.handle, runId, pipeline, files, checks).catch((e: unknown) => {
      log.warn({ err: e }, 'could not record the failed run\'s file and check details');
    });
    const interrupted = cause instanceof RunInterrupted;
    const transient = !interrupted && isTransient(cause);
    const counts = { ...ZERO_COUNTS, filesSeen: files.length, filesFailed: files.length };
    try {
      await finishRun(ctx.handle, runId, interrupted ? 'interrupted' : 'failed', counts, message);
    } catch (e) {
      // The database went away or cannot write (its disk is full): the run cannot be marked now.
      // Its transaction rolled back all the same. The outcome waits in a file of its own, and the
      // next process that marks abandoned runs records it with this cause, not as "stopped".
      const kept = rememberUnrecorded(ctx.handle.location, { run_id: runId, status: interrupted ? 'interrupted' : 'failed', error: message, at: new Date().toISOString() });
      log.warn(
        { err: e },
        `run ${runId} of ${pipeline.name} could not be recorded as failed: ${redactSecrets(errorMessage(e))}` +
          (kept ? '; its cause is kept for the next process to record' : ''),
      );
    }
    await recordPartitions(ctx.handle, pipeline, runId, options.partitionKey, files, interrupted ? 'interrupted' : 'failed', message).catch(() => {});
    const summary: RunSummary = {
      runId,
      pipeline: pipeline.name,
      status: interrupted ? 'interrupted' : 'failed',
      transient,
      counts,
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

/** A partial or failed run's error: which files failed alone, and why. */
function describeFileFailures(files: readonly FileOutcome[], counts: RunCounts): string {
  const failed = files.filter((f): f is Extract<FileOutcome, { action: 'failed' }> => f.action === 'failed');
  // Most messages start with the file already (file:line: problem); the others get it in front.
  const lines = failed
    .slice(0, 5)
    .map((f) => (f.message.startsWith(f.file.path) || f.message.startsWith(f.file.uri) || f.message.startsWith(describeUnit(f.file)) ? f.message : `${describeUnit(f.file)}: ${f.message}`));
  if (failed.length === 1 && counts.filesFailed === counts.filesSeen) return lines[0]!;
  if (failed.length > 5) lines.push(`… and ${failed.length - 5} more (bubblewatch runs <id>)`);
  const head =
    counts.filesFailed < counts.filesSeen
      ? `${counts.filesFailed} of ${counts.filesSeen} file(s) failed alone and kept nothing; the others loaded`
      : `${counts.filesFailed} file(s) failed and kept nothing`;
  return `${head}: ${lines.join(' | ')}`;
}

/** The version of a source path that counts now. */
interface CurrentVersion {
  readonly fileId: number;
  readonly runId: number;
  readonly sha256: string;
  readonly uri: string;
  readonly sizeBytes: number;
  readonly missingSince: number | null;
}

/** The bytes a source path last failed with. */
interface FailedVersion {
  readonly sha256: string;
  readonly runId: number;
  readonly firstRunId: number;
  readonly error: string;
}

interface RunScope {
  /** Every source was listed, so a current version whose path was not found has left the sources. */
  readonly complete: boolean;
  readonly policy: MissingFilePolicy;
  readonly lockWaitMs: number;
}

/** The file's bytes are not those discovery hashed any more (a writer at work, a replaced file). */
class SourceChanged extends Error {}
/** The file was deleted after discovery listed it, before it could be read. */
class SourceGone extends Error {}

async function loadAndTransform(
  conn: SqlConnection,
  pipeline: AnyPipeline,
  runtime: PipelineRuntime,
  runId: number,
  discovered: readonly DiscoveredFile[],
  options: RunOptions,
  log: Logger,
  scope: RunScope,
): Promise<{ files: FileOutcome[]; checks: CheckOutcome[] }> {
  // One run per pipeline at a time: a second run waits here (with a limit), then sees the first one's files as loaded.
  await lockPipeline(conn, pipeline.name, runId, scope.lockWaitMs, log);

  const prepared = pipeline.prepare ? await pipeline.prepare(conn, runtime) : undefined;
  const fullRefresh = (options.fullRefresh ?? false) || (prepared?.fullRefresh ?? false);
  if (prepared?.fullRefresh) log.info('configuration changed since the last run: recomputing everything this pipeline derives');

  const files: FileOutcome[] = [];
  const fileChecks: CheckOutcome[] = [];
  const current = await currentVersions(conn, pipeline.name);
  const failures = await failedVersions(conn, pipeline.name);
  for (const file of discovered) {
    throwIfAborted(options.signal);
    const key = file.sourceKey;
    if (file.notAvailable !== undefined) {
      files.push({ action: 'not_available', file, message: file.notAvailable });
      log.info({ file: file.uri }, `${describeUnit(file)}: ${file.notAvailable}`);
      continue;
    }
    if (file.problem) {
      const message = withoutNul(redactSecrets(file.problem.message));
      files.push({ action: 'failed', file, message });
      log.error({ file: file.uri }, `${describeUnit(file)}: failed, nothing of it kept: ${message}`);
      continue;
    }
    const now = current.get(key);
    if (now && now.sha256 === file.sha256) {
      files.push({ action: 'skipped', file, fileId: now.fileId, loadedByRun: now.runId });
      log.info({ file: file.uri, file_id: now.fileId }, `${describeUnit(file)}: unchanged since run ${now.runId} loaded it (file ${now.fileId}); skipped`);
      if (now.missingSince !== null) {
        await conn.db.updateTable('etl.source_files').set({ missing_since_run_id: null }).where('file_id', '=', now.fileId).execute();
      }
      // Back to the bytes that loaded, after an edit that failed: the failure is over.
      if (failures.has(key)) await forgetFailure(conn, pipeline.name, key, failures);
      continue;
    }
    const failed = failures.get(key);
    if (failed && failed.sha256 === file.sha256 && !options.retryFailed) {
      const message = `unchanged since it failed in run ${failed.runId}, so not read again until it changes (or run --retry-failed): ${failed.error}`;
      files.push({ action: 'failed', file, message, sinceRun: failed.runId });
      log.warn({ file: file.uri }, `${describeUnit(file)}: ${message}`);
      continue;
    }
    if (file.stamp === undefined) {
      const message = 'its bytes changed while they were hashed (a writer is still at work); left for the next run';
      files.push({ action: 'changed', file, message });
      log.warn({ file: file.uri }, `${describeUnit(file)}: ${message}`);
      continue;
    }
    await conn.query('savepoint bw_file');
    try {
      const outcome = await loadOneFile(conn, pipeline, runtime, runId, file, now, log, options.signal);
      await conn.query('release savepoint bw_file');
      files.push(outcome);
      current.set(key, { fileId: outcome.fileId, runId, sha256: file.sha256, uri: file.uri, sizeBytes: file.sizeBytes, missingSince: null });
      if (failures.has(key)) await forgetFailure(conn, pipeline.name, key, failures);
    } catch (error) {
      if (!failsAlone(error)) throw new RunAbort(error, files, []);
      try {
        await conn.query('rollback to savepoint bw_file');
      } catch {
        throw new RunAbort(error, files, []);
      }
      if (error instanceof SourceChanged) {
        files.push({ action: 'changed', file, message: error.message });
        log.warn({ file: file.uri }, `${describeUnit(file)}: ${error.message}`);
        continue;
      }
      if (error instanceof SourceGone) {
        files.push({ action: 'missing', file, fileId: null, message: error.message });
        log.warn({ file: file.uri }, `${describeUnit(file)}: ${error.message}`);
        continue;
      }
      if (error instanceof FileCheckFailed) fileChecks.push(error.outcome);
      const message = withoutNul(redactSecrets(errorMessage(error)));
      await rememberFailure(conn, pipeline.name, runId, file, message, failed);
      failures.set(key, { sha256: file.sha256, runId, firstRunId: failed?.sha256 === file.sha256 ? failed.firstRunId : runId, error: message });
      files.push({ action: 'failed', file, message });
      log.error({ file: file.uri }, `${describeUnit(file)}: failed alone, nothing of it kept: ${message}`);
    }
  }
  if (scope.complete) files.push(...(await leftTheSources(conn, pipeline.name, runId, discovered, current, failures, scope.policy, log)));

  const changed = files.some((f) => f.action === 'loaded' || f.action === 'retired');
  let checks: CheckOutcome[] = [...fileChecks];
  let tableCounts: { table: string; count: number }[] = [];
  if (changed || fullRefresh) {
    throwIfAborted(options.signal);
    // The transforms read which files this run loaded, replaced or retired from run_scope, made from the ledger.
    await runTransforms(conn, pipeline.transforms, { runId, pipeline: pipeline.name, fullRefresh, partitions: pipeline.partitions }, log);
    await conn.query(`select set_config('bubblewatch.run_id', $1, true)`, [String(runId)]);
    checks = [...fileChecks, ...(await runChecks(conn, pipeline.checks))];
    // A configuration change (a company disabled) or files retired on purpose (on_missing: retire)
    // legitimately remove rows: the guards against shrinking tables wait for the next run.
    const retired = files.some((f) => f.action === 'retired');
    const guarded = await checkTableCounts(conn, pipeline.name, pipeline.guardedTables ?? [], !prepared?.fullRefresh && !retired);
    checks.push(...guarded.outcomes);
    tableCounts = guarded.counts;
    for (const c of checks.filter((c) => !c.passed && !fileChecks.includes(c))) {
      const line = `data check ${c.check.name} failed on ${c.failingRows} row(s): ${c.check.description}`;
      if (c.check.severity === 'warn') log.warn({ check: c.check.name, failing_rows: c.failingRows, sample: c.sample.slice(0, 3) }, line);
    }
    const blocking = checks.filter((c) => !c.passed && c.check.severity === 'error' && !fileChecks.includes(c));
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

/**
 * Which failures stay with their file: bad content (cannot be parsed, a value the database
 * refuses, a failed file check), the file changing or vanishing under the reader. A lost
 * connection, an interruption, a transient or resource failure (the server's disk is full) is
 * the run's, not the file's: the whole run rolls back and reports it.
 */
function failsAlone(error: unknown): boolean {
  if (error instanceof RunInterrupted) return false;
  if (isConnectionLoss(error) || isTransient(error)) return false;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^(53|54|57|58|XX)/.test(code)) return false;
  if (typeof code === 'string' && /^E(NOSPC|IO|MFILE|NFILE|NOMEM|ACCES|PERM|DQUOT|ROFS)$/.test(code)) return false;
  return true;
}

/** Rows for the pipeline lock, made outside the run's transaction (so that two first runs do not wait on each other's insert). */
async function ensureLockRow(handle: DatabaseHandle, pipeline: string): Promise<void> {
  await handle.db.insertInto('etl.pipeline_locks').values({ pipeline }).onConflict((oc) => oc.doNothing()).execute();
}

/**
 * Take the pipeline's lock: its row in etl.pipeline_locks, for update. Waits in slices of at most
 * 5 s (lock_timeout), saying whom it waits for, and fails after `waitMs` naming the holder. A row
 * lock needs UPDATE on the table, so the read-only analyst role cannot hold it.
 */
async function lockPipeline(conn: SqlConnection, pipeline: string, runId: number, waitMs: number, log: Logger): Promise<void> {
  const started = Date.now();
  const deadline = started + waitMs;
  let told = 0;
  const { rows } = await conn.query<{ setting: string }>(`select current_setting('lock_timeout') as setting`);
  const before = rows[0]?.setting ?? '0';
  for (;;) {
    await conn.query('savepoint bw_lock');
    const slice = Math.max(1, Math.min(5_000, deadline - Date.now()));
    await conn.query(`select set_config('lock_timeout', $1, true)`, [`${slice}ms`]);
    try {
      await conn.query('select pipeline from etl.pipeline_locks where pipeline = $1 for update', [pipeline]);
      // The timeout was for the lock only: releasing the savepoint keeps the setting, so set it back.
      await conn.query(`select set_config('lock_timeout', $1, true)`, [before]);
      await conn.query('release savepoint bw_lock');
      if (told > 0) log.info(`got the lock of pipeline ${pipeline} after ${Math.round((Date.now() - started) / 1000)} s`);
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== '55P03') throw error;
      await conn.query('rollback to savepoint bw_lock');
      const holder = await describeLockHolder(conn, pipeline, runId);
      if (Date.now() >= deadline) {
        throw new LockError(
          `pipeline ${pipeline} is locked by ${holder}; gave up after waiting ${Math.round(waitMs / 1000)} s (scheduler.lock_wait_seconds); nothing from this run was kept`,
        );
      }
      if (Date.now() - told >= 30_000) {
        log.info(`waiting for ${holder} to release pipeline ${pipeline} (at most ${Math.round((deadline - Date.now()) / 1000)} s more)`);
        told = Date.now();
      }
    }
  }
}

/** Who holds a pipeline's lock: a bubblewatch run if one is going, else the database sessions that lock etl.pipeline_locks. */
async function describeLockHolder(conn: SqlConnection, pipeline: string, runId: number): Promise<string> {
  const { rows: runs } = await conn.query<{ run_id: number; pid: number | null; host: string | null; started_at: Date; trigger: string }>(
    `select run_id, pid, host, started_at, trigger from etl.runs
     where pipeline = $1 and status = 'running' and run_id <> $2 order by run_id limit 1`,
    [pipeline, runId],
  );
  const run = runs[0];
  const { rows: sessions } = await conn.query<{ pid: number; usename: string | null; application_name: string | null; backend_start: Date | null; state: string | null }>(
    `select a.pid, a.usename::text as usename, a.application_name, a.backend_start, a.state
     from pg_locks l join pg_stat_activity a on a.pid = l.pid
     where l.relation = 'etl.pipeline_locks'::regclass and l.granted and l.pid <> pg_backend_pid()
     order by a.backend_start limit 3`,
  ).catch(() => ({ rows: [] as { pid: number; usename: string | null; application_name: string | null; backend_start: Date | null; state: string | null }[] }));
  const who = sessions.map((s) => `session pid ${s.pid} (user ${s.usename ?? '?'}, application ${s.application_name || '?'}, ${s.state ?? '?'} since ${s.backend_start?.toISOString() ?? '?'})`);
  if (run) {
    return `run ${run.run_id} (${run.trigger}, pid ${run.pid ?? '?'} on ${run.host ?? '?'}, started ${run.started_at.toISOString()})` + (who.length > 0 ? ` in ${who.join(', ')}` : '');
  }
  return who.length > 0 ? who.join(', ') : 'another session';
}

async function currentVersions(conn: SqlConnection, pipeline: string): Promise<Map<string, CurrentVersion>> {
  const rows = await conn.db
    .selectFrom('etl.source_files')
    .select(['source_key', 'file_id', 'run_id', 'sha256', 'uri', 'size_bytes', 'missing_since_run_id'])
    .where('pipeline', '=', pipeline)
    .where('superseded_at', 'is', null)
    .execute();
  return new Map(
    rows.map((r) => [r.source_key, { fileId: r.file_id, runId: r.run_id, sha256: r.sha256, uri: r.uri, sizeBytes: r.size_bytes, missingSince: r.missing_since_run_id }]),
  );
}

async function failedVersions(conn: SqlConnection, pipeline: string): Promise<Map<string, FailedVersion>> {
  const rows = await conn.db.selectFrom('etl.file_failures').selectAll().where('pipeline', '=', pipeline).execute();
  return new Map(rows.map((r) => [r.source_key, { sha256: r.sha256, runId: r.run_id, firstRunId: r.first_run_id, error: r.error }]));
}

async function rememberFailure(conn: SqlConnection, pipeline: string, runId: number, file: DiscoveredFile, error: string, previous: FailedVersion | undefined): Promise<void> {
  const firstRunId = previous?.sha256 === file.sha256 ? previous.firstRunId : runId;
  await conn.db
    .insertInto('etl.file_failures')
    .values({ pipeline, source_key: file.sourceKey, uri: file.uri, sha256: file.sha256, size_bytes: file.sizeBytes, first_run_id: firstRunId, run_id: runId, error })
    .onConflict((oc) =>
      oc.columns(['pipeline', 'source_key']).doUpdateSet((eb) => ({
        uri: eb.ref('excluded.uri'),
        sha256: eb.ref('excluded.sha256'),
        size_bytes: eb.ref('excluded.size_bytes'),
        first_run_id: eb.ref('excluded.first_run_id'),
        run_id: eb.ref('excluded.run_id'),
        error: eb.ref('excluded.error'),
        failed_at: new Date(),
      })),
    )
    .execute();
}

async function forgetFailure(conn: SqlConnection, pipeline: string, key: string, failures: Map<string, FailedVersion>): Promise<void> {
  await conn.db.deleteFrom('etl.file_failures').where('pipeline', '=', pipeline).where('source_key', '=', key).execute();
  failures.delete(key);
}

const URL_KEY = /^https?:\/\//i;

/**
 * Current versions whose file was not found: under `keep` their rows stay and the run says the
 * file is missing (once, when it is first missed); under `retire` they stop counting, and the
 * transforms recompute what they held (a version retired by this run is in its scope, like one
 * it replaced). URL sources are left out: a run fetches only the URLs of its period.
 */
async function leftTheSources(
  conn: SqlConnection,
  pipeline: string,
  runId: number,
  discovered: readonly DiscoveredFile[],
  current: ReadonlyMap<string, CurrentVersion>,
  failures: Map<string, FailedVersion>,
  policy: MissingFilePolicy,
  log: Logger,
): Promise<FileOutcome[]> {
  const present = new Set(discovered.map((f) => f.sourceKey));
  const out: FileOutcome[] = [];
  for (const [key, version] of current) {
    if (present.has(key) || URL_KEY.test(key)) continue;
    const file: DiscoveredFile = { path: version.uri, uri: version.uri, sourceKey: key, sizeBytes: version.sizeBytes, sha256: version.sha256 };
    if (policy === 'retire') {
      await conn.db
        .updateTable('etl.source_files')
        .set({ superseded_at: new Date(), superseded_run_id: runId, superseded_reason: 'retired', missing_since_run_id: version.missingSince ?? runId })
        .where('file_id', '=', version.fileId)
        .execute();
      const message = `no longer among the sources: its rows (file ${version.fileId}, loaded by run ${version.runId}) no longer count (on_missing: retire)`;
      out.push({ action: 'retired', file, fileId: version.fileId, message });
      log.warn({ file: version.uri, file_id: version.fileId }, `${displayPath(version.uri)}: ${message}`);
    } else if (version.missingSince === null) {
      await conn.db.updateTable('etl.source_files').set({ missing_since_run_id: runId }).where('file_id', '=', version.fileId).execute();
      const message = `no longer among the sources: its rows (file ${version.fileId}, loaded by run ${version.runId}) are kept (on_missing: keep; retire them with run --retire-missing)`;
      out.push({ action: 'missing', file, fileId: version.fileId, message });
      log.warn({ file: version.uri, file_id: version.fileId }, `${displayPath(version.uri)}: ${message}`);
    }
  }
  // A failed file that is gone no longer makes the pipeline partial.
  for (const key of [...failures.keys()]) {
    if (!present.has(key) && !URL_KEY.test(key)) {
      log.info(`${key}: the file that failed is gone from the sources; its failure is forgotten`);
      await forgetFailure(conn, pipeline, key, failures);
    }
  }
  return out;
}

async function loadOneFile(
  conn: SqlConnection,
  pipeline: AnyPipeline,
  runtime: PipelineRuntime,
  runId: number,
  file: DiscoveredFile,
  previous: CurrentVersion | undefined,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<Extract<FileOutcome, { action: 'loaded' }>> {
  const started = performance.now();
  await expectStamp(file, pipeline, 'before it was read');
  // The path's current version stops counting once this one is in (leave the partial unique index first).
  if (previous) {
    await conn.db
      .updateTable('etl.source_files')
      .set({ superseded_at: new Date(), superseded_run_id: runId, superseded_reason: 'replaced' })
      .where('file_id', '=', previous.fileId)
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
      superseded_reason: null,
      missing_since_run_id: null,
    })
    .returning('file_id')
    .executeTakeFirstOrThrow();
  const fileId = inserted.file_id;
  if (previous) {
    await conn.db.updateTable('etl.source_files').set({ superseded_by: fileId }).where('file_id', '=', previous.fileId).execute();
  }

  const counts = await loadUnit(conn, pipeline, runtime, runId, { path: file.path, uri: file.uri, fileId }, log, signal);
  // The bytes read are the bytes hashed only if the file system's record of them did not move.
  await expectStamp(file, pipeline, 'while it was read');
  if (pipeline.fileChecks && pipeline.fileChecks.length > 0) {
    const failure = await runFileChecks(conn, pipeline.fileChecks, fileId, runtime);
    if (failure) throw new FileCheckFailed(file, failure);
  }
  await conn.db
    .updateTable('etl.source_files')
    .set({ rows_read: counts.read, rows_loaded: counts.loaded, rows_rejected: counts.rejected, rows_skipped: counts.skipped })
    .where('file_id', '=', fileId)
    .execute();
  const ms = Math.round(performance.now() - started);
  const supersededIds = previous ? [previous.fileId] : [];
  log.info(
    { file: file.uri, file_id: fileId, read: counts.read, loaded: counts.loaded, rejected: counts.rejected, skipped: counts.skipped, ms, superseded: supersededIds },
    `${describeUnit(file)}: read ${counts.read}, loaded ${counts.loaded}, rejected ${counts.rejected}, skipped ${counts.skipped}` +
      (supersededIds.length > 0 ? ` (replaces file ${supersededIds.join(', ')})` : ''),
  );
  if (counts.rejected > 0) {
    log.warn({ file: file.uri, rejected: counts.rejected }, `${describeUnit(file)}: ${counts.rejected} row(s) rejected; see etl.rejects where file_id = ${fileId}`);
  }
  return { action: 'loaded', file, fileId, counts, superseded: supersededIds };
}

/** The unit's file-system stamp must still be the one taken when it was hashed. */
async function expectStamp(file: DiscoveredFile, pipeline: AnyPipeline, when: string): Promise<void> {
  let now: string;
  try {
    now = await stampOf(file.path, pipeline.source);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (when === 'before it was read') throw new SourceGone('deleted after this run listed it, before it was read; nothing of it was read');
    throw new SourceChanged(`deleted ${when}; nothing of it was kept, and the next run reads the sources as they are then`);
  }
  if (now !== file.stamp) {
    throw new SourceChanged(`its bytes changed ${when} (a writer at work?); nothing of it was kept, and the next run reads it again`);
  }
}

/** A file check found the file implausible: it is held back whole. */
class FileCheckFailed extends DataCheckError {
  readonly outcome: CheckOutcome;
  constructor(file: DiscoveredFile, failure: FileCheckFailure) {
    const sample = JSON.stringify(failure.sample.slice(0, 3));
    super(
      `data check ${failure.check.name} failed on ${failure.failingRows} row(s): ${failure.check.description}; ` +
        `got ${sample.length > 600 ? sample.slice(0, 600) + '…' : sample}; the file is held back (nothing of it kept) until it changes, or run --retry-failed`,
    );
    const check: DataCheck = { name: `${failure.check.name}:${file.sourceKey}`, description: failure.check.description, severity: 'error', sql: failure.check.sql };
    this.outcome = { check, failingRows: failure.failingRows, sample: failure.sample, kept: failure.sample, passed: false };
  }
}

async function recordFiles(conn: SqlConnection, runId: number, files: readonly FileOutcome[]): Promise<void> {
  if (files.length === 0) return;
  await conn.db
    .insertInto('etl.run_files')
    .values(
      files.map((f) => ({
        run_id: runId,
        uri: f.file.uri,
        sha256: f.file.sha256 === '' ? null : f.file.sha256,
        size_bytes: f.file.sha256 === '' ? null : f.file.sizeBytes,
        action: f.action,
        file_id: f.action === 'loaded' || f.action === 'skipped' || f.action === 'missing' || f.action === 'retired' ? f.fileId : null,
        rows_read: f.action === 'loaded' ? f.counts.read : 0,
        rows_loaded: f.action === 'loaded' ? f.counts.loaded : 0,
        rows_rejected: f.action === 'loaded' ? f.counts.rejected : 0,
        rows_skipped: f.action === 'loaded' ? f.counts.skipped : 0,
        message:
          f.action === 'skipped'
            ? `unchanged since run ${f.loadedByRun} loaded it as file ${f.fileId}`
            : f.action === 'loaded'
              ? f.superseded.length > 0
                ? `replaces file ${f.superseded.join(', ')}`
                : null
              : f.message,
      })),
    )
    .onConflict((oc) => oc.columns(['run_id', 'uri']).doNothing())
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
  status: 'succeeded' | 'partial' | 'failed' | 'interrupted',
  error?: string,
): Promise<void> {
  const spec = pipeline.partitions;
  if (!spec) return;
  const byKey = new Map<string, { read: number; loaded: number; rejected: number; files: number; failed: number; unpublished: number }>();
  const add = (key: string | undefined, f?: FileOutcome) => {
    if (!key) return;
    const entry = byKey.get(key) ?? { read: 0, loaded: 0, rejected: 0, files: 0, failed: 0, unpublished: 0 };
    if (f) {
      if (f.action === 'missing' || f.action === 'retired') return;
      if (f.action === 'not_available') {
        entry.unpublished++;
        byKey.set(key, entry);
        return;
      }
      entry.files++;
      if (f.action === 'failed') entry.failed++;
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
    // In a partial run, a partition is as its own files went: failed if one of them failed alone.
    const own = status === 'partial' ? (c.failed === 0 ? 'succeeded' : c.failed < c.files ? 'partial' : 'failed') : status;
    // A partition a successful run found already loaded keeps its counts from the run that loaded it.
    const nothingNew = own === 'succeeded' && c.read === 0 && c.files > 0;
    await handle.db
      .insertInto('etl.partitions')
      .values({
        pipeline: pipeline.name,
        partition_key: key,
        // Nothing read because the publisher has nothing yet: not_available, asked again next run.
        status: own === 'succeeded' && c.files === 0 ? (c.unpublished > 0 ? 'not_available' : 'no_input') : own,
        last_run_id: runId,
        rows_read: c.read,
        rows_loaded: c.loaded,
        rows_rejected: c.rejected,
        files: c.files,
        error: error ?? (own === 'succeeded' && c.files === 0 && c.unpublished > 0 ? notAvailableMessage(files, key, spec) : null),
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

/** Why a partition is not available: its unpublished files' messages. */
function notAvailableMessage(files: readonly FileOutcome[], key: string, spec: PartitionSpec): string {
  return files
    .filter((f): f is Extract<FileOutcome, { action: 'not_available' }> => f.action === 'not_available' && (spec.keyOf(f.file) ?? key) === key)
    .map((f) => `${f.file.uri}: ${f.message}`)
    .join(' | ');
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
  const unpublished = summary.files.filter((f) => f.action === 'not_available').length;
  const text =
    `run ${summary.runId} of ${summary.pipeline} ${summary.status === 'succeeded' ? 'succeeded' : summary.status === 'partial' ? 'was partial' : 'failed'} in ${summary.durationMs} ms: ` +
    `${c.filesLoaded} file(s) loaded, ${c.filesSkipped} skipped` +
    (c.filesFailed > 0 ? `, ${c.filesFailed} failed` : '') +
    (unpublished > 0 ? `, ${unpublished} not yet available` : '') +
    `; rows read ${c.rowsRead}, loaded ${c.rowsLoaded}, rejected ${c.rowsRejected}, skipped ${c.rowsSkipped}` +
    (summary.error ? `; ${summary.error}` : '');
  const fields = { status: summary.status, ms: summary.durationMs, ...c };
  if (summary.status === 'succeeded') log.info(fields, text);
  else if (summary.status === 'partial') log.warn(fields, text);
  else log.error(fields, text);
}

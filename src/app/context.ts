import { REGISTRY } from '../../pipelines/registry.js';
import { deliverNotifications } from '../alerts/delivery.js';
import { evaluateAlerts, type AlertEnvironment } from '../alerts/engine.js';
import { webhookNotifier } from '../alerts/notify.js';
import { loadConfig, type AppConfig, type ResolvedPipelineConfig } from '../config/load.js';
import type { SchedulerSettings } from '../config/schema.js';
import { openDatabase, type DatabaseHandle } from '../db/connect.js';
import type { Fetcher } from '../engine/discover.js';
import { failingFileCounts, stalenessRatios } from '../engine/freshness.js';
import type { AnyPipeline } from '../engine/pipeline.js';
import type { BackoffPolicy } from '../engine/retry.js';
import { describeRecovered, recoverStaleRuns } from '../engine/run-ledger.js';
import type { RunContext, RunOptions, RunSummary } from '../engine/run-pipeline.js';
import { errorMessage } from '../errors.js';
import { createFetcher } from '../http/fetcher.js';
import { createLogger, type Logger } from '../log/logger.js';
import { migrate } from '../migrate/migrator.js';
import { writeReport } from '../report/report.js';
import { collectStatus, type PipelineStatus } from './status.js';

/**
 * The composition root: every service a command, the scheduler or a backfill uses is built here,
 * once, from the config. Two stages, because some commands never open the database:
 *   CliContext  config, logger, pipeline registry, stdout        (createContext)
 *   AppContext  + the database handle and what runs need: shared config, the HTTP fetcher,
 *               alert evaluation and delivery, the report hook, lock wait, retry policy  (createApp)
 * The scheduler, backfills, status and the report take an AppContext as it is.
 */

/** What every command needs: validated config, a logger, the pipeline registry, and where output goes. */
export interface CliContext {
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly registry: readonly AnyPipeline[];
  readonly out: NodeJS.WritableStream;
}

export interface GlobalOptions {
  readonly config?: string;
}

/** A pipeline the scheduler runs, with its configuration. */
export interface ScheduledPipeline {
  readonly pipeline: AnyPipeline;
  readonly config: ResolvedPipelineConfig;
}

/** Everything a run needs, and what the scheduler, backfills, status and the report use besides. */
export interface AppContext extends CliContext, RunContext {
  readonly handle: DatabaseHandle;
  /** Shared config sections (companies, metrics, archive limits) handed to every pipeline. */
  readonly shared: Readonly<Record<string, unknown>>;
  readonly fetch: Fetcher;
  readonly lockWaitMs: number;
  /** After each successful run: evaluate the alert rules, then rewrite the report if asked to (see AppOptions). */
  readonly afterSuccess: (summary: RunSummary, options: RunOptions) => Promise<void>;
  /** Alert evaluation's environment: rules, the webhook notifier (when its URL is set), staleness. */
  readonly alerts: AlertEnvironment;
  /** One delivery pass over the alert notifications that are due; undefined without a webhook URL or rules. */
  readonly deliver: ((signal?: AbortSignal) => Promise<unknown>) | undefined;
  /** How often the scheduler retries deliveries between ticks (with `deliver`). */
  readonly deliverEveryMs: number;
  /** The scheduler's settings (config.scheduler). */
  readonly settings: SchedulerSettings;
  /** A failed run is retried transiently by this policy (config.scheduler.retry). */
  readonly retry: BackoffPolicy;
  /** The enabled pipelines with their configuration, in registry order. */
  readonly pipelines: readonly ScheduledPipeline[];
  /** Each pipeline's last run, failures, next tick and freshness. */
  readonly status: (now?: Date) => Promise<PipelineStatus[]>;
  /** Rewrites the HTML report at report.path in the config (nothing when unset); a failure is logged, not thrown. */
  readonly rewriteReport: () => Promise<void>;
}

export interface AppOptions {
  /** Whether a successful run rewrites the report too (`start` after its first pass); default never. */
  readonly rewriteReportAfterRun?: () => boolean;
}

/** `io`: where log lines go (stderr by default) and the environment the config reads (process.env by default). */
export function createContext(
  options: GlobalOptions,
  out: NodeJS.WritableStream = process.stdout,
  io: { readonly stderr?: NodeJS.WritableStream; readonly env?: NodeJS.ProcessEnv } = {},
): CliContext {
  const config = loadConfig({ file: options.config, registry: REGISTRY, env: io.env });
  const logger = createLogger({ level: config.log.level, format: config.log.format, destination: io.stderr });
  return { config, logger, registry: REGISTRY.pipelines, out };
}

/** The pipelines the config enables, in registry order, with their configuration. */
export function enabledPipelines(ctx: Pick<CliContext, 'config' | 'registry'>): ScheduledPipeline[] {
  return ctx.registry.flatMap((pipeline) => {
    const config = ctx.config.pipelines.get(pipeline.name);
    return config?.enabled ? [{ pipeline, config }] : [];
  });
}

/** What alert evaluation needs: rules, a webhook if its URL is in the environment, and source staleness. */
export function alertEnvironment(ctx: CliContext, handle: DatabaseHandle): AlertEnvironment {
  const webhook = ctx.config.alerts.webhook;
  const url = process.env[webhook.url_env];
  const enabled = () => enabledPipelines(ctx).map((p) => p.pipeline);
  return {
    handle,
    logger: ctx.logger,
    config: ctx.config.alerts,
    notifier: url ? webhookNotifier({ url, maxAttempts: webhook.max_attempts, timeoutMs: webhook.timeout_ms, logger: ctx.logger }) : undefined,
    staleness: () => stalenessRatios(handle, enabled()),
    failingFiles: () => failingFileCounts(handle, enabled()),
  };
}

/** The AppContext of a command, on an open database. */
export function createApp(ctx: CliContext, handle: DatabaseHandle, options: AppOptions = {}): AppContext {
  const { config, logger } = ctx;
  const alerts = alertEnvironment(ctx, handle);
  const status = (now?: Date) => collectStatus(ctx, handle, now);
  const rewriteReport = async () => {
    const path = config.reportPath;
    if (!path) return;
    try {
      const written = await writeReport(handle, path, { status: await status() });
      logger.info({ path: written.path, bytes: written.bytes }, `report rewritten: ${written.path}`);
    } catch (error) {
      logger.error({ err: error, path }, `could not write the report ${path}: ${errorMessage(error)}`);
    }
  };
  return {
    ...ctx,
    handle,
    shared: { ...config.shared, archives: config.archives },
    fetch: createFetcher(config.http, logger),
    lockWaitMs: config.scheduler.lock_wait_seconds * 1000,
    afterSuccess: async (summary, runOptions) => {
      if (config.alerts.rules.length > 0) await evaluateAlerts(alerts, { runId: summary.runId, isBackfill: runOptions.trigger === 'backfill' });
      if (options.rewriteReportAfterRun?.()) await rewriteReport();
    },
    alerts,
    deliver: alerts.notifier && config.alerts.rules.length > 0 ? (signal) => deliverNotifications(alerts, signal ? { signal } : {}) : undefined,
    // Notifications the webhook could not take are retried between ticks too, with no new data.
    deliverEveryMs: Math.max(1000, config.alerts.webhook.retry_base_seconds * 1000),
    settings: config.scheduler,
    retry: { maxAttempts: config.scheduler.retry.max_attempts, baseMs: config.scheduler.retry.base_ms, maxMs: config.scheduler.retry.max_ms },
    pipelines: enabledPipelines(ctx),
    status,
    rewriteReport,
  };
}

/**
 * Open the database for one command and always close it (an unclosed PGlite keeps the
 * process alive and holds the folder lock). With `migrateFirst`, pending migrations are
 * applied before the command runs.
 */
export async function withDatabase<T>(
  ctx: CliContext,
  command: string,
  fn: (handle: DatabaseHandle) => Promise<T>,
  options: { migrateFirst?: boolean } = {},
): Promise<T> {
  const handle = await openDatabase({
    databaseUrl: ctx.config.databaseUrl,
    embeddedDir: ctx.config.embeddedDir,
    command,
    notice: (message) => ctx.logger.warn(message),
  });
  ctx.logger.debug({ database: handle.kind, location: handle.location }, `opened ${handle.kind} database at ${handle.location}`);
  try {
    if (options.migrateFirst) {
      const result = await migrate(handle, ctx.logger);
      if (result.applied.length > 0) {
        ctx.logger.info(`database migrated to version ${result.version} (${result.applied.length} migration(s) applied)`);
      }
      // The next process to start marks runs of a process that died as interrupted.
      for (const run of await recoverStaleRuns(handle, ctx.config.scheduler.stale_after_seconds * 1000)) {
        ctx.logger.warn(
          { pipeline: run.pipeline, run_id: run.run_id, pid: run.pid, host: run.host },
          describeRecovered(run),
        );
      }
    }
    return await fn(handle);
  } finally {
    await handle.close();
  }
}

/** withDatabase, migrated first, handing the command its AppContext. */
export function withApp<T>(ctx: CliContext, command: string, fn: (app: AppContext) => Promise<T>, options: AppOptions = {}): Promise<T> {
  return withDatabase(ctx, command, (handle) => fn(createApp(ctx, handle, options)), { migrateFirst: true });
}

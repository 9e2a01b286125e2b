import { loadConfig, type AppConfig } from '../config/load.js';
import { escapeForTerminal, TerminalText } from './format.js';
import { openDatabase, type DatabaseHandle } from '../db/connect.js';
import { createLogger, type Logger } from '../log/logger.js';
import { migrate } from '../migrate/migrator.js';
import { describeRecovered, recoverStaleRuns } from '../engine/run-ledger.js';
import { REGISTRY } from '../../pipelines/registry.js';
import type { Fetcher } from '../engine/discover.js';
import type { AnyPipeline } from '../engine/pipeline.js';
import { createFetcher } from '../http/fetcher.js';
import { evaluateAlerts, type AlertEnvironment } from '../alerts/engine.js';
import { deliverNotifications } from '../alerts/delivery.js';
import { webhookNotifier } from '../alerts/notify.js';
import { failingFileCounts, stalenessRatios } from '../engine/freshness.js';
import type { RunContext } from '../engine/run-pipeline.js';

/** What every command needs: validated config, a logger, the pipeline registry, and a way to open the database. */
export interface CliContext {
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly registry: readonly AnyPipeline[];
  readonly out: NodeJS.WritableStream;
}

export interface GlobalOptions {
  readonly config?: string;
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

/** What alert evaluation needs: rules, a webhook if its URL is in the environment, and source staleness. */
export function alertEnvironment(ctx: CliContext, handle: DatabaseHandle): AlertEnvironment {
  const webhook = ctx.config.alerts.webhook;
  const url = process.env[webhook.url_env];
  return {
    handle,
    logger: ctx.logger,
    config: ctx.config.alerts,
    notifier: url ? webhookNotifier({ url, maxAttempts: webhook.max_attempts, timeoutMs: webhook.timeout_ms, logger: ctx.logger }) : undefined,
    staleness: () => stalenessRatios(handle, ctx.registry.filter((p) => ctx.config.pipelines.get(p.name)?.enabled)),
    failingFiles: () => failingFileCounts(handle, ctx.registry.filter((p) => ctx.config.pipelines.get(p.name)?.enabled)),
  };
}

/**
 * A delivery pass over the alert notifications that are due (the scheduler's ticks and timer,
 * the end of a command's runs); undefined when no webhook URL is set.
 */
export function alertDelivery(ctx: CliContext, handle: DatabaseHandle): ((signal?: AbortSignal) => Promise<unknown>) | undefined {
  const env = alertEnvironment(ctx, handle);
  if (!env.notifier || ctx.config.alerts.rules.length === 0) return undefined;
  return (signal) => deliverNotifications(env, signal ? { signal } : {});
}

/** The context pipelines run in from the CLI: shared config, the HTTP fetcher, alert evaluation after each run. */
export function runContext(ctx: CliContext, handle: DatabaseHandle): RunContext {
  const alerts = alertEnvironment(ctx, handle);
  return {
    handle,
    logger: ctx.logger,
    shared: { ...ctx.config.shared, archives: ctx.config.archives },
    fetch: httpFetcher(ctx),
    lockWaitMs: ctx.config.scheduler.lock_wait_seconds * 1000,
    afterSuccess: async (summary, options) => {
      if (ctx.config.alerts.rules.length === 0) return;
      await evaluateAlerts(alerts, { runId: summary.runId, isBackfill: options.trigger === 'backfill' });
    },
  };
}

/** Downloads URL sources with the configured User-Agent, rate limit, cache, retries and size cap. */
export function httpFetcher(ctx: CliContext): Fetcher {
  return createFetcher(ctx.config.http, ctx.logger);
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

/**
 * The one way command output reaches stdout. A string may carry data (a file name, a reject's
 * value, an error), so it is escaped for the terminal; a table from formatTable already is.
 */
export function print(ctx: CliContext, text: string | TerminalText = ''): void {
  ctx.out.write((text instanceof TerminalText ? text.text : escapeForTerminal(text)) + '\n');
}

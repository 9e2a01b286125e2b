import { ConfigError, errorMessage, EXIT_OK, EXIT_RUN_FAILED } from '../../errors.js';
import { serveEmbedded, type EmbeddedServer } from '../../serve/wire-server.js';
import type { RunSummary } from '../../engine/run-pipeline.js';
import { Scheduler } from '../../scheduler/scheduler.js';
import { writeReport } from '../../report/report.js';
import { formatTable } from '../format.js';
import { alertDelivery, print, runContext, withDatabase, type CliContext } from '../context.js';
import { printSummary, selectPipelines } from './run.js';
import { collectStatus } from './status.js';

/**
 * `bubblewatch start`: bring every enabled pipeline current once (missed ticks per each
 * pipeline's policy, then one run of the rest), print the summary, then run on schedule
 * until SIGINT/SIGTERM. `--once` stops after the first pass (for cron-less use).
 */

export interface StartOptions {
  readonly once?: boolean;
  readonly initialRun?: boolean;
  readonly preview?: boolean;
  /** Also serve the embedded database on a local port (see `bubblewatch sql`); true = the default port. */
  readonly serve?: boolean | string;
  readonly serveHost?: string;
}

export async function startCommand(ctx: CliContext, options: StartOptions): Promise<number> {
  const pipelines = selectPipelines(ctx, [], true);
  return withDatabase(
    ctx,
    `bubblewatch start${options.once ? ' --once' : ''}`,
    async (handle) => {
      const run = runContext(ctx, handle);
      // With report.path in the config, the HTML report is rewritten once after the first pass
      // and then after every run that succeeds on schedule.
      let firstPass = true;
      const rewriteReport = async () => {
        const path = ctx.config.reportPath;
        if (!path) return;
        try {
          const written = await writeReport(handle, path, { status: await collectStatus(ctx, handle) });
          ctx.logger.info({ path: written.path, bytes: written.bytes }, `report rewritten: ${written.path}`);
        } catch (error) {
          ctx.logger.error({ err: error, path }, `could not write the report ${path}: ${errorMessage(error)}`);
        }
      };
      const afterSuccess: NonNullable<typeof run.afterSuccess> = async (summary, runOptions) => {
        await run.afterSuccess?.(summary, runOptions);
        if (!firstPass) await rewriteReport();
      };
      const scheduler = new Scheduler({
        handle,
        logger: ctx.logger,
        pipelines: pipelines.map((pipeline) => ({ pipeline, config: ctx.config.pipelines.get(pipeline.name)! })),
        shared: run.shared ?? {},
        ...(run.fetch ? { fetch: run.fetch } : {}),
        afterSuccess,
        settings: ctx.config.scheduler,
        // Notifications the webhook could not take are retried between ticks too, with no new data.
        ...withDelivery(alertDelivery(ctx, handle), ctx.config.alerts.webhook.retry_base_seconds * 1000),
      });

      // First Ctrl-C: stop taking ticks and let the current step finish (bounded); second: interrupt now.
      let signals = 0;
      let resolveStop!: () => void;
      const stopRequested = new Promise<void>((resolve) => (resolveStop = resolve));
      let server: EmbeddedServer | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          ctx.logger.info(`${signal}: stopping — no new runs; the current one may finish (up to ${ctx.config.scheduler.shutdown_timeout_seconds} s). Again to interrupt now.`);
          resolveStop();
          // Wire clients first: one inside a transaction holds the embedded session, and the
          // current run could not finish (nor the process stop) until it let go.
          void server?.close();
          void scheduler.stop();
        } else {
          ctx.logger.warn(`${signal} again: interrupting the current run`);
          scheduler.interrupt();
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const serve = options.serve ?? (ctx.config.serve.enabled ? String(ctx.config.serve.port) : undefined);
        if (serve !== undefined && serve !== false) {
          if (handle.kind !== 'pglite') {
            ctx.logger.warn('--serve: DATABASE_URL points at a PostgreSQL server already; connect to it directly');
          } else {
            const port = serve === true ? ctx.config.serve.port : Number(serve);
            if (!Number.isInteger(port) || port < 0 || port > 65_535) {
              throw new ConfigError(`--serve: expected a TCP port (0-65535), got "${String(serve)}"`);
            }
            const host = options.serveHost ?? ctx.config.serve.host;
            server = await serveEmbedded(handle, { host, port, logger: ctx.logger });
            print(ctx, `Serving the embedded database on ${server.url} (psql -h ${server.host} -p ${server.port} -U postgres)`);
          }
        }
        await scheduler.recover();
        const summaries: RunSummary[] = [];
        if (options.initialRun ?? true) {
          const caughtUp = await scheduler.catchUp();
          summaries.push(...caughtUp);
          const done = new Set(caughtUp.map((s) => s.pipeline));
          for (const { pipeline, config } of pipelines.map((p) => ({ pipeline: p, config: ctx.config.pipelines.get(p.name)! }))) {
            if (done.has(pipeline.name)) continue;
            const summary = await scheduler.runNow(pipeline, config);
            if (summary) summaries.push(summary);
          }
          if (summaries.length > 0) await printSummary(ctx, handle, summaries, pipelines, options.preview ?? true);
        }
        firstPass = false;
        // Also when every run failed or nothing ran: what earlier runs could not deliver is due now.
        await scheduler.deliverDue();
        await rewriteReport();
        const failed = summaries.some((s) => s.status !== 'succeeded');
        if (options.once || signals > 0) {
          await scheduler.stop();
          return failed ? EXIT_RUN_FAILED : EXIT_OK;
        }

        scheduler.start();
        print(ctx);
        print(ctx, `Running on schedule (${scheduler.identity}); Ctrl-C to stop.`);
        print(
          ctx,
          formatTable(scheduler.nextTicks(), [
            { header: 'pipeline', value: (t) => t.pipeline },
            { header: 'schedule', value: (t) => `${t.cron} (${t.timezone})` },
            { header: 'next run', value: (t) => (t.next ? t.next.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '') },
          ]),
        );
        await stopRequested;
        await scheduler.stop();
        ctx.logger.info('scheduler stopped');
        return EXIT_OK;
      } finally {
        if (server) await server.close();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    },
    { migrateFirst: true },
  );
}

function withDelivery(deliver: ((signal?: AbortSignal) => Promise<unknown>) | undefined, everyMs: number) {
  return deliver ? { deliver, deliverEveryMs: Math.max(1000, everyMs) } : {};
}

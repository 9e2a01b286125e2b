import { ConfigError, EXIT_OK, EXIT_RUN_FAILED } from '../../errors.js';
import { serveEmbedded, type EmbeddedServer } from '../../serve/wire-server.js';
import type { RunSummary } from '../../engine/run-pipeline.js';
import { Scheduler } from '../../scheduler/scheduler.js';
import { formatTable } from '../format.js';
import { print, withApp, type AppContext, type CliContext } from '../context.js';
import { printSummary, selectPipelines } from './run.js';
import { undeclaredRuleIndicators } from './alerts.js';

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
  // Names each pipeline that is not run; the app's `pipelines` are the same, the enabled ones.
  selectPipelines(ctx, [], true);
  // With report.path in the config, the HTML report is rewritten once after the first pass
  // and then after every run that succeeds on schedule.
  let firstPass = true;
  return withApp(
    ctx,
    `bubblewatch start${options.once ? ' --once' : ''}`,
    async (app: AppContext) => {
      const { handle } = app;
      const pipelines = app.pipelines.map((p) => p.pipeline);
      const scheduler = new Scheduler(app);

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
          for (const { pipeline, config } of app.pipelines) {
            if (done.has(pipeline.name)) continue;
            const summary = await scheduler.runNow(pipeline, config);
            if (summary) summaries.push(summary);
          }
          if (summaries.length > 0) await printSummary(ctx, handle, summaries, pipelines, options.preview ?? true);
        }
        firstPass = false;
        // A rule on an indicator nobody declares would never fire: say so once the data is in
        // (custom series names come from it), as `rules check` does, without stopping the schedule.
        for (const problem of await undeclaredRuleIndicators(ctx, handle)) ctx.logger.warn(problem);
        // Also when every run failed or nothing ran: what earlier runs could not deliver is due now.
        await scheduler.deliverDue();
        await app.rewriteReport();
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
    { rewriteReportAfterRun: () => !firstPass },
  );
}

import { planBackfill, runBackfill, type OnlyMode } from '../../backfill/backfill.js';
import { parsePartition, partitionOfDate } from '../../engine/partitions.js';
import type { PartitionGrain } from '../../engine/pipeline.js';
import { ConfigError, EXIT_OK, EXIT_RUN_FAILED } from '../../errors.js';
import { formatDuration, formatNumber, formatTable } from '../format.js';
import { Progress } from '../progress.js';
import { print, withApp, type CliContext } from '../context.js';

export interface BackfillOptions {
  readonly from: string;
  /** Default: the period holding today. */
  readonly to?: string | undefined;
  readonly only: string;
  readonly dryRun?: boolean;
  readonly concurrency: string;
  readonly json?: boolean;
}

export async function backfillCommand(ctx: CliContext, name: string, options: BackfillOptions): Promise<number> {
  const pipeline = ctx.registry.find((p) => p.name === name);
  if (!pipeline) throw new ConfigError(`${name}: no such pipeline (known: ${ctx.registry.map((p) => p.name).join(', ')})`);
  const config = ctx.config.pipelines.get(name)!;
  if (!config.configured || config.sources.length === 0) throw new ConfigError(`${name}: not configured; add pipelines.${name}.sources to ${ctx.config.file}`);
  if (!pipeline.partitions) {
    throw new ConfigError(
      `pipeline ${name} has no partitions: each of its source files covers its whole history; use bubblewatch run ${name} (--full-refresh to recompute). Pipelines with partitions: ${ctx.registry.filter((p) => p.partitions).map((p) => `${p.name} (${p.partitions!.grain})`).join(', ') || 'none'}`,
    );
  }
  if (!['missing', 'failed', 'all'].includes(options.only)) throw new ConfigError(`--only: got "${options.only}", expected missing, failed or all`);
  const concurrency = Number(options.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16) throw new ConfigError(`--concurrency: got "${options.concurrency}", expected a whole number from 1 to 16`);
  const grain = pipeline.partitions.grain;
  const from = periodOf(options.from, grain, '--from');
  const to = options.to === undefined ? partitionOfDate(new Date(), grain) : periodOf(options.to, grain, '--to');

  return withApp(
    ctx,
    `bubblewatch backfill ${name}`,
    async (app) => {
      const { plan, inputs } = await planBackfill(app, pipeline, config, { from, to, only: options.only as OnlyMode });
      const toRun = plan.partitions.filter((p) => p.action === 'run');
      if (options.dryRun) {
        if (options.json) {
          print(ctx, JSON.stringify(plan, null, 2));
          return EXIT_OK;
        }
        print(ctx, `backfill ${name} ${plan.from}..${plan.to} (--only ${plan.only}): ${toRun.length} of ${plan.partitions.length} partition(s) would run`);
        print(
          ctx,
          formatTable(plan.partitions, [
            { header: 'partition', value: (p) => p.key },
            { header: 'would', value: (p) => p.action },
            { header: 'last status', value: (p) => p.status },
            { header: 'inputs', value: (p) => p.inputs, align: 'right' },
            { header: 'why', value: (p) => p.reason, max: 70 },
          ]),
        );
        return EXIT_OK;
      }
      if (toRun.length === 0) {
        print(ctx, `backfill ${name} ${plan.from}..${plan.to} (--only ${plan.only}): nothing to do (${plan.partitions.length} partition(s) checked)`);
        return EXIT_OK;
      }

      const controller = new AbortController();
      const onSignal = () => {
        ctx.logger.warn('stopping the backfill after the current partition; run the same command again to resume');
        controller.abort(new Error('backfill stopped'));
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const progress = new Progress(toRun.length);
      progress.update(0, 'starting');
      try {
        const result = await runBackfill(app, pipeline, config, plan, inputs, {
          concurrency,
          retry: app.retry,
          signal: controller.signal,
          onProgress: ({ done, partition, summary }) => progress.update(done, `${partition} ${summary.status}`),
        });
        if (options.json) print(ctx, JSON.stringify(result, null, 2));
        else {
          print(ctx);
          print(
            ctx,
            `backfill ${result.backfillId} of ${name} ${plan.from}..${plan.to}: ${result.succeeded} succeeded, ${result.failed} failed, ` +
              `${result.interrupted} interrupted, ${result.skipped} skipped; rows read ${formatNumber(result.rowsRead)}, loaded ${formatNumber(result.rowsLoaded)}, ` +
              `rejected ${formatNumber(result.rowsRejected)}; took ${formatDuration(result.durationMs)}`,
          );
          for (const f of result.failures) print(ctx, `  ${f.partition}: ${f.error}`);
          if (result.notAvailable.length > 0) {
            print(ctx, `  not yet available from the publisher (not failures; asked again by the next run or backfill): ${result.notAvailable.join(', ')}`);
          }
          if (result.failed > 0) print(ctx, `  retry the failed partitions: bubblewatch backfill ${name} --from ${plan.from} --to ${plan.to} --only failed`);
        }
        return result.failed > 0 || result.interrupted > 0 ? EXIT_RUN_FAILED : EXIT_OK;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    },
  );
}

/**
 * A period as the user wrote it: the grain's own key (2025Q2, 2025-06), or a date, taken as the
 * period holding it (--from 2009-01-01 for quarters is 2009Q1).
 */
function periodOf(text: string, grain: PartitionGrain, what: string): string {
  const date = /^\d{4}-\d{2}-\d{2}$/.test(text.trim()) ? parsePartition(text, 'day', what) : undefined;
  return date !== undefined && grain !== 'day' ? partitionOfDate(new Date(`${date}T00:00:00Z`), grain) : parsePartition(text, grain, what);
}

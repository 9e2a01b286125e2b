import { ConfigError, errorMessage, EXIT_OK, EXIT_RUN_FAILED } from '../../errors.js';
import { describeUnit } from '../../engine/discover.js';
import type { AnyPipeline } from '../../engine/pipeline.js';
import type { RunSummary } from '../../engine/run-pipeline.js';
import { runWithRetries } from '../../engine/run-with-retries.js';
import type { DatabaseHandle } from '../../db/connect.js';
import { formatDuration, formatNumber, formatTable, formatValue } from '../format.js';
import { print, withApp, type CliContext } from '../context.js';

const PREVIEW_ROWS = 15;

export interface RunCommandOptions {
  readonly all?: boolean;
  readonly fullRefresh?: boolean;
  readonly json?: boolean;
  readonly preview?: boolean;
  /** Read files that failed before although their bytes have not changed. */
  readonly retryFailed?: boolean;
  /** Retire the rows of files no longer among the sources, whatever the pipeline's on_missing says. */
  readonly retireMissing?: boolean;
}

export function selectPipelines(ctx: CliContext, names: readonly string[], all: boolean): AnyPipeline[] {
  if (all && names.length > 0) throw new ConfigError('give pipeline names or --all, not both');
  if (!all && names.length === 0) {
    throw new ConfigError(`name the pipelines to run, or --all (pipelines: ${ctx.registry.map((p) => p.name).join(', ')})`);
  }
  if (all) {
    const enabled = ctx.registry.filter((p) => ctx.config.pipelines.get(p.name)?.enabled);
    for (const p of ctx.registry) {
      const c = ctx.config.pipelines.get(p.name);
      if (!c?.enabled) ctx.logger.info(`pipeline ${p.name} is ${c?.configured ? 'disabled' : 'not configured'} in ${ctx.config.file}; not run`);
    }
    return enabled;
  }
  const problems: string[] = [];
  const chosen: AnyPipeline[] = [];
  for (const name of names) {
    const p = ctx.registry.find((x) => x.name === name);
    if (!p) {
      problems.push(`${name}: no such pipeline (known: ${ctx.registry.map((x) => x.name).join(', ')})`);
      continue;
    }
    const c = ctx.config.pipelines.get(name);
    if (!c?.configured || c.sources.length === 0) {
      problems.push(`${name}: not configured; add pipelines.${name}.sources to ${ctx.config.file}`);
      continue;
    }
    chosen.push(p);
  }
  if (problems.length > 0) throw new ConfigError('cannot run', problems);
  return chosen;
}

export async function runCommand(ctx: CliContext, names: readonly string[], options: RunCommandOptions): Promise<number> {
  const pipelines = selectPipelines(ctx, names, options.all ?? false);
  return withApp(ctx, `bubblewatch run ${options.all ? '--all' : names.join(' ')}`, async (app) => {
    const summaries: RunSummary[] = [];
    for (const pipeline of pipelines) {
      const config = ctx.config.pipelines.get(pipeline.name)!;
      const runOptions = {
        trigger: 'manual' as const,
        fullRefresh: options.fullRefresh ?? false,
        retryFailed: options.retryFailed ?? false,
        ...(options.retireMissing ? { onMissing: 'retire' as const } : {}),
      };
      summaries.push(await runWithRetries(app, pipeline, config, runOptions, app.retry));
    }
    // A failed run evaluates no alerts, but notifications earlier runs could not deliver are due all the same.
    if (summaries.some((s) => s.status !== 'succeeded')) {
      await app.deliver?.().catch((e: unknown) => ctx.logger.error({ err: e }, `alert notifications: delivery failed: ${errorMessage(e)}`));
    }
    if (options.json) {
      print(ctx, JSON.stringify(summaries.map(summaryJson), null, 2));
    } else {
      await printSummary(ctx, app.handle, summaries, pipelines, options.preview ?? true);
    }
    return summaries.every((s) => s.status === 'succeeded') ? EXIT_OK : EXIT_RUN_FAILED;
  });
}

function summaryJson(s: RunSummary) {
  return {
    run_id: s.runId,
    pipeline: s.pipeline,
    status: s.status,
    duration_ms: s.durationMs,
    ...Object.fromEntries(Object.entries(s.counts).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()), v])),
    files: s.files.map((f) => ({
      path: f.file.path,
      sha256: f.file.sha256,
      action: f.action,
      ...(f.action === 'loaded' ? { file_id: f.fileId, ...f.counts, supersedes: f.superseded } : {}),
      ...(f.action === 'skipped' ? { file_id: f.fileId, loaded_by_run: f.loadedByRun } : {}),
      ...(f.action === 'failed' ? { message: f.message, ...(f.sinceRun !== undefined ? { failed_in_run: f.sinceRun } : {}) } : {}),
      ...(f.action === 'missing' || f.action === 'retired' ? { file_id: f.fileId, message: f.message } : {}),
      ...(f.action === 'changed' ? { message: f.message } : {}),
    })),
    checks: s.checks.map((c) => ({ name: c.check.name, severity: c.check.severity, passed: c.passed, failing_rows: c.failingRows })),
    error: s.error ?? null,
  };
}

export async function printSummary(
  ctx: CliContext,
  handle: DatabaseHandle,
  summaries: readonly RunSummary[],
  pipelines: readonly AnyPipeline[],
  preview: boolean,
): Promise<void> {
  print(ctx);
  print(ctx, `bubblewatch: ${summaries.length} pipeline run(s) on the ${handle.kind === 'pglite' ? 'embedded' : 'PostgreSQL'} database at ${handle.location}`);
  print(ctx);
  print(
    ctx,
    formatTable(summaries, [
      { header: 'run', value: (s) => s.runId, align: 'right' },
      { header: 'pipeline', value: (s) => s.pipeline },
      { header: 'status', value: (s) => s.status },
      { header: 'files new', value: (s) => s.counts.filesLoaded, align: 'right' },
      { header: 'files skipped', value: (s) => s.counts.filesSkipped, align: 'right' },
      { header: 'files failed', value: (s) => s.counts.filesFailed, align: 'right' },
      { header: 'rows read', value: (s) => formatNumber(s.counts.rowsRead), align: 'right' },
      { header: 'loaded', value: (s) => formatNumber(s.counts.rowsLoaded), align: 'right' },
      { header: 'rejected', value: (s) => formatNumber(s.counts.rowsRejected), align: 'right' },
      { header: 'skipped', value: (s) => formatNumber(s.counts.rowsSkipped), align: 'right' },
      { header: 'took', value: (s) => formatDuration(s.durationMs), align: 'right' },
    ]),
  );
  for (const s of summaries) {
    print(ctx);
    for (const f of s.files) {
      if (f.action === 'skipped') print(ctx, `  ${s.pipeline}: ${describeUnit(f.file)} was already loaded (file ${f.fileId}, run ${f.loadedByRun}, unchanged); skipped`);
      else if (f.action === 'loaded') {
        print(ctx, `  ${s.pipeline}: ${describeUnit(f.file)}: ${f.counts.loaded} row(s) loaded, ${f.counts.rejected} rejected` + (f.superseded.length > 0 ? `, replaces file ${f.superseded.join(', ')}` : ''));
        if (f.counts.rejected > 0) print(ctx, `    rejected rows: bubblewatch runs ${s.runId}   (or: select * from etl.rejects where file_id = ${f.fileId})`);
      } else if (f.action === 'failed') print(ctx, `  ${s.pipeline}: ${describeUnit(f.file)}: FAILED, nothing of it kept: ${f.message}`);
      else print(ctx, `  ${s.pipeline}: ${describeUnit(f.file)}: ${f.action}: ${f.message}`);
    }
    if (s.files.length === 0 && s.status === 'succeeded') print(ctx, `  ${s.pipeline}: no source files found`);
    for (const c of s.checks.filter((c) => !c.passed)) {
      print(ctx, `  ${s.pipeline}: data check ${c.check.name} (${c.check.severity}) failed on ${c.failingRows} row(s): ${c.check.description}`);
    }
    if (s.status === 'failed') print(ctx, `  ${s.pipeline}: run ${s.runId} FAILED, nothing from it was kept: ${s.error}`);
    else if (s.status === 'partial') print(ctx, `  ${s.pipeline}: run ${s.runId} PARTIAL: ${s.counts.filesFailed} file(s) failed alone (nothing of them kept; read again when they change); the other files loaded`);
  }

  if (preview) {
    const seen = new Set<string>();
    const previews = pipelines.flatMap((p) => p.previews ?? []).filter((p) => !seen.has(p.title) && seen.add(p.title));
    for (const p of previews) {
      const { rows: all } = await handle.withConnection((conn) => conn.query<Record<string, unknown>>(p.sql));
      if (all.length === 0) continue;
      const rows = all.slice(0, PREVIEW_ROWS);
      const keys = Object.keys(rows[0]!);
      print(ctx);
      print(ctx, p.title);
      print(
        ctx,
        formatTable(
          rows,
          keys.map((k) => ({ header: k, value: (r: Record<string, unknown>) => formatValue(r[k]), align: typeof rows[0]![k] === 'number' ? ('right' as const) : ('left' as const), max: 48 })),
        ),
      );
      if (all.length > rows.length) print(ctx, `… and ${all.length - rows.length} more`);
    }
  }

  print(ctx);
  print(ctx, 'Where to look:');
  print(ctx, '  npx bubblewatch runs                 recent runs and their counts');
  print(ctx, '  npx bubblewatch runs <run-id>        one run: files, rejected rows, data checks');
  const views = [...new Set(pipelines.flatMap((p) => p.views))];
  if (views.length > 0) print(ctx, `  views for analysts: ${views.join(', ')}`);
  if (handle.kind === 'postgres') print(ctx, `  psql "$DATABASE_URL" -c 'select * from ${views[0] ?? 'etl.runs'} limit 20'`);
}

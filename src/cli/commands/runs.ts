import { ConfigError } from '../../errors.js';
import { listRuns } from '../../engine/run-ledger.js';
import type { Run, RunStatus } from '../../db/tables/runs.table.js';
import { formatDuration, formatNumber, formatTable, formatTimestamp, formatValue } from '../format.js';
import { print, withDatabase, type CliContext } from '../context.js';

export interface RunsCommandOptions {
  readonly pipeline?: string;
  readonly status?: string;
  readonly limit: string;
  readonly json?: boolean;
}

function durationOf(run: Run): number | null {
  if (!run.finished_at) return null;
  return run.finished_at.getTime() - run.started_at.getTime();
}

export async function runsCommand(ctx: CliContext, runId: string | undefined, options: RunsCommandOptions): Promise<number> {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new ConfigError(`--limit: got "${options.limit}", expected a whole number from 1 to 10000`);
  const statuses = ['queued', 'running', 'succeeded', 'partial', 'failed', 'skipped', 'interrupted'];
  if (options.status !== undefined && !statuses.includes(options.status)) throw new ConfigError(`--status: got "${options.status}", expected one of ${statuses.join(', ')}`);
  if (runId !== undefined && !/^\d+$/.test(runId)) throw new ConfigError(`run id: got "${runId}", expected a number (see bubblewatch runs)`);
  return withDatabase(
    ctx,
    'bubblewatch runs',
    async (handle) => {
      if (runId !== undefined) return showRun(ctx, handle, Number(runId), options.json ?? false);
      const runs = await listRuns(handle, { pipeline: options.pipeline, status: options.status as RunStatus | undefined, limit });
      if (options.json) {
        print(ctx, JSON.stringify(runs, null, 2));
        return 0;
      }
      if (runs.length === 0) {
        print(ctx, 'no runs yet; try: npx bubblewatch run --all');
        return 0;
      }
      print(
        ctx,
        formatTable(runs, [
          { header: 'run', value: (r) => r.run_id, align: 'right' },
          { header: 'pipeline', value: (r) => r.pipeline },
          { header: 'trigger', value: (r) => r.trigger + (r.attempt > 1 ? ` #${r.attempt}` : '') },
          { header: 'status', value: (r) => r.status },
          { header: 'started (UTC)', value: (r) => formatTimestamp(r.started_at) },
          { header: 'took', value: (r) => formatDuration(durationOf(r)), align: 'right' },
          { header: 'files', value: (r) => `${r.files_loaded}+${r.files_skipped}s` + (r.files_failed > 0 ? `+${r.files_failed}f` : ''), align: 'right' },
          { header: 'read', value: (r) => formatNumber(r.rows_read), align: 'right' },
          { header: 'loaded', value: (r) => formatNumber(r.rows_loaded), align: 'right' },
          { header: 'rejected', value: (r) => formatNumber(r.rows_rejected), align: 'right' },
          { header: 'skipped', value: (r) => formatNumber(r.rows_skipped), align: 'right' },
          { header: 'error', value: (r) => r.error ?? '', max: 70 },
        ]),
      );
      print(ctx, '\nfiles: loaded+skipped (unchanged)[+failed]. partial: some files failed alone, the rest loaded. Details of one run: bubblewatch runs <run>');
      return 0;
    },
    { migrateFirst: true },
  );
}

async function showRun(ctx: CliContext, handle: Parameters<Parameters<typeof withDatabase>[2]>[0], runId: number, json: boolean): Promise<number> {
  const run = await handle.db.selectFrom('etl.runs').selectAll().where('run_id', '=', runId).executeTakeFirst();
  if (!run) throw new ConfigError(`run ${runId} does not exist (see bubblewatch runs)`);
  const files = await handle.db.selectFrom('etl.run_files').selectAll().where('run_id', '=', runId).orderBy('uri').execute();
  const rejects = await handle.db
    .selectFrom('etl.rejects')
    .select(['uri', 'line_no', 'column_name', 'column_no', 'value', 'reason', 'raw_text'])
    .where('run_id', '=', runId)
    .orderBy('reject_id')
    .limit(200)
    .execute();
  const checks = await handle.db.selectFrom('etl.check_results').selectAll().where('run_id', '=', runId).orderBy('check_name').execute();
  if (json) {
    print(ctx, JSON.stringify({ run, files, rejects, checks }, null, 2));
    return 0;
  }
  print(ctx, `run ${run.run_id}: ${run.pipeline}, ${run.trigger}, ${run.status}`);
  print(ctx, `  started ${formatTimestamp(run.started_at)}, finished ${formatTimestamp(run.finished_at) || '(not finished)'}, took ${formatDuration(durationOf(run)) || '-'}`);
  print(ctx, `  rows read ${run.rows_read} = loaded ${run.rows_loaded} + rejected ${run.rows_rejected} + skipped ${run.rows_skipped}`);
  if (run.files_failed > 0) print(ctx, `  files that failed alone (nothing of them kept; read again when they change): ${run.files_failed}`);
  if (run.error) print(ctx, `  error: ${run.error}`);
  if (files.length > 0) {
    print(ctx, '\nfiles');
    print(
      ctx,
      formatTable(files, [
        { header: 'action', value: (f) => f.action },
        { header: 'file', value: (f) => f.uri, max: 70 },
        { header: 'read', value: (f) => f.rows_read, align: 'right' },
        { header: 'loaded', value: (f) => f.rows_loaded, align: 'right' },
        { header: 'rejected', value: (f) => f.rows_rejected, align: 'right' },
        { header: 'note', value: (f) => f.message ?? '', max: 80 },
      ]),
    );
  }
  if (rejects.length > 0) {
    print(ctx, `\nrejected rows${rejects.length === 200 ? ' (first 200)' : ''}`);
    print(
      ctx,
      formatTable(rejects, [
        { header: 'file', value: (r) => r.uri.slice(r.uri.lastIndexOf('/') + 1), max: 30 },
        { header: 'line', value: (r) => r.line_no, align: 'right' },
        { header: 'column', value: (r) => (r.column_name ? `${r.column_name} (${r.column_no})` : r.column_no ?? '') },
        { header: 'value', value: (r) => (r.value === null ? '' : JSON.stringify(r.value)), max: 24 },
        { header: 'reason', value: (r) => r.reason, max: 90 },
      ]),
    );
  }
  if (checks.length > 0) {
    print(ctx, '\ndata checks');
    print(
      ctx,
      formatTable(checks, [
        { header: 'check', value: (c) => c.check_name },
        { header: 'severity', value: (c) => c.severity },
        { header: 'status', value: (c) => c.status },
        { header: 'failing rows', value: (c) => c.failing_rows, align: 'right' },
        { header: 'sample', value: (c) => formatValue(c.sample[0] ?? ''), max: 60 },
      ]),
    );
  }
  return 0;
}

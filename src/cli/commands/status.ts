import { sql } from 'kysely';
import type { DatabaseHandle } from '../../db/connect.js';
import type { Run } from '../../db/tables/runs.table.js';
import { ageInDays, newestData } from '../../engine/freshness.js';
import { nextTick } from '../../scheduler/cron.js';
import { formatTable, formatTimestamp } from '../format.js';
import { print, withDatabase, type CliContext } from '../context.js';

/**
 * `bubblewatch status`: per pipeline, the last run and last success, failures in a row, the
 * next scheduled tick, and how fresh its data is. Failing and stale pipelines are flagged.
 */

export interface PipelineStatus {
  readonly pipeline: string;
  readonly state: 'enabled' | 'disabled' | 'not configured';
  readonly schedule: string;
  readonly next_tick: string | null;
  readonly last_run: { run_id: number; status: string; trigger: string; started_at: string; error: string | null } | null;
  readonly last_success_at: string | null;
  readonly failures_in_a_row: number;
  /** Files that failed alone and have not changed since (not read again until they do). */
  readonly failing_files: readonly { readonly file: string; readonly since_run: number; readonly last_run: number; readonly error: string }[];
  /** Files gone from the sources whose rows are kept (on_missing: keep). */
  readonly missing_files: number;
  readonly newest_data: string | null;
  readonly max_age_days: number | null;
  readonly age_days: number | null;
  readonly stale: boolean;
  readonly flags: readonly string[];
}

export async function collectStatus(ctx: CliContext, handle: DatabaseHandle, now = new Date()): Promise<PipelineStatus[]> {
  const statuses: PipelineStatus[] = [];
  for (const pipeline of ctx.registry) {
    const config = ctx.config.pipelines.get(pipeline.name)!;
    const recent: Run[] = await handle.db
      .selectFrom('etl.runs')
      .selectAll()
      .where('pipeline', '=', pipeline.name)
      .where('status', '<>', 'skipped')
      .orderBy('run_id', 'desc')
      .limit(50)
      .execute();
    const last = recent[0];
    const lastSuccess = recent.find((r) => r.status === 'succeeded' || r.status === 'partial');
    let failures = 0;
    for (const r of recent) {
      if (r.status === 'succeeded' || r.status === 'partial') break;
      if (r.status === 'failed' || r.status === 'interrupted') failures++;
    }
    const failing = await handle.db
      .selectFrom('etl.file_failures')
      .select(['uri', 'first_run_id', 'run_id', 'error'])
      .where('pipeline', '=', pipeline.name)
      .orderBy('source_key')
      .execute();
    const missing = await handle.db
      .selectFrom('etl.source_files')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('pipeline', '=', pipeline.name)
      .where('superseded_at', 'is', null)
      .where('missing_since_run_id', 'is not', null)
      .executeTakeFirst();
    const newest = await newestData(handle, pipeline);
    const maxAge = pipeline.freshness?.maxAgeDays ?? null;
    const age = newest ? ageInDays(newest, now) : null;
    const stale = maxAge !== null && age !== null && age > maxAge;
    const state = config.enabled ? 'enabled' : config.configured ? 'disabled' : 'not configured';
    const flags: string[] = [];
    if (failures > 0) flags.push(`FAILING (${failures} in a row)`);
    if (failing.length > 0) flags.push(`PARTIAL (${failing.length} file(s) failing)`);
    if (Number(missing?.n ?? 0) > 0) flags.push(`${missing!.n} file(s) missing, rows kept`);
    if (stale) flags.push(`STALE (newest data ${age} days old, limit ${maxAge})`);
    if (state === 'enabled' && !last) flags.push('never run');
    statuses.push({
      pipeline: pipeline.name,
      state,
      schedule: `${config.schedule.cron} (${config.schedule.timezone})`,
      next_tick: state === 'enabled' ? (nextTick(config.schedule.cron, config.schedule.timezone)?.toISOString() ?? null) : null,
      last_run: last
        ? { run_id: last.run_id, status: last.status, trigger: last.trigger, started_at: last.started_at.toISOString(), error: last.error }
        : null,
      last_success_at: lastSuccess?.finished_at?.toISOString() ?? null,
      failures_in_a_row: failures,
      failing_files: failing.map((f) => ({ file: f.uri, since_run: f.first_run_id, last_run: f.run_id, error: f.error })),
      missing_files: Number(missing?.n ?? 0),
      newest_data: newest,
      max_age_days: maxAge,
      age_days: age,
      stale,
      flags,
    });
  }
  return statuses;
}

export async function statusCommand(ctx: CliContext, options: { json?: boolean }): Promise<number> {
  return withDatabase(
    ctx,
    'bubblewatch status',
    async (handle) => {
      const statuses = await collectStatus(ctx, handle);
      const { rows: running } = await handle.withConnection((conn) =>
        conn.query<{ run_id: number; pipeline: string; started_at: Date; heartbeat_at: Date | null; host: string; pid: number }>(
          `select run_id, pipeline, started_at, heartbeat_at, host, pid from etl.runs where status = 'running' order by run_id`,
        ),
      );
      const [{ now } = { now: new Date() }] = (await sql<{ now: Date }>`select now() as now`.execute(handle.db)).rows;
      if (options.json) {
        print(ctx, JSON.stringify({ database: handle.kind, checked_at: now, pipelines: statuses, running }, null, 2));
        return 0;
      }
      print(ctx, `bubblewatch status — ${handle.kind === 'pglite' ? 'embedded' : 'PostgreSQL'} database at ${handle.location}, ${formatTimestamp(now)}`);
      print(ctx);
      print(
        ctx,
        formatTable(statuses, [
          { header: 'pipeline', value: (s) => s.pipeline },
          { header: 'state', value: (s) => s.state },
          { header: 'last run', value: (s) => (s.last_run ? `#${s.last_run.run_id} ${s.last_run.status}` : '') },
          { header: 'at (UTC)', value: (s) => (s.last_run ? s.last_run.started_at.replace('T', ' ').slice(0, 16) : '') },
          { header: 'next tick (UTC)', value: (s) => (s.next_tick ? s.next_tick.replace('T', ' ').slice(0, 16) : '') },
          { header: 'newest data', value: (s) => (s.newest_data ? `${s.newest_data} (${s.age_days} d)` : '') },
          { header: 'attention', value: (s) => s.flags.join('; '), max: 60 },
        ]),
      );
      for (const s of statuses.filter((x) => x.last_run?.status === 'failed' && x.last_run.error)) {
        print(ctx, `\n${s.pipeline}: last error: ${s.last_run!.error}`);
      }
      for (const s of statuses.filter((x) => x.failing_files.length > 0)) {
        print(ctx, `\n${s.pipeline}: ${s.failing_files.length} file(s) failing (nothing of them kept; read again when they change, or run --retry-failed):`);
        for (const f of s.failing_files.slice(0, 10)) print(ctx, `  ${f.file} (since run ${f.since_run}): ${f.error}`);
      }
      if (running.length > 0) {
        print(ctx, `\nrunning now: ${running.map((r) => `#${r.run_id} ${r.pipeline} (pid ${r.pid} on ${r.host}, heartbeat ${formatTimestamp(r.heartbeat_at)})`).join(', ')}`);
      }
      return 0;
    },
    { migrateFirst: true },
  );
}

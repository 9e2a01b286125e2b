import { sql } from 'kysely';
import { formatTable, formatTimestamp } from '../format.js';
import { print, withApp, type CliContext } from '../context.js';

/**
 * `bubblewatch status`: per pipeline, the last run and last success, failures in a row, the
 * next scheduled tick, and how fresh its data is. Failing and stale pipelines are flagged.
 */

export { collectStatus, type PipelineStatus } from '../../app/status.js';

export async function statusCommand(ctx: CliContext, options: { json?: boolean }): Promise<number> {
  return withApp(ctx, 'bubblewatch status', async ({ handle, status }) => {
    const statuses = await status();
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
    for (const s of statuses.filter((x) => x.not_available.length > 0)) {
      print(ctx, `\n${s.pipeline}: not yet available from the publisher (not a failure; asked again on the next run):`);
      for (const u of s.not_available.slice(0, 10)) print(ctx, `  ${u.partition}: ${u.uri} (run ${u.run_id})`);
    }
    if (running.length > 0) {
      print(ctx, `\nrunning now: ${running.map((r) => `#${r.run_id} ${r.pipeline} (pid ${r.pid} on ${r.host}, heartbeat ${formatTimestamp(r.heartbeat_at)})`).join(', ')}`);
    }
    return 0;
  });
}

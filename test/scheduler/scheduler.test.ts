import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { secCompanyfacts } from '../../pipelines/sec-companyfacts/pipeline.js';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import { scheduleSchema, schedulerSchema } from '../../src/config/schema.js';
import type { Fetcher } from '../../src/engine/discover.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { FetchError } from '../../src/http/fetch-cached.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { runPipeline } from '../../src/engine/run-pipeline.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { bundledShared, inboxConfig, makeInbox, memoryLogger, rows } from '../helpers/pipelines.js';

const custom = customSeries as unknown as AnyPipeline;
const companyfacts = secCompanyfacts as unknown as AnyPipeline;
const SAMPLE = join(PACKAGE_ROOT, 'data', 'sample');
const fast = schedulerSchema.parse({ retry: { max_attempts: 3, base_ms: 1, max_ms: 5 }, stale_after_seconds: 60 });

function customConfig(inbox: string, schedule: Partial<ResolvedPipelineConfig['schedule']> = {}): ResolvedPipelineConfig {
  const base = inboxConfig(custom, inbox);
  return { ...base, schedule: scheduleSchema.parse({ cron: '15 6 * * *', timezone: 'UTC', ...schedule }) };
}

function scheduler(handle: Parameters<typeof rows>[0], config: ResolvedPipelineConfig, extra: { fetch?: Fetcher; pipeline?: AnyPipeline } = {}) {
  return new Scheduler({
    handle,
    logger: memoryLogger().logger,
    pipelines: [{ pipeline: extra.pipeline ?? custom, config }],
    shared: bundledShared(),
    settings: fast,
    ...(extra.fetch ? { fetch: extra.fetch } : {}),
  });
}

describeEachDatabase('scheduler', (kind) => {
  it('runs a tick once however many schedulers claim it', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copyFileSync(join(SAMPLE, 'custom-series', 'ai_series.csv'), join(inbox, 'ai_series.csv'));
    const config = customConfig(inbox);
    const tick = new Date('2026-11-30T06:15:00Z');
    const [a, b, c] = [scheduler(db.handle, config), scheduler(db.handle, config), scheduler(db.handle, config)];
    const results = await Promise.all([a, b, c].map((s) => s.onTick(custom, config, tick, 'tick')));
    expect(results.filter(Boolean)).toHaveLength(1);
    const ticks = await rows(db.handle, 'select scheduled_for, kind, outcome, run_id from etl.schedule_ticks');
    expect(ticks).toEqual([{ scheduled_for: tick, kind: 'tick', outcome: 'ran', run_id: results.find(Boolean)!.runId }]);
    const runs = await rows(db.handle, `select trigger, status, scheduled_for from etl.runs`);
    expect(runs).toEqual([{ trigger: 'schedule', status: 'succeeded', scheduled_for: tick }]);
  });

  it('records a tick as skipped while the previous run of the pipeline is still going', async () => {
    const db = await useDatabase(kind);
    const config = customConfig(makeInbox());
    await db.handle.withConnection((conn) =>
      conn.query(`insert into etl.runs (pipeline, trigger, status, heartbeat_at, host, pid) values ('custom-series', 'schedule', 'running', now(), 'elsewhere', 1)`),
    );
    // On the embedded database the folder lock makes this the only process: a run left "running" is from a dead one.
    const s = scheduler(db.handle, config);
    const summary = await s.onTick(custom, config, new Date('2026-11-30T06:15:00Z'), 'tick');
    const runs = await rows<{ status: string; error: string | null }>(db.handle, 'select status, error from etl.runs order by run_id');
    if (kind === 'postgres') {
      expect(summary).toBeUndefined();
      expect(runs).toEqual([
        { status: 'running', error: null },
        { status: 'skipped', error: 'skipped: the previous run (1) of custom-series is still going' },
      ]);
      const [tick] = await rows(db.handle, 'select outcome, run_id from etl.schedule_ticks');
      expect(tick).toEqual({ outcome: 'skipped', run_id: 2 });
    } else {
      expect(summary?.status).toBe('succeeded');
      expect(runs[0]).toMatchObject({ status: 'interrupted', error: expect.stringMatching(/^interrupted: the process running it \(pid 1 on elsewhere\) stopped without finishing/) as unknown });
    }
  });

  it('marks a run whose heartbeat stopped as interrupted', async () => {
    const db = await useDatabase(kind);
    await db.handle.withConnection((conn) =>
      conn.query(
        `insert into etl.runs (pipeline, trigger, status, started_at, heartbeat_at, host, pid)
         values ('custom-series', 'schedule', 'running', now() - interval '10 minutes', now() - interval '9 minutes', 'gone-host', 4242)`,
      ),
    );
    const recovered = await scheduler(db.handle, customConfig(makeInbox())).recover();
    expect(recovered).toBe(1);
    const [run] = await rows<{ status: string; error: string }>(db.handle, 'select status, error, finished_at is not null as finished from etl.runs');
    expect(run).toMatchObject({ status: 'interrupted', finished: true });
    expect(run!.error).toMatch(/pid 4242 on gone-host\) stopped without finishing; last heartbeat \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  });

  it.each([
    ['skip', 10, 0],
    ['once', 10, 1],
    ['all', 10, 3],
    ['all', 2, 2],
  ] as const)('applies the missed-tick policy %s (cap %i): %i catch-up run(s)', async (missed, cap, expected) => {
    const db = await useDatabase(kind);
    const config = customConfig(makeInbox(), { missed, missed_cap: cap });
    await db.handle.withConnection((conn) =>
      conn.query(`insert into etl.schedule_ticks (pipeline, scheduled_for, claimed_by, kind, outcome) values ('custom-series', '2026-11-26T06:15:00Z', 'earlier', 'tick', 'ran')`),
    );
    const summaries = await scheduler(db.handle, config).catchUp(new Date('2026-11-29T12:00:00Z'));
    expect(summaries).toHaveLength(expected);
    const ticks = await rows<{ scheduled_for: Date; kind: string }>(db.handle, `select scheduled_for, kind from etl.schedule_ticks where kind = 'catch-up' order by 1`);
    const all = ['2026-11-27', '2026-11-28', '2026-11-29'];
    expect(ticks.map((t) => t.scheduled_for.toISOString().slice(0, 10))).toEqual(all.slice(all.length - expected));
    const runs = await rows<{ trigger: string }>(db.handle, 'select trigger from etl.runs');
    expect(runs.every((r) => r.trigger === 'catch-up')).toBe(true);
  });

  it('retries a run that failed transiently (HTTP 503) with backoff, and a permanent failure not at all', async () => {
    const db = await useDatabase(kind);
    const config: ResolvedPipelineConfig = {
      ...inboxConfig(companyfacts, makeInbox()),
      sources: [{ kind: 'url', url: 'https://data.sec.gov/api/xbrl/companyfacts/CIK{cik10}.json' }],
    };
    let failuresLeft = 2;
    const flaky: Fetcher = async (url) => {
      if (failuresLeft > 0) {
        failuresLeft--;
        throw new FetchError(`${url}: HTTP 503 Service Unavailable`, url, 503, true, 1);
      }
      const cik = /CIK(\d{10})/.exec(url)![1]!;
      return { path: join(SAMPLE, 'sec', 'companyfacts', `CIK${cik}.json`), status: 'downloaded' };
    };
    const summary = await scheduler(db.handle, config, { fetch: flaky, pipeline: companyfacts }).runNow(companyfacts, config);
    expect(summary?.status).toBe('succeeded');
    const attempts = await rows(db.handle, 'select run_id, attempt, retry_of, status from etl.runs order by run_id');
    expect(attempts).toEqual([
      { run_id: 1, attempt: 1, retry_of: null, status: 'failed' },
      { run_id: 2, attempt: 2, retry_of: 1, status: 'failed' },
      { run_id: 3, attempt: 3, retry_of: 2, status: 'succeeded' },
    ]);

    const missing: Fetcher = async (url) => {
      throw new FetchError(`${url}: HTTP 404 Not Found`, url, 404, false, 1);
    };
    const permanent = await scheduler(db.handle, config, { fetch: missing, pipeline: companyfacts }).runNow(companyfacts, config);
    expect(permanent).toMatchObject({ status: 'failed', transient: false });
    const [{ n }] = (await rows<{ n: number }>(db.handle, `select count(*)::int as n from etl.runs where run_id > 3`)) as [{ n: number }];
    expect(n).toBe(1);
  });

  it('takes no ticks once stopping, and a run told to stop rolls back and is recorded as interrupted', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    copyFileSync(join(SAMPLE, 'custom-series', 'ai_series.csv'), join(inbox, 'ai_series.csv'));
    const s = scheduler(db.handle, customConfig(inbox));
    s.interrupt();
    expect(await s.onTick(custom, customConfig(inbox), new Date('2026-11-30T06:15:00Z'), 'tick')).toBeUndefined();
    expect(await s.runNow(custom, customConfig(inbox))).toBeUndefined();

    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    const summary = await runPipeline({ handle: db.handle, logger: memoryLogger().logger, shared: bundledShared() }, custom, customConfig(inbox), {
      trigger: 'schedule',
      signal: controller.signal,
    });
    expect(summary).toMatchObject({ status: 'interrupted', transient: false, error: 'interrupted: shutting down' });
    const [run] = await rows(db.handle, 'select status, error from etl.runs');
    expect(run).toEqual({ status: 'interrupted', error: 'interrupted: shutting down' });
    const [n] = await rows<{ n: number }>(db.handle, 'select count(*)::int as n from raw.custom_series');
    expect(n!.n).toBe(0);
  });
});

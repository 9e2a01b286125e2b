import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { postgresAvailable, useDatabase } from '../helpers/databases.js';
import { makeInbox, rows, writeFile } from '../helpers/pipelines.js';
import { bubblewatch, type Proc } from '../helpers/cli.js';

/**
 * Real processes: several schedulers on one PostgreSQL. These drive the built `bubblewatch`
 * binary. (A process killed with SIGKILL in the middle of a load is a fault of the reliability
 * suite: test/reliability/faults-sigkill.test.ts.)
 */

function config(dir: string, cron: string, staleSeconds = 10): string {
  return writeFile(
    dir,
    'bubblewatch.yaml',
    `log: { level: info }
scheduler: { heartbeat_seconds: 1, stale_after_seconds: ${staleSeconds}, shutdown_timeout_seconds: 5 }
pipelines:
  custom-series:
    schedule: { cron: "${cron}", timezone: UTC, missed: skip }
    sources:
      - path: ./inbox
`,
  );
}

// Several processes claiming one tick needs a server they share: PGlite's folder lock admits one process.
const NAME = 'several schedulers on one PostgreSQL';
const maybe = postgresAvailable() ? describe : describe.skip;
const title = postgresAvailable() ? NAME : `${NAME} [SKIPPED — ${String(inject('postgresSkipReason'))}]`;
/** Ticks that must have run (or been skipped) before the schedulers are stopped. */
const TICKS = 5;

maybe(title, () => {
  it('run every tick exactly once: none twice, none lost', async () => {
    const db = await useDatabase('postgres');
    await db.close();
    const dir = makeInbox();
    const file = config(dir, '* * * * * *');
    copyFileSync(join(PACKAGE_ROOT, 'data', 'sample', 'custom-series', 'ai_series.csv'), writeFile(dir, 'inbox/ai_series.csv', ''));
    const procs = [1, 2, 3].map(() => bubblewatch(['--config', file, 'start', '--no-initial-run'], db.env));
    // Wait for enough finished ticks rather than for a fixed time: on a loaded machine the
    // processes take a while to start, and seven seconds sometimes held fewer than four ticks.
    const watcher = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await watcher.connect();
    let finished = 0;
    try {
      const deadline = Date.now() + 90_000;
      while (finished < TICKS && Date.now() < deadline && procs.every((p) => p.child.exitCode === null)) {
        await sleep(250);
        const r = await watcher.query<{ n: number }>(`select count(*)::int as n from etl.schedule_ticks where outcome is not null`);
        finished = r.rows[0]!.n;
      }
    } finally {
      await watcher.end();
    }
    for (const p of procs) p.child.kill('SIGTERM');
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes, procs.map((p) => p.stderr.slice(-500)).join('\n')).toEqual([0, 0, 0]);

    const handle = await db.reopen();
    const ticks = await rows<{ scheduled_for: Date; claimed_by: string; outcome: string | null; run_id: number | null }>(
      handle,
      `select scheduled_for, claimed_by, outcome, run_id from etl.schedule_ticks order by scheduled_for`,
    );
    expect(finished, 'ticks finished before the deadline').toBeGreaterThanOrEqual(TICKS);
    expect(ticks.length).toBeGreaterThanOrEqual(TICKS);
    // Contiguous: one tick every second from the first to the last.
    for (let i = 1; i < ticks.length; i++) {
      expect(ticks[i]!.scheduled_for.getTime() - ticks[i - 1]!.scheduled_for.getTime()).toBe(1000);
    }
    // Each tick ran (or was skipped because the previous run was still going) exactly once.
    expect(ticks.every((t) => t.outcome === 'ran' || t.outcome === 'skipped')).toBe(true);
    const runs = await rows<{ scheduled_for: Date; n: number }>(
      handle,
      `select scheduled_for, count(*)::int as n from etl.runs where trigger = 'schedule' group by scheduled_for having count(*) > 1`,
    );
    expect(runs).toEqual([]);
    const [{ n }] = (await rows<{ n: number }>(handle, `select count(*)::int as n from etl.runs where trigger = 'schedule'`)) as [{ n: number }];
    expect(n).toBe(ticks.length);
    // More than one process took part.
    expect(new Set(ticks.map((t) => t.claimed_by)).size).toBeGreaterThan(1);
  });
});

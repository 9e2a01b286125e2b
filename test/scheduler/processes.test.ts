import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, postgresAvailable, useDatabase, type DbKind } from '../helpers/databases.js';
import { makeInbox, rows, writeFile } from '../helpers/pipelines.js';

/**
 * Real processes: several schedulers on one PostgreSQL, and a process killed with SIGKILL in
 * the middle of a load. These drive the built `bubblewatch` binary.
 */

interface Proc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

function bubblewatch(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'bubblewatch.js'), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BUBBLEWATCH_LOG_FORMAT: 'json', ...env },
    cwd: PACKAGE_ROOT,
  });
  const proc: Proc = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  child.stdout!.on('data', (d) => (proc.stdout += d));
  child.stderr!.on('data', (d) => (proc.stderr += d));
  return proc;
}

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

const maybe = postgresAvailable() ? describe : describe.skip;

maybe('several schedulers on one PostgreSQL', () => {
  it('run every tick exactly once: none twice, none lost', async () => {
    const db = await useDatabase('postgres');
    await db.close();
    const dir = makeInbox();
    const file = config(dir, '* * * * * *');
    copyFileSync(join(PACKAGE_ROOT, 'data', 'sample', 'custom-series', 'ai_series.csv'), writeFile(dir, 'inbox/ai_series.csv', ''));
    const procs = [1, 2, 3].map(() => bubblewatch(['--config', file, 'start', '--no-initial-run'], db.env));
    await sleep(7000);
    for (const p of procs) p.child.kill('SIGTERM');
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes, procs.map((p) => p.stderr.slice(-500)).join('\n')).toEqual([0, 0, 0]);

    const handle = await db.reopen();
    const ticks = await rows<{ scheduled_for: Date; claimed_by: string; outcome: string | null; run_id: number | null }>(
      handle,
      `select scheduled_for, claimed_by, outcome, run_id from etl.schedule_ticks order by scheduled_for`,
    );
    expect(ticks.length).toBeGreaterThanOrEqual(4);
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

describeEachDatabase('a process killed mid-run', (kind: DbKind) => {
  it('is recovered by the next process: the run is marked interrupted, the lock freed, and a rerun loads the same totals', async () => {
    const db = await useDatabase(kind);
    await db.close();
    const dir = makeInbox();
    const file = config(dir, '15 6 * * *', 10);
    // A large generated file so that the load takes long enough to be killed in the middle.
    const lines = ['series,subject,date,value,unit'];
    for (let i = 0; i < 150_000; i++) lines.push(`load_test_${i % 97},subject ${i},2025-${String((i % 12) + 1).padStart(2, '0')}-01,${i}.5,USD`);
    writeFile(dir, 'inbox/big.csv', lines.join('\n') + '\n');

    const victim = bubblewatch(['--config', file, 'run', 'custom-series', '--no-preview'], db.env);
    for (let i = 0; i < 600 && !victim.stderr.includes('"msg":"run 1 of custom-series started'); i++) await sleep(50);
    expect(victim.stderr).toContain('run 1 of custom-series started');
    await sleep(kind === 'pglite' ? 1000 : 500);
    victim.child.kill('SIGKILL');
    await victim.exited;
    if (kind === 'pglite') expect(existsSync(`${db.openOptions.embeddedDir}.lock`)).toBe(true);

    if (kind === 'postgres') await sleep(11_000); // its heartbeat goes stale after stale_after_seconds
    const next = bubblewatch(['--config', file, 'run', 'custom-series', '--no-preview'], db.env);
    const code = await next.exited;
    expect(code, next.stderr.slice(-1000)).toBe(0);
    expect(next.stderr).toMatch(/run 1 of custom-series was left running by a process that stopped; marked interrupted/);

    const handle = await db.reopen();
    // (Run ids after a crash may jump: PostgreSQL logs identity values ahead.)
    const runs = await rows<{ status: string; rows_read: number; rows_loaded: number }>(
      handle,
      'select status, rows_read, rows_loaded from etl.runs order by run_id',
    );
    expect(runs).toEqual([
      { status: 'interrupted', rows_read: 0, rows_loaded: 0 },
      { status: 'succeeded', rows_read: 150_000, rows_loaded: 150_000 },
    ]);
    const [totals] = await rows<{ raw: number; core: number; files: number }>(
      handle,
      `select (select count(*)::int from raw.custom_series) as raw, (select count(*)::int from core.custom_series) as core,
              (select count(*)::int from etl.source_files) as files`,
    );
    expect(totals).toEqual({ raw: 150_000, core: 150_000, files: 1 });
    if (kind === 'pglite') expect(readFileSync(`${db.openOptions.embeddedDir}.lock`, 'utf8')).toContain(`"pid":${process.pid}`);
  });
});

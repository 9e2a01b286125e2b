import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, onTestFinished } from 'vitest';
import { useDatabase, type DbKind, type TestDatabase } from '../helpers/databases.js';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { inboxConfig, runOnce, writeFile } from '../helpers/pipelines.js';
import type { Proc } from '../helpers/cli.js';
import { contents, diffContents } from './db-state.js';
import type { FaultId } from './faults-plan.js';
import { record } from './outcomes.js';

/**
 * Helpers of the fault tests that drive real `bubblewatch` processes
 * (faults-sigkill.test.ts, faults-concurrent.test.ts).
 */

/** stale_after_seconds cannot be under 10: a PostgreSQL run's heartbeat goes stale after that. */
export const STALE_SECONDS = 10;
export const custom = customSeries as unknown as AnyPipeline;

export function config(dir: string, retryAttempts = 1): string {
  return writeFile(
    dir,
    'bubblewatch.yaml',
    `log: { level: debug }
scheduler: { heartbeat_seconds: 1, stale_after_seconds: ${STALE_SECONDS}, shutdown_timeout_seconds: 5, retry: { max_attempts: ${retryAttempts}, base_ms: 10, max_ms: 50 } }
pipelines:
  custom-series:
    schedule: { cron: "15 6 * * *", timezone: UTC }
    sources:
      - path: ./inbox
`,
  );
}

/** A generated custom-series file of `n` rows (large enough that loading it takes seconds). */
export function bigFile(dir: string, n: number): void {
  const lines = ['series,subject,date,value,unit'];
  for (let i = 0; i < n; i++) lines.push(`load_test_${i % 97},subject ${i},2025-${String((i % 12) + 1).padStart(2, '0')}-01,${i}.5,USD`);
  writeFile(dir, 'inbox/big.csv', lines.join('\n') + '\n');
}

export async function waitFor(proc: Proc, text: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!proc.stderr.includes(text) && proc.child.exitCode === null && Date.now() < deadline) await sleep(25);
  return proc.stderr.includes(text);
}

export function tracker(id: FaultId) {
  const outcome = { injected: false, lost: 0, detail: '' };
  onTestFinished((test) => {
    const recovered = test.task.result?.state !== 'fail';
    const error = test.task.result?.errors?.[0]?.message;
    record({ type: 'fault', id, injected: outcome.injected, recovered, lost: outcome.lost, detail: recovered ? outcome.detail : `${error ?? ''} (${outcome.detail})` });
  });
  return outcome;
}

/** The raw and core tables of `db` against a clean run of the same inbox on a fresh database: rows missing. */
export async function lostAgainstCleanRun(kind: DbKind, db: TestDatabase, dir: string): Promise<number> {
  const clean = await useDatabase(kind);
  const reference = await runOnce(clean.handle, custom, inboxConfig(custom, join(dir, 'inbox')));
  expect(reference.status, reference.error).toBe('succeeded');
  const diffs = diffContents(await contents(clean.handle), await contents(db.handle));
  expect(diffs, 'raw and core tables equal a clean run').toEqual([]);
  return diffs.reduce((n, d) => n + d.missing.length, 0);
}


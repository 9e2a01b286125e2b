import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

/**
 * Each bad-input case and each injected fault writes its outcome to a JSON file in a folder
 * that test/reliability/summary.ts creates for the run (vitest runs the test files in
 * parallel workers, so the files are how they meet). The summary reads them all at the end.
 * Outside `npm run test:reliability` (no folder provided) nothing is recorded.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    reliabilityResultsDir: string;
  }
}

export interface CaseRecord {
  readonly type: 'case';
  readonly id: string;
  readonly database: string;
  /** Every invariant and expectation held. */
  readonly handled: boolean;
  /** Rows read that are neither loaded, rejected nor skipped, or good rows missing from the database. */
  readonly lost: number;
  readonly detail?: string;
}

export interface FaultRecord {
  readonly type: 'fault';
  readonly id: string;
  /** The fault really happened (the server stopped mid-run, the process died mid-run, the runs overlapped). */
  readonly injected: boolean;
  /** Every check after it held: clear failure, nothing partial, lock released, next run equal to a clean one. */
  readonly recovered: boolean;
  /** Rows a clean run holds that the database after the fault and the next run lacks. */
  readonly lost: number;
  readonly detail?: string;
}

export type OutcomeRecord = CaseRecord | FaultRecord;

function resultsDir(): string | undefined {
  try {
    return (inject('reliabilityResultsDir') as string | undefined) || undefined;
  } catch {
    return undefined;
  }
}

export function record(outcome: OutcomeRecord): void {
  const dir = resultsDir();
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const name = `${outcome.type}-${outcome.id}${outcome.type === 'case' ? `-${outcome.database}` : ''}.json`;
  writeFileSync(join(dir, name), JSON.stringify(outcome) + '\n');
}

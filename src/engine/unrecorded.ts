import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Outcomes of runs that the database could not take when they ended: its disk full, its
 * connection gone. They wait in a small file of their own (in the system's temporary folder,
 * usually another file system than the database's, so that a full data disk does not stop it
 * too), and the next process that marks abandoned runs records them with their real cause,
 * instead of "the process stopped without finishing". One file per database (by its location).
 */

export interface UnrecordedOutcome {
  readonly run_id: number;
  readonly status: 'failed' | 'interrupted';
  readonly error: string;
  /** When the run ended (ISO 8601). */
  readonly at: string;
}

/** The folder of the files; BUBBLEWATCH_STATE_DIR moves it (tests, read-only temporary folders). */
function stateDir(): string {
  return process.env.BUBBLEWATCH_STATE_DIR ?? tmpdir();
}

export function unrecordedFile(location: string): string {
  return join(stateDir(), `bubblewatch-unrecorded-${createHash('sha256').update(location).digest('hex').slice(0, 16)}.jsonl`);
}

/** Keep an outcome for later; best effort (a failure here must not hide the run's own). */
export function rememberUnrecorded(location: string, outcome: UnrecordedOutcome): boolean {
  try {
    appendFileSync(unrecordedFile(location), JSON.stringify(outcome) + '\n', { mode: 0o600 });
    return true;
  } catch {
    return false;
  }
}

export function readUnrecorded(location: string): Map<number, UnrecordedOutcome> {
  let text: string;
  try {
    text = readFileSync(unrecordedFile(location), 'utf8');
  } catch {
    return new Map();
  }
  const out = new Map<number, UnrecordedOutcome>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const o = JSON.parse(line) as UnrecordedOutcome;
      if (Number.isInteger(o.run_id) && (o.status === 'failed' || o.status === 'interrupted') && typeof o.error === 'string') out.set(o.run_id, o);
    } catch {
      // A line cut short by the full disk itself: nothing to recover from it.
    }
  }
  return out;
}

/** Drop the outcomes now in the database. */
export function forgetUnrecorded(location: string, runIds: readonly number[]): void {
  const left = [...readUnrecorded(location).values()].filter((o) => !runIds.includes(o.run_id));
  try {
    if (left.length === 0) rmSync(unrecordedFile(location), { force: true });
    else writeFileSync(unrecordedFile(location), left.map((o) => JSON.stringify(o) + '\n').join(''), { mode: 0o600 });
  } catch {
    // Kept for the next process; recording an outcome twice changes nothing.
  }
}

import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';

/** Memory-backed space a run of the tests may need: a few hundred database copies at most live at once. */
const MIN_FREE_BYTES = 4 * 1024 ** 3;

let chosen: string | undefined;

/**
 * Where the tests keep their databases and scratch folders: /dev/shm (memory) when it is there,
 * writable and roomy, else the system's temporary folder. Each test copies a database template
 * of about 1,200 files and 40 MB and then writes to it; on this machine's disk a copy costs
 * 0.6-1.4 s of CPU and seconds of wall time under load, in memory 0.1-0.2 s. A folder kept for a
 * failed test is printed with its path either way. BUBBLEWATCH_TEST_TMPDIR overrides the choice.
 */
export function scratchDir(): string {
  chosen ??= process.env.BUBBLEWATCH_TEST_TMPDIR || (roomyMemoryFolder('/dev/shm') ?? tmpdir());
  return chosen;
}

function roomyMemoryFolder(path: string): string | undefined {
  try {
    if (!statSync(path).isDirectory()) return undefined;
    accessSync(path, constants.W_OK);
    const fs = statfsSync(path);
    return fs.bavail * fs.bsize >= MIN_FREE_BYTES ? path : undefined;
  } catch {
    return undefined;
  }
}

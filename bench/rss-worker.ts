import { workerData } from 'node:worker_threads';

/**
 * Samples the process's resident set size every `intervalMs` from a worker thread, so the
 * samples keep coming while the main thread is busy in synchronous work (JSON.parse of a
 * large document, or PGlite, whose WebAssembly PostgreSQL runs on the main thread).
 * Slot 0 holds the peak since the last reset, slot 1 the number of samples.
 */
const { buffer, intervalMs } = workerData as { buffer: SharedArrayBuffer; intervalMs: number };
const slots = new BigInt64Array(buffer);

function sample(): void {
  const rss = BigInt(process.memoryUsage.rss());
  if (rss > Atomics.load(slots, 0)) Atomics.store(slots, 0, rss);
  Atomics.add(slots, 1, 1n);
}

sample();
setInterval(sample, intervalMs);

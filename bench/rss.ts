import { Worker } from 'node:worker_threads';

/** Peak RSS of this process over a step, sampled every 50 ms by a worker thread (see rss-worker.ts). */
export class RssSampler {
  private readonly slots: BigInt64Array;
  private readonly worker: Worker;

  private constructor(intervalMs: number) {
    const buffer = new SharedArrayBuffer(16);
    this.slots = new BigInt64Array(buffer);
    this.worker = new Worker(new URL('./rss-worker.js', import.meta.url), { workerData: { buffer, intervalMs } });
    this.worker.unref();
  }

  static start(intervalMs = 50): RssSampler {
    return new RssSampler(intervalMs);
  }

  /** Forget the peak so far; the next peak is measured from now. */
  reset(): void {
    Atomics.store(this.slots, 0, BigInt(process.memoryUsage.rss()));
    Atomics.store(this.slots, 1, 0n);
  }

  /** Peak RSS in bytes since the last reset (this thread's own reading included). */
  peak(): number {
    const now = process.memoryUsage.rss();
    return Math.max(now, Number(Atomics.load(this.slots, 0)));
  }

  samples(): number {
    return Number(Atomics.load(this.slots, 1));
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

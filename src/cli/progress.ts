import { formatDuration } from './format.js';

/**
 * A one-line progress bar with an ETA on a terminal; on anything else (a log file, CI) a
 * plain line every tenth of the way, so logs stay readable.
 */
export class Progress {
  private readonly started = performance.now();
  private lastLogged = -1;

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly log: (line: string) => void = (line) => process.stderr.write(line + '\n'),
  ) {}

  update(done: number, label: string): void {
    const elapsed = performance.now() - this.started;
    const eta = done > 0 && done < this.total ? formatDuration((elapsed / done) * (this.total - done)) : '';
    if (this.stream.isTTY) {
      const width = 30;
      const filled = this.total === 0 ? width : Math.round((done / this.total) * width);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${label}${eta ? `  ETA ${eta}` : ''}`;
      this.stream.write(`\r${line.slice(0, (this.stream.columns ?? 100) - 1).padEnd(Math.min(line.length + 10, (this.stream.columns ?? 100) - 1))}`);
      if (done >= this.total) this.stream.write('\n');
      return;
    }
    const tenth = this.total === 0 ? 10 : Math.floor((done / this.total) * 10);
    if (tenth !== this.lastLogged || done >= this.total) {
      this.lastLogged = tenth;
      this.log(`backfill progress: ${done}/${this.total} partitions (${label})${eta ? `, ETA ${eta}` : ''}`);
    }
  }
}

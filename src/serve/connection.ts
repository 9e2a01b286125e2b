import type { Socket } from 'node:net';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { refuseCopy } from './copy-refusal.js';
import {
  NO_ENCRYPTION,
  ProtocolViolation,
  checkMessageHeader,
  checkStartupLength,
  errorResponse,
  isTerminate,
  messageName,
  negotiateProtocolVersion,
  parseStartupPacket,
  type WireLimits,
} from './protocol.js';
import type { SessionQueue } from './session-queue.js';

/**
 * One client of the wire server, from its first byte to its close.
 *
 * Bytes are framed here (a startup packet, then typed messages), each header is checked
 * before its body is buffered, and only whole, checked messages go to the SessionQueue, one
 * at a time: the socket is paused while a message waits for its turn or runs, so a client
 * that sends faster than the database answers is held back by TCP instead of by this
 * process's memory. A client that breaks the protocol gets a FATAL ErrorResponse naming
 * what it sent and what was expected, and only its own connection is closed.
 *
 * Slow and silent clients: the startup must be complete within `startupTimeoutMs` (as
 * PostgreSQL's authentication_timeout), and a message that stops arriving half-way is given
 * up after `incompleteMessageTimeoutMs`. TCP keepalive finds peers that vanished.
 */

export interface ConnectionOptions {
  readonly id: number;
  readonly socket: Socket;
  readonly queue: SessionQueue;
  readonly limits: WireLimits;
  readonly startupTimeoutMs: number;
  readonly incompleteMessageTimeoutMs: number;
  readonly logger: Logger;
  /** Called once the connection is closed and its turn, if any, given back. */
  readonly onClosed: (id: number) => void;
}

/** How long a closed connection may take to flush its last bytes before its socket is destroyed. */
const LINGER_MS = 2_000;
const KEEPALIVE_DELAY_MS = 30_000;

export class WireConnection {
  private phase: 'startup' | 'session' | 'closed' = 'startup';
  private readonly input = new ByteQueue();
  /** A message is being handled (the socket is paused meanwhile). */
  private busy = false;
  private sslAnswered = false;
  private gssencAnswered = false;
  private startupTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private closed: Promise<void> | undefined;
  private readonly peer: string;

  constructor(private readonly options: ConnectionOptions) {
    const { socket } = options;
    this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => void this.close());
    socket.on('close', () => void this.close());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      options.logger.debug({ client: options.id, peer: this.peer, err: error }, `wire client #${options.id}: ${error.code ?? error.message}`);
      void this.close();
    });
    this.startupTimer = setTimeout(() => this.startupTimedOut(), options.startupTimeoutMs);
    options.logger.debug({ client: options.id, peer: this.peer }, `wire client #${options.id} connected from ${this.peer}`);
  }

  get id(): number {
    return this.options.id;
  }

  /** A method, not a comparison, so that TypeScript does not narrow the phase across awaits. */
  private isClosed(): boolean {
    return this.phase === 'closed';
  }

  /** Refuse the client with FATAL `code` and `message`, and close its connection. */
  fail(code: string, message: string, level: 'info' | 'warn' = 'warn'): Promise<void> {
    if (this.isClosed()) return this.closed ?? Promise.resolve();
    this.options.logger[level]({ client: this.id, peer: this.peer, code }, `wire client #${this.id} from ${this.peer}: ${message}; disconnected`);
    this.write(errorResponse('FATAL', code, message));
    return this.close();
  }

  /** The server is stopping: tell the client, as PostgreSQL does at shutdown, and close. */
  terminate(): Promise<void> {
    if (this.isClosed()) return this.closed ?? Promise.resolve();
    this.write(errorResponse('FATAL', '57P01', 'terminating connection due to administrator command'));
    return this.close(200);
  }

  /**
   * Close the socket (after flushing what was written, for at most `lingerMs`), drop what the
   * client had queued and roll back what it left open in the shared session. Idempotent.
   */
  close(lingerMs = LINGER_MS): Promise<void> {
    if (this.closed) return this.closed;
    this.phase = 'closed';
    this.clearTimers();
    const { socket, queue, id } = this.options;
    socket.end();
    if (!socket.destroyed) {
      const linger = setTimeout(() => socket.destroy(), lingerMs);
      linger.unref();
      socket.once('close', () => clearTimeout(linger));
    }
    this.closed = (async () => {
      queue.clearQueueForHandler(id);
      try {
        await queue.clearTransactionIfNeeded(id);
      } catch (error) {
        this.options.logger.warn({ client: id, err: error }, `wire client #${id}: could not end its session cleanly: ${errorMessage(error)}`);
      }
      this.options.logger.debug({ client: id, peer: this.peer }, `wire client #${id} disconnected`);
      this.options.onClosed(id);
    })();
    return this.closed;
  }

  // ------------------------------------------------------------------ reading

  private receive(chunk: Buffer): void {
    if (this.isClosed()) return;
    this.input.push(chunk);
    this.clearStallTimer();
    void this.process();
  }

  /** Handle every complete message in the input, one at a time, with the socket paused. */
  private async process(): Promise<void> {
    if (this.busy || this.isClosed()) return;
    this.busy = true;
    const { socket } = this.options;
    socket.pause();
    try {
      for (;;) {
        if (this.isClosed()) return;
        if (this.phase === 'startup') {
          const packet = this.nextStartupPacket();
          if (!packet) break;
          await this.onStartupPacket(packet);
        } else {
          const message = this.nextMessage();
          if (!message) break;
          await this.onMessage(message);
        }
        // Do not read the next message while the client has not taken the last answer.
        if (socket.writableNeedDrain && !this.isClosed()) {
          await new Promise<void>((resolve) => {
            const done = () => {
              socket.off('drain', done);
              socket.off('close', done);
              resolve();
            };
            socket.on('drain', done);
            socket.on('close', done);
          });
        }
      }
    } catch (error) {
      if (error instanceof ProtocolViolation) await this.fail(error.code, error.message);
      else if (!this.isClosed()) {
        this.options.logger.warn({ client: this.id, err: error }, `wire client #${this.id}: ${errorMessage(error)}`);
        await this.fail('XX000', `internal error in the embedded database's wire server: ${errorMessage(error)}`);
      }
    } finally {
      this.busy = false;
      if (!this.isClosed()) {
        socket.resume();
        this.armStallTimer();
      }
    }
  }

  private nextStartupPacket(): Buffer | undefined {
    if (this.input.length < 4) return undefined;
    const length = this.input.int32At(0);
    checkStartupLength(length, this.options.limits);
    return this.input.length >= length ? this.input.take(length) : undefined;
  }

  private nextMessage(): Buffer | undefined {
    if (this.input.length < 5) return undefined;
    const size = checkMessageHeader(this.input.byteAt(0), this.input.int32At(1), this.options.limits);
    return this.input.length >= size ? this.input.take(size) : undefined;
  }

  private async onStartupPacket(packet: Buffer): Promise<void> {
    const startup = parseStartupPacket(packet);
    switch (startup.kind) {
      case 'ssl':
      case 'gssenc': {
        const name = startup.kind === 'ssl' ? 'SSLRequest' : 'GSSENCRequest';
        const answered = startup.kind === 'ssl' ? this.sslAnswered : this.gssencAnswered;
        if (answered) throw new ProtocolViolation('08P01', `a second ${name}: expected a StartupMessage after the first was answered "N" (no encryption)`);
        if (startup.kind === 'ssl') this.sslAnswered = true;
        else this.gssencAnswered = true;
        this.write(NO_ENCRYPTION);
        return;
      }
      case 'cancel':
        // PGlite runs one query at a time inside this process and cannot be interrupted; as a
        // server does with a key it does not know, close without an answer.
        this.options.logger.info({ client: this.id, peer: this.peer }, `wire client #${this.id}: CancelRequest ignored (the embedded database cannot cancel a running query)`);
        await this.close();
        return;
      case 'startup': {
        if (this.startupTimer) clearTimeout(this.startupTimer);
        this.startupTimer = undefined;
        if (startup.minor > 0 || startup.unknownOptions.length > 0) this.write(negotiateProtocolVersion(startup.unknownOptions));
        const refusal = await this.options.queue.startup(this.id, startup.user, (data) => this.write(data));
        if (refusal) {
          this.write(refusal);
          await this.close();
          return;
        }
        this.phase = 'session';
        const app = startup.parameters.get('application_name');
        this.options.logger.debug({ client: this.id, user: startup.user, application_name: app }, `wire client #${this.id} started a session as ${startup.user}${app ? ` (${app})` : ''}`);
        return;
      }
    }
  }

  private async onMessage(message: Buffer): Promise<void> {
    if (isTerminate(message)) {
      await this.close();
      return;
    }
    const refused = refuseCopy(message);
    if (refused) this.options.logger.info({ client: this.id, refusal: refused.refusal }, `wire client #${this.id}: COPY ${refused.refusal === 'program' ? '... PROGRAM' : 'FROM STDIN'} refused`);
    await this.options.queue.enqueue(this.id, refused?.replacement ?? new Uint8Array(message), (data) => this.write(data));
  }

  private write(data: Uint8Array): void {
    const { socket } = this.options;
    if (data.length > 0 && socket.writable && !socket.writableEnded) socket.write(data);
  }

  // ------------------------------------------------------------------ timeouts

  private startupTimedOut(): void {
    this.startupTimer = undefined;
    // (Cleared once a StartupMessage is complete: waiting for the engine's turn is no client's fault.)
    if (this.phase !== 'startup') return;
    const seconds = this.options.startupTimeoutMs / 1000;
    const got = this.input.length >= 4 ? `${this.input.length} of ${this.input.int32At(0)} bytes` : `${this.input.length} bytes`;
    void this.fail('08P01', `no complete startup packet within ${seconds} s: got ${got}`, 'info');
  }

  /** A message begun and not finished: give it `incompleteMessageTimeoutMs` to go on arriving. */
  private armStallTimer(): void {
    this.clearStallTimer();
    if (this.phase !== 'session' || this.input.length === 0 || this.options.incompleteMessageTimeoutMs <= 0) return;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.phase !== 'session' || this.busy) return;
      const seconds = this.options.incompleteMessageTimeoutMs / 1000;
      const got =
        this.input.length < 5
          ? `incomplete message header: got ${this.input.length} of 5 bytes`
          : `incomplete ${messageName(String.fromCharCode(this.input.byteAt(0)))} message: got ${this.input.length} of ${1 + this.input.int32At(1)} bytes`;
      void this.fail('08P01', `${got}, then nothing for ${seconds} s`, 'info');
    }, this.options.incompleteMessageTimeoutMs);
  }

  private clearStallTimer(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private clearTimers(): void {
    if (this.startupTimer) clearTimeout(this.startupTimer);
    this.startupTimer = undefined;
    this.clearStallTimer();
  }
}

/**
 * Bytes received and not yet framed, kept as the chunks they arrived in: appending costs
 * nothing, and a message is copied out once, when it is complete. (Joining every chunk to the
 * buffer, as each arrives, copies a large message once per chunk.)
 */
class ByteQueue {
  private readonly chunks: Buffer[] = [];
  /** Bytes of chunks[0] already taken. */
  private offset = 0;
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  byteAt(index: number): number {
    let at = index + this.offset;
    for (const chunk of this.chunks) {
      if (at < chunk.length) return chunk[at]!;
      at -= chunk.length;
    }
    throw new RangeError(`byte ${index} of ${this.length}`);
  }

  /** A signed big-endian int32, as the protocol's length words are. */
  int32At(index: number): number {
    return (this.byteAt(index) << 24) | (this.byteAt(index + 1) << 16) | (this.byteAt(index + 2) << 8) | this.byteAt(index + 3);
  }

  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.length - this.offset, n - written);
      chunk.copy(out, written, this.offset, this.offset + count);
      written += count;
      this.offset += count;
      if (this.offset === chunk.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    this.length -= n;
    return out;
  }
}

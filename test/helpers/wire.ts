import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { bubblewatch, type Proc } from './cli.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import { inboxConfig, rows, runOnce, writeFile } from './pipelines.js';

/**
 * Helpers for tests that talk to the wire server (`bubblewatch sql`, `start --serve`) as a
 * hostile or broken client would: raw bytes over TCP, then a real client (node-postgres)
 * reading a view to prove the server still answers.
 */

/** The three startup packets of issue 14, item 10, as the probe sent them. */
export const BAD_STARTUP_PACKETS = {
  /** A startup packet claiming 0x7fffffff bytes (2 GB). */
  lengthOverflow: Buffer.from('7fffffff00030000', 'hex'),
  /** A startup packet claiming 100 MB (the body never follows). */
  hugeClaim: Buffer.from('0640000000030000', 'hex'),
  /** A well-formed StartupMessage whose only parameter is d=x: no user. */
  withoutUser: Buffer.from('0000000d000300006400780000', 'hex'),
} as const;

/** The folder of the bundled custom-series sample (real figures, sources cited in its README). */
export const SAMPLE_CUSTOM_SERIES = join(PACKAGE_ROOT, 'data', 'sample', 'custom-series');

/** Load the bundled custom-series sample into `db` (a TestDatabase, or any open handle) and return how many rows analytics.custom_series then holds. */
export async function loadSampleSeries(db: { readonly handle: DatabaseHandle }): Promise<number> {
  const pipeline = customSeries as unknown as AnyPipeline;
  const summary = await runOnce(db.handle, pipeline, inboxConfig(pipeline, SAMPLE_CUSTOM_SERIES));
  if (summary.status !== 'succeeded') throw new Error(`loading the custom-series sample failed: ${summary.error ?? summary.status}`);
  const [{ n }] = (await rows<{ n: number }>(db.handle, 'select count(*)::int as n from analytics.custom_series')) as [{ n: number }];
  return n;
}

export interface RawExchange {
  /** Every byte the server sent. */
  readonly received: Buffer;
  /** The server closed (or reset) the connection before `waitMs` ran out. */
  readonly closedByServer: boolean;
  /** The socket's error code, if any (ECONNRESET, EPIPE). */
  readonly error?: string;
}

/**
 * Connect, send `bytes`, and collect what the server answers until it closes the connection
 * or `waitMs` passes (then this side closes it). `waitMs` only bounds a server that never
 * answers; tests assert on what was answered, not on how fast.
 */
export function rawExchange(port: number, bytes: Buffer, waitMs = 10_000, host = '127.0.0.1'): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closedByServer, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => finish(true));
    socket.on('connect', () => socket.write(bytes));
  });
}

export interface BackendMessage {
  readonly type: string;
  readonly body: Buffer;
}

/**
 * Split what a server sent into messages. The single-byte answers to SSLRequest and
 * GSSENCRequest ('N') come first when `negotiation` says how many to expect.
 */
export function backendMessages(data: Buffer, negotiation = 0): BackendMessage[] {
  const messages: BackendMessage[] = [];
  let at = 0;
  for (let i = 0; i < negotiation && at < data.length; i++, at++) messages.push({ type: String.fromCharCode(data[at]!), body: Buffer.alloc(0) });
  while (at + 5 <= data.length) {
    const length = data.readInt32BE(at + 1);
    if (length < 4 || at + 1 + length > data.length) break;
    messages.push({ type: String.fromCharCode(data[at]!), body: data.subarray(at + 5, at + 1 + length) });
    at += 1 + length;
  }
  return messages;
}

/** The fields of an ErrorResponse or NoticeResponse body: S severity, C SQLSTATE, M message, … */
export function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const end = body.indexOf(0, at + 1);
    fields[String.fromCharCode(body[at]!)] = body.subarray(at + 1, end).toString('utf8');
    at = end + 1;
  }
  return fields;
}

/** The first ErrorResponse in what a server sent, as its fields; undefined if there is none. */
export function firstError(data: Buffer, negotiation = 0): Record<string, string> | undefined {
  const error = backendMessages(data, negotiation).find((m) => m.type === 'E');
  return error ? errorFields(error.body) : undefined;
}

/** A StartupMessage with these parameters, protocol 3.0 unless told. */
export function startupPacket(params: Readonly<Record<string, string>>, version = 0x0003_0000): Buffer {
  const body = Buffer.concat([...Object.entries(params).flatMap(([k, v]) => [Buffer.from(`${k}\0`), Buffer.from(`${v}\0`)]), Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(version, 4);
  return Buffer.concat([head, body]);
}

/** A typed frontend message: type byte, length word, body. */
export function frontendMessage(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(4 + payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** A simple-protocol Query message. */
export function queryMessage(sql: string): Buffer {
  return frontendMessage('Q', `${sql}\0`);
}

/**
 * A real client (node-postgres) connects and counts analytics.custom_series. Connecting and the
 * query are bounded, so a wedged server fails the test instead of hanging it.
 */
export async function countCustomSeries(port: number, host = '127.0.0.1'): Promise<number> {
  const client = new pg.Client({ host, port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 15_000, query_timeout: 15_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows: r } = await client.query<{ n: number }>('select count(*)::int as n from analytics.custom_series');
    return r[0]!.n;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A bubblewatch process serving the embedded database, and the port it chose. */
export interface Serving {
  readonly proc: Proc;
  readonly port: number;
}

/**
 * Start the built binary with `args` (which must serve on port 0: `sql --port 0` or
 * `start --serve 0`) and wait until it prints the connection string.
 */
export async function startServing(args: string[], env: Readonly<Record<string, string>>, waitMs = 120_000): Promise<Serving> {
  const proc = bubblewatch(args, env);
  const deadline = Date.now() + waitMs;
  let port: number | undefined;
  while (port === undefined && proc.child.exitCode === null && Date.now() < deadline) {
    const match = /postgres:\/\/postgres@127\.0\.0\.1:(\d+)\//.exec(proc.stdout);
    if (match) port = Number(match[1]);
    else await sleep(50);
  }
  if (port === undefined) throw new Error(`bubblewatch ${args.join(' ')} did not start serving:\n${proc.stdout}\n${proc.stderr.slice(-2000)}`);
  return { proc, port };
}

/** Send a signal and wait for the process to exit; undefined if it is still running after `waitMs`. */
export async function stopWith(proc: Proc, signal: NodeJS.Signals, waitMs = 30_000): Promise<number | null | undefined> {
  proc.child.kill(signal);
  const timeout = sleep(waitMs).then(() => undefined);
  return Promise.race([proc.exited, timeout]);
}

/** The peak resident set size of a process so far, in bytes (Linux /proc), or undefined elsewhere. */
export function peakRss(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A bubblewatch config whose custom-series pipeline ticks every second, over `inbox`. */
export function everySecondConfig(dir: string, inbox: string): string {
  return writeFile(
    dir,
    'bubblewatch.yaml',
    `log: { level: info }
scheduler: { heartbeat_seconds: 1, stale_after_seconds: 10, shutdown_timeout_seconds: 5 }
pipelines:
  custom-series:
    schedule: { cron: "* * * * * *", timezone: UTC, missed: skip }
    sources:
      - path: ${JSON.stringify(inbox)}
`,
  );
}

/**
 * Wait until a scheduler tick later than `after` has finished (etl.schedule_ticks, read through
 * the wire server itself); the tick's time, or undefined if none finished within `waitMs`.
 */
export async function tickAfter(port: number, after: Date, waitMs = 60_000): Promise<Date | undefined> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 10_000, query_timeout: 10_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      const { rows: r } = await client.query<{ at: Date | null }>(
        `select max(scheduled_for) as at from etl.schedule_ticks where scheduled_for > $1 and outcome is not null`,
        [after],
      );
      if (r[0]?.at) return r[0].at;
    } catch {
      // A wedged server: keep trying until the deadline, and let the caller report it.
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(250);
  }
  return undefined;
}

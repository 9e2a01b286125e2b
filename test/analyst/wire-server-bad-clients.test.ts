import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { serveEmbedded, type EmbeddedServer, type ServeOptions } from '../../src/serve/wire-server.js';
import { fillTemplate, useDatabase, type FilledTemplate } from '../helpers/databases.js';
import { makeInbox } from '../helpers/pipelines.js';
import {
  BAD_STARTUP_PACKETS,
  SAMPLE_CUSTOM_SERIES,
  backendMessages,
  countCustomSeries,
  errorFields,
  everySecondConfig,
  firstError,
  frontendMessage,
  loadSampleSeries,
  peakRss,
  queryMessage,
  rawExchange,
  startServing,
  startupPacket,
  stopWith,
  tickAfter,
} from '../helpers/wire.js';
import { silentLogger } from './helpers.js';

/**
 * Issue 14, item 10: clients that send what no PostgreSQL client would (a startup packet
 * claiming 2 GB or 100 MB, one without a user, unknown message types, lengths that lie, COPY
 * FROM STDIN, which PGlite cannot serve) get a FATAL or ERROR answer and lose only their own
 * connection. The embedded database, the other clients and the scheduler go on, and Ctrl-C
 * still stops the process. The first tests drive the built binary: before the fix, the bad
 * packet wedged the whole process (100% CPU, SIGINT ignored), which would hang an in-process
 * test too.
 */

const PACKETS = [
  { name: 'a startup packet claiming 0x7fffffff bytes', bytes: BAD_STARTUP_PACKETS.lengthOverflow, message: /invalid length of startup packet: got 2147483647 bytes, expected 8 to 10004/ },
  { name: 'a startup packet claiming 100 MB', bytes: BAD_STARTUP_PACKETS.hugeClaim, message: /invalid length of startup packet: got 104857600 bytes, expected 8 to 10004/ },
  { name: 'a startup packet without a user', bytes: BAD_STARTUP_PACKETS.withoutUser, message: /no PostgreSQL user name specified in startup packet: got the parameter "d", expected "user"/ },
] as const;

// Every test serves the bundled custom series: loaded once, each test serving a copy of its own.
let withSeries: FilledTemplate;
/** Rows analytics.custom_series holds once the sample is loaded. */
let expected: number;
beforeAll(async () => {
  withSeries = await fillTemplate('pglite', async (handle) => {
    expected = await loadSampleSeries({ handle });
  });
});
afterAll(() => withSeries?.drop());

describe('bubblewatch sql, sent the malformed startup packets of issue 14', () => {
  it.each(PACKETS)('answers $name with FATAL 08P01, closes only that client, and still serves the views', async ({ bytes, message }) => {
    const db = await useDatabase('pglite', { from: withSeries });
    await db.close();
    const { proc, port } = await startServing(['sql', '--port', '0'], db.env);

    const answer = await rawExchange(port, bytes);
    expect(answer.closedByServer, 'the server closed the bad client').toBe(true);
    expect(firstError(answer.received)).toMatchObject({ S: 'FATAL', C: '08P01', M: expect.stringMatching(message) });
    expect(await countCustomSeries(port)).toBe(expected);
    expect(await countCustomSeries(port), 'a second client too').toBe(expected);
    expect(await stopWith(proc, 'SIGINT'), proc.stderr.slice(-1500)).toBe(0);
  });

  it('reads no more than the startup cap of a 100 MB claim: the client is cut off, and the peak RSS does not jump', async () => {
    const db = await useDatabase('pglite', { from: withSeries });
    await db.close();
    const { proc, port } = await startServing(['sql', '--port', '0'], db.env);
    expect(await countCustomSeries(port)).toBe(expected); // warm: the views have been read once
    const before = peakRss(proc.child.pid!);

    // The header claims 100 MB, and then the body really comes, as fast as the socket takes it.
    const claim = 100 * 1024 * 1024;
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (d) => received.push(d));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    socket.write(BAD_STARTUP_PACKETS.hugeClaim);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let offered = 0;
    while (offered < claim && !socket.destroyed) {
      if (!socket.write(chunk)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
      offered += chunk.length;
    }
    await Promise.race([closed, sleep(30_000)]);
    expect(socket.destroyed, 'the server closed the connection').toBe(true);
    expect(socket.bytesWritten, 'the server stopped reading long before the 100 MB').toBeLessThan(claim / 2);
    expect(firstError(Buffer.concat(received))).toMatchObject({ C: '08P01', M: expect.stringContaining('got 104857600 bytes, expected 8 to 10004') });

    const after = peakRss(proc.child.pid!);
    if (before !== undefined && after !== undefined) expect(after - before, 'peak RSS growth, bytes').toBeLessThan(32 * 1024 * 1024);
    expect(await countCustomSeries(port)).toBe(expected);
    expect(await stopWith(proc, 'SIGINT'), proc.stderr.slice(-1500)).toBe(0);
  });

  it('stops on SIGINT while bad, silent and half-sent clients are connected', async () => {
    const db = await useDatabase('pglite');
    await db.close();
    const { proc, port } = await startServing(['sql', '--port', '0'], db.env);
    const sockets: Socket[] = [];
    const open = (bytes: Buffer) => {
      const s = connect(port, '127.0.0.1', () => s.write(bytes));
      s.on('error', () => {});
      sockets.push(s);
    };
    onTestFinished(() => sockets.forEach((s) => s.destroy()));
    open(BAD_STARTUP_PACKETS.lengthOverflow);
    open(BAD_STARTUP_PACKETS.withoutUser);
    open(Buffer.alloc(0)); // connected, silent
    open(startupPacket({ user: 'postgres' }).subarray(0, 6)); // half a startup packet
    // A real client tries too (before the fix it timed out, as psql did in the probe).
    await countCustomSeries(port).catch(() => undefined);
    expect(await stopWith(proc, 'SIGINT'), proc.stderr.slice(-1500)).toBe(0);
  });
});

describe('bubblewatch start --serve, sent the same packets', () => {
  it('keeps ticking and serving, and SIGINT still stops it', async () => {
    const db = await useDatabase('pglite', { from: withSeries });
    await db.close();
    const config = everySecondConfig(makeInbox(), SAMPLE_CUSTOM_SERIES);
    const { proc, port } = await startServing(['--config', config, 'start', '--no-initial-run', '--serve', '0'], db.env);
    expect(await tickAfter(port, new Date(0)), `the scheduler ticks before the bad packets\n${proc.stderr.slice(-1500)}`).toBeDefined();

    for (const packet of [BAD_STARTUP_PACKETS.withoutUser, BAD_STARTUP_PACKETS.lengthOverflow, BAD_STARTUP_PACKETS.hugeClaim]) {
      const answer = await rawExchange(port, packet);
      expect(answer.closedByServer).toBe(true);
      expect(firstError(answer.received)).toMatchObject({ S: 'FATAL', C: '08P01' });
    }
    const sent = new Date();
    expect(await tickAfter(port, sent), `a tick runs after the bad packets\n${proc.stderr.slice(-1500)}`).toBeDefined();
    expect(await countCustomSeries(port)).toBe(expected);
    expect(await stopWith(proc, 'SIGINT'), proc.stderr.slice(-1500)).toBe(0);
  });
});

describe('bubblewatch start --serve, with a client holding a transaction open', () => {
  it('stops on SIGINT without waiting for that client: its transaction is rolled back first, so the waiting run finishes', async () => {
    const db = await useDatabase('pglite', { from: withSeries });
    await db.close();
    const config = everySecondConfig(makeInbox(), SAMPLE_CUSTOM_SERIES);
    const { proc, port } = await startServing(['--config', config, 'start', '--no-initial-run', '--serve', '0'], db.env);
    expect(await tickAfter(port, new Date(0)), proc.stderr.slice(-1500)).toBeDefined();
    const holder = new pg.Client({ host: '127.0.0.1', port, user: 'postgres' });
    holder.on('error', () => {});
    await holder.connect();
    onTestFinished(() => holder.end().catch(() => undefined));
    await holder.query('begin');
    await holder.query(`insert into etl.runs (pipeline, trigger, status) values ('held-open', 'manual', 'running')`);
    // The next tick's run now waits for the session, which the client holds (for up to the 60 s idle-in-transaction timeout).
    await sleep(2_000);
    expect(await stopWith(proc, 'SIGINT', 20_000), proc.stderr.slice(-1500)).toBe(0);

    const handle = await db.reopen();
    const [left] = await handle.withConnection(async (conn) => (await conn.query<{ n: number }>(`select count(*)::int as n from etl.runs where pipeline = 'held-open'`)).rows);
    expect(left!.n, 'the client transaction was rolled back').toBe(0);
    const statuses = await handle.withConnection(async (conn) => (await conn.query<{ status: string }>(`select distinct status from etl.runs order by status`)).rows);
    // (Ticks that came while a run waited for the session are recorded as skipped.)
    expect(
      statuses.map((r) => r.status).filter((s) => s !== 'succeeded' && s !== 'skipped'),
      `the run that waited for the session finished, instead of being left running or interrupted\n${proc.stderr.slice(-3000)}`,
    ).toEqual([]);
  });
});

// ------------------------------------------------------------------ in-process protocol checks

async function serve(options: Partial<ServeOptions> = {}): Promise<{ server: EmbeddedServer; expected: number }> {
  const db = await useDatabase('pglite', { from: withSeries });
  const server = await serveEmbedded(db.handle, { port: 0, logger: silentLogger, ...options });
  onTestFinished(() => server.close());
  return { server, expected };
}

/** A started session on a raw socket: the startup answer has been read up to ReadyForQuery. */
async function session(port: number): Promise<{ socket: Socket; next: (bytes: Buffer, untilClose?: boolean) => Promise<{ received: Buffer; closed: boolean }> }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  onTestFinished(() => void socket.destroy());
  let buffer = Buffer.alloc(0);
  let closed = false;
  let wake: (() => void) | undefined;
  socket.on('data', (d) => {
    buffer = Buffer.concat([buffer, d]);
    wake?.();
  });
  socket.on('close', () => {
    closed = true;
    wake?.();
  });
  await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  /** Send bytes; collect the answer up to a ReadyForQuery (or only a close), or for at most 10 s. */
  const next = async (bytes: Buffer, untilClose = false) => {
    buffer = Buffer.alloc(0);
    if (bytes.length > 0) socket.write(bytes);
    const deadline = Date.now() + 10_000;
    while (!closed && Date.now() < deadline && (untilClose || !backendMessages(buffer).some((m) => m.type === 'Z'))) {
      await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(50)]);
    }
    return { received: buffer, closed };
  };
  const started = await next(startupPacket({ user: 'postgres', database: 'postgres', application_name: 'bad-client-test' }));
  expect(backendMessages(started.received).map((m) => m.type)).toContain('Z');
  return { socket, next };
}

describe('the wire server, message by message', () => {
  it('answers SSLRequest and GSSENCRequest with N and serves the startup that follows', async () => {
    const { server } = await serve();
    const ssl = Buffer.from('0000000804d2162f', 'hex');
    const gss = Buffer.from('0000000804d21630', 'hex');
    const answer = await rawExchange(server.port, Buffer.concat([ssl, gss, startupPacket({ user: 'postgres' }), queryMessage('select 41 + 1 as x'), frontendMessage('X')]));
    expect(answer.received.subarray(0, 2).toString('latin1')).toBe('NN');
    const messages = backendMessages(answer.received, 2);
    expect(messages.map((m) => m.type)).toEqual(expect.arrayContaining(['R', 'S', 'K', 'Z', 'T', 'D', 'C']));
    expect(messages.find((m) => m.type === 'D')!.body.toString('latin1')).toContain('42');
    expect(answer.closedByServer, 'Terminate closes the connection').toBe(true);

    const twice = await rawExchange(server.port, Buffer.concat([ssl, ssl]));
    expect(twice.received.subarray(0, 1).toString('latin1')).toBe('N');
    expect(firstError(twice.received, 1)).toMatchObject({ C: '08P01', M: expect.stringContaining('a second SSLRequest') });
  });

  it('closes a CancelRequest without an answer, as PostgreSQL does, and refuses a malformed one', async () => {
    const { server, expected } = await serve();
    const cancel = await rawExchange(server.port, Buffer.from('0000001004d2162e0000002a00000001', 'hex'));
    expect(cancel).toMatchObject({ closedByServer: true });
    expect(cancel.received.length).toBe(0);
    const short = await rawExchange(server.port, Buffer.from('0000000c04d2162e0000002a', 'hex'));
    expect(firstError(short.received)).toMatchObject({ C: '08P01', M: expect.stringContaining('CancelRequest of 12 bytes, expected 16') });
    expect(await countCustomSeries(server.port)).toBe(expected);
  });

  it('refuses protocol 2.0 and replication connections, and negotiates 3.x down to 3.0', async () => {
    const { server, expected } = await serve();
    const old = await rawExchange(server.port, startupPacket({ user: 'postgres' }, 0x0002_0000));
    expect(firstError(old.received)).toMatchObject({ S: 'FATAL', C: '0A000', M: 'unsupported frontend protocol 2.0: server supports 3.0 to 3.0' });

    const replication = await rawExchange(server.port, startupPacket({ user: 'postgres', replication: 'database' }));
    expect(firstError(replication.received)).toMatchObject({ S: 'FATAL', C: '0A000', M: expect.stringContaining('replication connections are not supported') });
    // The shared session did not become a walsender: the extended protocol still works.
    const c = new pg.Client({ host: server.host, port: server.port, user: 'postgres' });
    c.on('error', () => {});
    await c.connect();
    onTestFinished(() => c.end().catch(() => undefined));
    expect((await c.query('select $1::int + 1 as x', [41])).rows).toEqual([{ x: 42 }]);

    const newer = await rawExchange(server.port, Buffer.concat([startupPacket({ user: 'postgres', '_pq_.future_option': 'on' }, 0x0003_0002), frontendMessage('X')]));
    const messages = backendMessages(newer.received);
    expect(messages[0]!.type).toBe('v');
    const v = messages[0]!.body;
    expect([v.readInt32BE(0), v.readInt32BE(4), v.subarray(8).toString('latin1')]).toEqual([0, 1, '_pq_.future_option\0']);
    expect(messages.map((m) => m.type)).toContain('Z');
    expect(await countCustomSeries(server.port)).toBe(expected);
  });

  it.each([
    { name: 'an unknown message type', bytes: frontendMessage('p', 'secret\0'), message: /invalid frontend message type 0x70 \('p'\)/ },
    { name: 'a length under 4', bytes: Buffer.from('5100000002', 'hex'), message: /invalid length of a Query \('Q'\) message: got 2, expected at least 4/ },
    { name: 'a Sync with a body', bytes: frontendMessage('S', Buffer.from('abcd')), message: /invalid length of a Sync \('S'\) message: got 8, expected 4/ },
    { name: 'a Describe over the small-message cap', bytes: Buffer.from('4400100000', 'hex'), message: /Describe \('D'\) message of 1048576 bytes, expected at most 10000/ },
    { name: 'a Query claiming 100 MB', bytes: Buffer.from('5106400004', 'hex'), message: /Query \('Q'\) message of 104857604 bytes, expected at most 67108864/ },
    { name: 'a Query whose length stops short of its text', bytes: Buffer.concat([frontendMessage('Q', 'sel'), Buffer.from('ect 1;\0')]), message: /invalid frontend message type 0x65 \('e'\)/ },
  ])('answers $name with FATAL 08P01 and closes only that client', async ({ bytes, message }) => {
    const { server, expected } = await serve();
    const other = new pg.Client({ host: server.host, port: server.port, user: 'postgres' });
    other.on('error', () => {});
    await other.connect();
    onTestFinished(() => other.end().catch(() => undefined));

    const bad = await session(server.port);
    const answer = await bad.next(bytes, true);
    expect(answer.closed).toBe(true);
    const fatal = backendMessages(answer.received).filter((m) => m.type === 'E').map((m) => errorFields(m.body)).find((f) => f.S === 'FATAL');
    expect(fatal).toMatchObject({ C: '08P01', M: expect.stringMatching(message) });
    expect((await other.query<{ n: number }>('select count(*)::int as n from analytics.custom_series')).rows[0]!.n).toBe(expected);
    expect(await countCustomSeries(server.port)).toBe(expected);
  });

  it('closes a client that sends no startup packet in time, and one that stops in the middle of a message', async () => {
    const { server, expected } = await serve({ startupTimeoutMs: 300, incompleteMessageTimeoutMs: 300 });
    const silent = await rawExchange(server.port, Buffer.alloc(0));
    expect(silent.closedByServer).toBe(true);
    expect(firstError(silent.received)).toMatchObject({ C: '08P01', M: 'no complete startup packet within 0.3 s: got 0 bytes' });
    const half = await rawExchange(server.port, startupPacket({ user: 'postgres' }).subarray(0, 10));
    expect(firstError(half.received)).toMatchObject({ M: expect.stringMatching(/^no complete startup packet within 0\.3 s: got 10 of \d+ bytes$/) });

    const stalled = await session(server.port);
    const answer = await stalled.next(queryMessage('select 1').subarray(0, 7), true);
    expect(answer.closed).toBe(true);
    expect(firstError(answer.received)).toMatchObject({ C: '08P01', M: 'incomplete Query (\'Q\') message: got 7 of 14 bytes, then nothing for 0.3 s' });
    expect(await countCustomSeries(server.port)).toBe(expected);
  });

  it('refuses COPY FROM STDIN, which PGlite cannot read from a client, as an ERROR that keeps the session; COPY TO STDOUT works', async () => {
    const { server, expected } = await serve();
    const c = await session(server.port);
    const refused = await c.next(queryMessage('-- a comment; copy x from stdin\ncopy core.custom_series (series) from stdin'));
    expect(refused.closed).toBe(false);
    expect(firstError(refused.received)).toMatchObject({ S: 'ERROR', C: '0A000', M: expect.stringContaining('COPY FROM STDIN is not supported') });
    expect(backendMessages(refused.received).at(-1)!.body.toString('latin1')).toBe('I');

    // Inside a transaction block it fails the transaction, as an error on a server would.
    await c.next(queryMessage('begin'));
    const inBlock = await c.next(queryMessage(`COPY "core".custom_series FROM STDIN WITH (FORMAT csv)`));
    expect(backendMessages(inBlock.received).at(-1)!.body.toString('latin1')).toBe('E');
    await c.next(queryMessage('rollback'));
    const ok = await c.next(queryMessage(`select 'copy x from stdin' as not_a_copy`));
    expect(firstError(ok.received)).toBeUndefined();

    const client = new pg.Client({ host: server.host, port: server.port, user: 'postgres' });
    client.on('error', () => {});
    await client.connect();
    onTestFinished(() => client.end().catch(() => undefined));
    let csv = '';
    const stream = client.query(copyTo('copy (select series from analytics.custom_series) to stdout'));
    for await (const chunk of stream) csv += String(chunk);
    expect(csv.trim().split('\n')).toHaveLength(expected);
    await expect(client.query('copy core.custom_series from stdin')).rejects.toThrow(/COPY FROM STDIN is not supported/);
    // Through the extended protocol (Parse) as well.
    await expect(client.query({ name: 'copy-in', text: 'copy core.custom_series from stdin' })).rejects.toThrow(/COPY FROM STDIN is not supported/);
    expect(await countCustomSeries(server.port)).toBe(expected);
  });

  it('refuses COPY ... PROGRAM, which leaves PGlite spinning, as an ERROR that keeps the session', async () => {
    const { server, expected } = await serve();
    const client = new pg.Client({ host: server.host, port: server.port, user: 'postgres' });
    client.on('error', () => {});
    await client.connect();
    onTestFinished(() => client.end().catch(() => undefined));
    await expect(client.query(`copy core.custom_series to program 'cat'`)).rejects.toMatchObject({ code: '0A000', message: expect.stringContaining('PROGRAM is not supported') });
    await expect(client.query(`copy core.custom_series (series) from program 'echo x'`)).rejects.toMatchObject({ code: '0A000' });
    expect((await client.query<{ n: number }>('select count(*)::int as n from analytics.custom_series')).rows[0]!.n).toBe(expected);
    expect(await countCustomSeries(server.port)).toBe(expected);
  });

  it('gives the session back when a client disconnects in the middle of a query or of an extended-query sequence', async () => {
    const { server, expected } = await serve();
    const busy = await session(server.port);
    busy.socket.write(queryMessage('select count(*) from generate_series(1, 300000)'));
    busy.socket.destroy();
    const midway = await session(server.port);
    midway.socket.write(Buffer.concat([frontendMessage('P', '\0select 1\0\0\0'), frontendMessage('B', Buffer.from('0000000000000000', 'hex'))]));
    await sleep(200);
    midway.socket.destroy();
    expect(await countCustomSeries(server.port)).toBe(expected);
    for (let i = 0; i < 50 && server.connections() > 0; i++) await sleep(50);
    expect(server.connections()).toBe(0);
  });
});

import { expect, it } from 'vitest';
import { useDatabase } from '../helpers/databases.js';
import { makeInbox } from '../helpers/pipelines.js';
import {
  BAD_STARTUP_PACKETS,
  SAMPLE_CUSTOM_SERIES,
  countCustomSeries,
  everySecondConfig,
  frontendMessage,
  loadSampleSeries,
  queryMessage,
  rawExchange,
  startServing,
  startupPacket,
  stopWith,
  tickAfter,
} from '../helpers/wire.js';
import type { FaultId } from './faults-plan.js';
import { record } from './outcomes.js';

/**
 * Issue 14, item 10: a hostile or broken client of the wire server (`bubblewatch start
 * --serve`, the scheduler and the embedded database in one process). Each fault sends one
 * bad packet to a running server; it is recovered from when, afterwards, a real client
 * (node-postgres) reads analytics.custom_series with every row of the sample and a scheduler tick
 * later than the packet has run; after the last, SIGINT still stops the process with exit code 0. Before
 * the fix each of these ended or wedged PGlite, which the engine shares, so the process
 * stopped ticking and ignored SIGINT. The embedded database only: the wire server serves
 * PGlite, so one outcome each.
 */

/** A started session (StartupMessage) followed by `bytes`, on one connection. */
const afterStartup = (bytes: Buffer) => Buffer.concat([startupPacket({ user: 'postgres', database: 'postgres' }), bytes]);

const FAULTS_SENT: readonly { readonly id: FaultId; readonly what: string; readonly bytes: Buffer }[] = [
  { id: 'wire-startup-length-overflow', what: 'a startup packet claiming 0x7fffffff bytes', bytes: BAD_STARTUP_PACKETS.lengthOverflow },
  { id: 'wire-startup-huge-claim', what: 'a startup packet claiming 100 MB', bytes: BAD_STARTUP_PACKETS.hugeClaim },
  { id: 'wire-startup-without-user', what: 'a startup packet without a user', bytes: BAD_STARTUP_PACKETS.withoutUser },
  { id: 'wire-startup-replication', what: 'a startup packet asking for a replication connection', bytes: startupPacket({ user: 'postgres', replication: 'database' }) },
  { id: 'wire-unknown-message-type', what: "a message of unknown type 'p' after startup", bytes: afterStartup(frontendMessage('p', 'secret\0')) },
  { id: 'wire-message-length-too-short', what: 'a Query whose length word says 2', bytes: afterStartup(Buffer.from('5100000002', 'hex')) },
  { id: 'wire-copy-from-stdin', what: 'COPY ... FROM STDIN after startup', bytes: afterStartup(queryMessage('copy core.custom_series from stdin')) },
  { id: 'wire-copy-program', what: "COPY ... TO PROGRAM after startup", bytes: afterStartup(queryMessage(`copy core.custom_series to program 'cat'`)) },
];

/**
 * One server takes every fault in turn, as a server on a network would: a fault is recovered
 * from only if the server survived every one before it too. (One process for all of them also
 * keeps the suite's time down: a fresh embedded database costs seconds to create.) The server,
 * its database and inbox belong to the test, so this is one test that records each fault's
 * outcome itself.
 */
it('start --serve, sent one bad packet after another, still serves the views, ticks, and stops on SIGINT', async () => {
  const db = await useDatabase('pglite');
  const expected = await loadSampleSeries(db);
  await db.close();
  const config = everySecondConfig(makeInbox(), SAMPLE_CUSTOM_SERIES);
  const { proc, port } = await startServing(['--config', config, 'start', '--no-initial-run', '--serve', '0'], db.env);
  expect(await tickAfter(port, new Date(0)), `the scheduler ticks before any fault\n${proc.stderr.slice(-1500)}`).toBeDefined();

  const failures: string[] = [];
  for (const [i, { id, what, bytes }] of FAULTS_SENT.entries()) {
    let injected = false;
    let lost = 0;
    let detail = '';
    try {
      const sent = new Date();
      // What the server answers until it closes the connection (a protocol violation) or for 5 s
      // (a refused COPY leaves the session open).
      const { closedByServer, received } = await rawExchange(port, bytes, 5_000);
      injected = true;
      detail = `sent ${what} (${bytes.length} bytes) to start --serve; the server answered ${received.length} bytes${closedByServer ? ' and closed the connection' : ''}`;
      const seen = await countCustomSeries(port).catch((error: unknown) => {
        throw new Error(`no real client could read the view after the fault: ${String(error)}`);
      });
      lost = Math.max(0, expected - seen);
      if (seen !== expected) throw new Error(`a client read ${seen} rows of analytics.custom_series through the server; expected ${expected}`);
      if (!(await tickAfter(port, sent))) throw new Error('no scheduler tick finished after the fault');
      detail += '; a client then read every row of the view and a later tick ran';
      if (i === FAULTS_SENT.length - 1) {
        // After the last fault, the process must still stop on SIGINT, cleanly.
        const code = await stopWith(proc, 'SIGINT');
        if (code !== 0) throw new Error(`SIGINT after every fault: exit code ${String(code)}; expected 0`);
        detail += '; SIGINT then stopped the process with exit code 0';
      }
      record({ type: 'fault', id, injected, recovered: true, lost, detail });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      record({ type: 'fault', id, injected, recovered: false, lost, detail: `${message} (${detail})` });
      failures.push(`${id}: ${message}\n${proc.stderr.slice(-1500)}`);
    }
  }
  expect(failures, 'faults the server did not recover from').toEqual([]);
}, 300_000);

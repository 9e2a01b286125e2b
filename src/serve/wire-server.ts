import { createServer, type Server } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { DatabaseHandle } from '../db/connect.js';
import { Mutex } from '../db/pglite-dialect.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { WireConnection } from './connection.js';
import { DEFAULT_WIRE_LIMITS, errorResponse, type WireLimits } from './protocol.js';
import { SessionQueue, type AcquireExclusive } from './session-queue.js';

/**
 * The embedded database (PGlite) on a TCP port, speaking the PostgreSQL wire protocol, so
 * psql, node-postgres, DBeaver or Grafana connect to it as to a server. A WireConnection per
 * client frames and checks everything the client sends (connection.ts, protocol.ts), and
 * bubblewatch's SessionQueue decides when each checked message may run, taking turns with the
 * engine through the DatabaseHandle's mutex (see session-queue.ts for why and how). Nothing a
 * client sends reaches PGlite unchecked: PGlite is one backend shared with the engine and the
 * scheduler, and a malformed packet could end it or block the event loop.
 *
 * There is no authentication: anyone who reaches the port is PGlite's superuser. The default
 * host is loopback for that reason.
 */

export const DEFAULT_SERVE_HOST = '127.0.0.1';
export const DEFAULT_SERVE_PORT = 5433;

export interface ServeOptions {
  /** Interface to listen on; 127.0.0.1 unless you mean to expose an unauthenticated superuser. */
  readonly host?: string;
  /** TCP port; 0 picks a free one (see the returned `port`). */
  readonly port?: number;
  readonly logger: Logger;
  /** Connections at once (they share PGlite's single session in turns). Default 16. */
  readonly maxConnections?: number;
  /** Disconnect a client idle inside a transaction this long, since it blocks the engine. Default 60 s; 0 never. */
  readonly idleInTransactionTimeoutMs?: number;
  /** A client must have sent its whole startup (SSLRequest, StartupMessage) within this. Default 10 s. */
  readonly startupTimeoutMs?: number;
  /** A message that stops arriving half-way is given up after this. Default 60 s; 0 never. */
  readonly incompleteMessageTimeoutMs?: number;
  /** Message size limits (protocol.ts, DEFAULT_WIRE_LIMITS). */
  readonly limits?: Partial<WireLimits>;
}

export const DEFAULT_STARTUP_TIMEOUT_MS = 10_000;
export const DEFAULT_INCOMPLETE_MESSAGE_TIMEOUT_MS = 60_000;

export interface EmbeddedServer {
  /** postgres://postgres@host:port/postgres?sslmode=disable */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Connections open now. */
  connections(): number;
  /** Stop listening, roll back and disconnect every client. Call before closing the database. */
  close(): Promise<void>;
}

/** The embedded database's PGlite and a way to take turns with its other users. */
function sessionOf(target: DatabaseHandle | PGlite): { pglite: PGlite; acquire: AcquireExclusive } {
  if (!isHandle(target)) {
    const mutex = new Mutex();
    return {
      pglite: target,
      acquire: async () => {
        const release = await mutex.lock();
        return async () => release();
      },
    };
  }
  if (target.kind !== 'pglite' || !target.pglite) {
    throw new ConfigError(
      `the database is a PostgreSQL server (${target.location}); there is nothing to serve: connect to it directly`,
    );
  }
  const handle = target;
  return {
    pglite: target.pglite,
    // Hold the handle's connection (its mutex) until the turn gives it back.
    acquire: () =>
      new Promise((resolveAcquired, rejectAcquired) => {
        let giveBack!: () => void;
        const held = new Promise<void>((resolve) => (giveBack = resolve));
        let acquired = false;
        const done = handle.withConnection(async () => {
          acquired = true;
          resolveAcquired(async () => {
            giveBack();
            await done;
          });
          await held;
        });
        done.catch((error: unknown) => {
          if (!acquired) rejectAcquired(error);
        });
      }),
  };
}

function isHandle(target: DatabaseHandle | PGlite): target is DatabaseHandle {
  return typeof (target as DatabaseHandle).withConnection === 'function';
}

export function connectionUrl(host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `postgres://postgres@${h}:${port}/postgres?sslmode=disable`;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export async function serveEmbedded(target: DatabaseHandle | PGlite, options: ServeOptions): Promise<EmbeddedServer> {
  const host = options.host ?? DEFAULT_SERVE_HOST;
  const requestedPort = options.port ?? DEFAULT_SERVE_PORT;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65_535) {
    throw new ConfigError(`--port: got "${requestedPort}", expected a TCP port from 1 to 65535`);
  }
  const logger = options.logger;
  const maxConnections = options.maxConnections ?? 16;
  const { pglite, acquire } = sessionOf(target);

  const limits: WireLimits = { ...DEFAULT_WIRE_LIMITS, ...options.limits };
  const connections = new Map<number, WireConnection>();
  const queue = new SessionQueue(pglite, acquire, {
    logger,
    idleInTransactionMs: options.idleInTransactionTimeoutMs ?? 60_000,
    onIdleInTransaction: (id) => {
      void connections.get(id)?.fail('25P03', 'terminating connection due to idle-in-transaction timeout (it was holding up the scheduler); rolled back');
    },
  });
  await queue.init();

  let closing = false;
  let closed: Promise<void> | undefined;
  let nextId = 1;
  const server: Server = createServer((socket) => {
    if (closing || connections.size >= maxConnections) {
      socket.on('error', () => {});
      socket.end(Buffer.from(errorResponse('FATAL', '53300', closing ? 'the server is shutting down' : `sorry, too many clients already (${maxConnections})`)));
      setTimeout(() => socket.destroy(), 1_000).unref();
      return;
    }
    const id = nextId++;
    connections.set(
      id,
      new WireConnection({
        id,
        socket,
        queue,
        limits,
        startupTimeoutMs: options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS,
        incompleteMessageTimeoutMs: options.incompleteMessageTimeoutMs ?? DEFAULT_INCOMPLETE_MESSAGE_TIMEOUT_MS,
        logger,
        onClosed: (closedId) => connections.delete(closedId),
      }),
    );
  });
  server.maxConnections = maxConnections + 1; // one more, to answer "too many clients" instead of dropping

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(listenError(error, host, requestedPort));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(requestedPort, host);
  });
  server.on('error', (error) => logger.error({ err: error }, `wire server: ${error.message}`));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : requestedPort;
  if (!isLoopback(host)) {
    logger.warn(`serving the embedded database on ${host}:${port}, beyond this machine: there is no authentication, and every client is a superuser`);
  }

  return {
    url: connectionUrl(host, port),
    host,
    port,
    connections: () => connections.size,
    close() {
      if (closed) return closed;
      closing = true;
      closed = (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        // Each connection ends its turn (rolling back what it left open) as its socket closes.
        await Promise.all([...connections.values()].map((connection) => connection.terminate()));
        await stopped;
      })();
      return closed;
    },
  };
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (error.code) {
    case 'EADDRINUSE':
      return new ConfigError(
        `cannot serve the embedded database on ${host}:${port}: port ${port} is already in use ` +
          `(another PostgreSQL server, or a bubblewatch sql already running?); choose another with --port`,
      );
    case 'EACCES':
      return new ConfigError(`cannot serve the embedded database on ${host}:${port}: permission denied for port ${port}; use a port above 1023`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new ConfigError(`cannot serve the embedded database on ${host}:${port}: ${host} is not an address of this machine; use --host 127.0.0.1`);
    default:
      return error;
  }
}

import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler, type PGLiteSocketHandlerOptions } from '@electric-sql/pglite-socket';
import type { DatabaseHandle } from '../db/connect.js';
import { Mutex } from '../db/pglite-dialect.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { errorResponse } from './protocol.js';
import { SessionQueue, type AcquireExclusive } from './session-queue.js';

/**
 * The embedded database (PGlite) on a TCP port, speaking the PostgreSQL wire protocol, so
 * psql, node-postgres, DBeaver or Grafana connect to it as to a server. pglite-socket's
 * PGLiteSocketHandler frames the protocol per connection; bubblewatch's SessionQueue decides
 * when each message may run, taking turns with the engine through the DatabaseHandle's
 * mutex (see session-queue.ts for why and how).
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
}

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

  const clients = new Map<number, { handler: PGLiteSocketHandler; socket: Socket }>();
  const queue = new SessionQueue(pglite, acquire, {
    logger,
    idleInTransactionMs: options.idleInTransactionTimeoutMs ?? 60_000,
    onIdleInTransaction: (handlerId) => {
      const client = clients.get(handlerId);
      if (!client) return;
      logger.warn({ client: handlerId }, `wire client #${handlerId} was idle inside a transaction, holding up the scheduler; rolled back and disconnected`);
      if (client.socket.writable) {
        client.socket.write(errorResponse('FATAL', '25P03', 'terminating connection due to idle-in-transaction timeout'));
      }
      // detach() removes the socket's listeners, so the handler will not report this close.
      clients.delete(handlerId);
      void client.handler.detach(true).catch(() => undefined);
    },
  });
  await queue.init();

  let closing = false;
  const server: Server = createServer((socket) => {
    if (closing || clients.size >= maxConnections) {
      socket.end(Buffer.from(errorResponse('FATAL', '53300', closing ? 'the server is shutting down' : 'sorry, too many clients already')));
      return;
    }
    const handler = new PGLiteSocketHandler({
      // Any object with the queue's methods will do; the declared type is a class with private fields.
      queryQueue: queue as unknown as PGLiteSocketHandlerOptions['queryQueue'],
      closeOnDetach: true,
    });
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    clients.set(handler.handlerId, { handler, socket });
    const forget = () => {
      if (clients.delete(handler.handlerId)) logger.debug({ client: handler.handlerId, peer }, `wire client #${handler.handlerId} disconnected`);
    };
    handler.addEventListener('close', forget);
    handler.addEventListener('error', forget);
    logger.debug({ client: handler.handlerId, peer }, `wire client #${handler.handlerId} connected from ${peer}`);
    handler.attach(socket).catch((error: unknown) => {
      forget();
      logger.warn({ err: error }, `wire client from ${peer}: ${String(error)}`);
      socket.destroy();
    });
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
    connections: () => clients.size,
    async close() {
      if (closing) return;
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // detach() ends each client's turn (rolling back what it left open) before the socket closes.
      await Promise.all([...clients.values()].map(({ handler }) => handler.detach(true).catch(() => undefined)));
      clients.clear();
      await stopped;
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

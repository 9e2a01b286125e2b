import { ConfigError, redactSecrets } from '../../errors.js';
import { DEFAULT_SERVE_HOST, DEFAULT_SERVE_PORT, serveEmbedded } from '../../serve/wire-server.js';
import { print, withDatabase, type CliContext } from '../context.js';

/**
 * `bubblewatch sql`: serve the embedded database on a local port, so psql, DBeaver, Grafana or
 * a notebook can connect as to a PostgreSQL server, until Ctrl-C. The database is migrated
 * first and closed (its folder lock released) on the way out. With DATABASE_URL there is a
 * real server already: it says how to reach it instead.
 */

export interface SqlOptions {
  /** Interface to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** TCP port (default 5433; 0 picks a free one). A string from the command line is accepted. */
  readonly port?: number | string;
  /** Stop serving when this aborts (besides SIGINT/SIGTERM); for embedding and tests. */
  readonly signal?: AbortSignal;
}

export async function sqlCommand(ctx: CliContext, options: SqlOptions = {}): Promise<number> {
  const host = options.host ?? DEFAULT_SERVE_HOST;
  const port = parsePort(options.port);
  if (ctx.config.databaseUrl) {
    print(ctx, `DATABASE_URL points at a PostgreSQL server (${redactSecrets(ctx.config.databaseUrl)}): there is nothing to serve.`);
    print(ctx, 'Connect to it directly, for example:');
    print(ctx, '  psql "$DATABASE_URL"');
    print(ctx, `  psql "$DATABASE_URL" -c 'select * from analytics.bubble_dashboard'`);
    print(ctx, 'For a read-only login for BI tools: bubblewatch grant-analyst <role> --password-env <VAR>');
    return 0;
  }
  return withDatabase(
    ctx,
    `bubblewatch sql --port ${port}`,
    async (handle) => {
      const server = await serveEmbedded(handle, { host, port, logger: ctx.logger });
      try {
        print(ctx, `Serving the embedded database ${handle.location} on ${server.host}:${server.port}.`);
        print(ctx);
        print(ctx, `  connection string:  ${server.url}`);
        print(ctx, `  psql:               psql -h ${server.host} -p ${server.port} -U postgres`);
        print(ctx, `  JDBC (DBeaver):     jdbc:postgresql://${server.host}:${server.port}/postgres  (user postgres, no password)`);
        print(ctx);
        print(ctx, `  try: psql -h ${server.host} -p ${server.port} -U postgres -c 'select * from analytics.bubble_dashboard'`);
        print(ctx);
        print(ctx, 'Clients take turns on the one embedded session; no password is asked. Ctrl-C to stop.');
        await stopRequested(options.signal);
        ctx.logger.info('stopping: disconnecting clients and closing the database');
      } finally {
        await server.close();
      }
      return 0;
    },
    { migrateFirst: true },
  );
}

function parsePort(value: number | string | undefined): number {
  if (value === undefined) return DEFAULT_SERVE_PORT;
  const port = typeof value === 'number' ? value : /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError(`--port: got "${value}", expected a TCP port from 1 to 65535 (0 picks a free one)`);
  }
  return port;
}

function stopRequested(signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop);
  });
}

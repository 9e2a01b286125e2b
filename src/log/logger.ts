import { pino, type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { redactSecrets } from '../errors.js';
import { escapeForTerminal } from '../cli/format.js';

export type { Logger } from 'pino';

export type LogFormat = 'auto' | 'pretty' | 'json';

export interface LoggerSettings {
  readonly level: string;
  readonly format: LogFormat;
  /** Where log lines go; stderr by default so stdout stays clean for tables and JSON output. */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * One root logger per process. Pretty on a terminal, JSON lines otherwise.
 * Every string that passes through (the message and each field) is scrubbed of credentials.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const destination = settings.destination ?? process.stderr;
  const usePretty =
    settings.format === 'pretty' ||
    (settings.format === 'auto' && (destination as NodeJS.WriteStream).isTTY === true);
  const options: LoggerOptions = {
    level: settings.level,
    base: { pid: process.pid },
    redact: {
      paths: ['password', '*.password', 'databaseUrl', '*.databaseUrl', 'connectionString', '*.connectionString'],
      censor: '***',
    },
    serializers: {
      err: (err: unknown) => serializeError(err),
    },
    formatters: {
      // Fields such as { url } or { location } are scrubbed like the message.
      log: (fields) => Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === 'string' ? redactSecrets(v) : v])),
    },
    hooks: {
      logMethod(args, method) {
        // Pretty lines go to a person's terminal: data in a message must not drive it. JSON
        // lines stay exact (JSON already escapes control characters).
        const scrub = usePretty ? (a: string) => escapeForTerminal(redactSecrets(a)) : redactSecrets;
        const scrubbed = args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as typeof args;
        method.apply(this, scrubbed);
      },
    },
  };
  if (usePretty) {
    return pino(
      options,
      pretty({
        destination: destination as unknown as number,
        sync: true,
        colorize: (destination as NodeJS.WriteStream).isTTY === true,
        ignore: 'pid,hostname,pipeline,run_id',
        messageFormat: '{if pipeline}[{pipeline}{if run_id} #{run_id}{end}] {end}{msg}',
        translateTime: 'SYS:HH:MM:ss',
        singleLine: true,
      }),
    );
  }
  return pino(options, destination);
}

function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: redactSecrets(String(err)) };
  const out: Record<string, unknown> = {
    type: err.name,
    message: redactSecrets(err.message),
  };
  if (err.stack) out.stack = redactSecrets(err.stack);
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  return out;
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

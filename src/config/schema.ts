import { validateDetailed } from 'node-cron';
import { z } from 'zod';
import { alertsSchema } from '../alerts/rules.js';

/**
 * The config file, as written by people. Parsed here, then normalised in load.ts
 * (paths resolved, defaults merged with each pipeline's own), then checked against
 * the pipeline registry.
 */

function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const cronExpression = z.string().superRefine((expr, ctx) => {
  const result = validateDetailed(expr);
  if (!result.valid) {
    const detail = result.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    ctx.addIssue({
      code: 'custom',
      message: `invalid cron expression "${expr}" (${detail}); expected five or six fields such as "30 6 * * *"`,
    });
  }
});

export const timezone = z.string().refine(isValidTimezone, {
  error: (issue) => `unknown time zone "${String(issue.input)}"; expected an IANA name such as "UTC" or "America/New_York"`,
});

export const scheduleSchema = z.strictObject({
  cron: cronExpression,
  timezone: timezone.default('UTC'),
  /**
   * Ticks missed while no scheduler ran: skip them, run once for the latest, or run each
   * (oldest first) up to missed_cap.
   */
  missed: z.enum(['skip', 'once', 'all']).default('once'),
  missed_cap: z.number().int().min(1).max(1000).default(10),
});

export const sourceSchema = z.union([
  z.strictObject({
    /** A file, a folder (an inbox analysts drop files into) or a glob such as data/*.csv. */
    path: z.string().min(1),
    /** With a folder: which file names to take. */
    pattern: z.string().min(1).optional(),
  }),
  z.strictObject({
    /** An http(s) URL, or a template the pipeline expands (e.g. one URL per company: {cik10}). */
    url: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'expected an http:// or https:// URL')
      .refine((u) => !/^https?:\/\/[^/@\s]*:[^/@\s]*@/.test(u), 'credentials do not belong in a URL in the config file'),
  }),
]);

export const pipelineConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  schedule: scheduleSchema.optional(),
  sources: z.array(sourceSchema).min(1).optional(),
  /** Pipeline-specific settings; each pipeline validates its own. */
  options: z.record(z.string(), z.unknown()).optional(),
  /**
   * The rows of a file that has left the sources (deleted, moved, renamed): keep them (the run
   * lists the file as missing), or retire them so that they no longer count.
   */
  on_missing: z.enum(['keep', 'retire']).optional(),
});

export const httpSchema = z.strictObject({
  /** Sent with every request. The SEC requires a contact: "bubblewatch/0.1 (you@example.com)". */
  user_agent: z.string().min(1).optional(),
  max_requests_per_second: z.number().positive().max(100).default(10),
  timeout_ms: z.number().int().positive().default(60_000),
  max_bytes: z.number().int().positive().default(2 * 1024 ** 3),
  max_attempts: z.number().int().min(1).max(20).default(5),
  backoff_base_ms: z.number().int().positive().default(500),
  /** Where downloads are cached (with their ETag / Last-Modified). */
  cache_dir: z.string().min(1).default('../.bubblewatch/downloads'),
  /**
   * Query parameters added to requests to a host from an environment variable, when it is set:
   * API keys, which never go in the config file, the ledger or a log line (the ledger keeps the
   * URL without them). Default: FRED's API key from FRED_API_KEY.
   */
  query_secrets: z
    .array(
      z.strictObject({
        host: z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i, 'expected a host name such as api.stlouisfed.org'),
        param: z.string().regex(/^[A-Za-z0-9_]+$/, 'expected a query parameter name such as api_key'),
        env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name such as FRED_API_KEY'),
      }),
    )
    .default([{ host: 'api.stlouisfed.org', param: 'api_key', env: 'FRED_API_KEY' }]),
});

export const archivesSchema = z.strictObject({
  /** An archive whose entries expand beyond this many bytes is refused. */
  max_uncompressed_bytes: z.number().int().positive().default(8 * 1024 ** 3),
  /** …or whose entries expand to more than this many times their compressed size (a zip bomb). */
  max_expansion_ratio: z.number().positive().default(200),
});

export const schedulerSchema = z.strictObject({
  /** A running run whose heartbeat is older than this belongs to a process that died. */
  stale_after_seconds: z.number().int().min(10).default(120),
  heartbeat_seconds: z.number().int().min(1).default(15),
  /**
   * How long a run waits for another run of the same pipeline to finish (one loads at a time)
   * before it fails, naming the holder.
   */
  lock_wait_seconds: z.number().int().min(0).default(900),
  /** On SIGINT/SIGTERM, how long the current step may take to finish before it is interrupted. */
  shutdown_timeout_seconds: z.number().int().min(0).default(20),
  retry: z
    .strictObject({
      /** Attempts in all for a run that fails transiently (connection lost, HTTP 429/5xx). */
      max_attempts: z.number().int().min(1).max(20).default(3),
      base_ms: z.number().int().min(0).default(2000),
      max_ms: z.number().int().min(0).default(60_000),
    })
    .default({ max_attempts: 3, base_ms: 2000, max_ms: 60_000 }),
});

/** `bubblewatch start` can serve the embedded database over the Postgres wire protocol (as `bubblewatch sql` does). */
export const serveSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Loopback by default: the wire server has no authentication of its own. */
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(5433),
});

/** The HTML report (`bubblewatch report`), rewritten by `bubblewatch start` after runs when a path is set. */
export const reportSchema = z.strictObject({
  /** Relative to the config file's folder, like every path in it; unset: the scheduler writes no report. */
  path: z.string().min(1).optional(),
});

export const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

export const configFileSchema = z.strictObject({
  database: z
    .strictObject({
      /** Folder of the embedded PostgreSQL (PGlite) used when DATABASE_URL is unset. */
      embedded_dir: z.string().min(1).default('../.bubblewatch/db'),
    })
    .default({ embedded_dir: '../.bubblewatch/db' }),
  log: z
    .strictObject({
      level: logLevel.default('info'),
      format: z.enum(['auto', 'pretty', 'json']).default('auto'),
    })
    .default({ level: 'info', format: 'auto' }),
  scheduler: schedulerSchema.default(schedulerSchema.parse({})),
  alerts: alertsSchema.default(alertsSchema.parse({})),
  http: httpSchema.default(httpSchema.parse({})),
  archives: archivesSchema.default(archivesSchema.parse({})),
  serve: serveSchema.default(serveSchema.parse({})),
  report: reportSchema.default(reportSchema.parse({})),
  pipelines: z.record(z.string(), pipelineConfigSchema).default({}),
});

/** A query secret with its value from the environment (resolved when the config loads). */
export interface QuerySecret {
  readonly host: string;
  readonly param: string;
  readonly value: string;
}

export type HttpSettings = z.infer<typeof httpSchema> & {
  /** The query_secrets whose variables are set, with their values. */
  readonly secrets?: readonly QuerySecret[];
};
export type SchedulerSettings = z.infer<typeof schedulerSchema>;
export type ArchiveSettings = z.infer<typeof archivesSchema>;
export type ServeSettings = z.infer<typeof serveSchema>;

export type ConfigFile = z.infer<typeof configFileSchema>;
export type PipelineConfigInput = z.infer<typeof pipelineConfigSchema>;
export type ScheduleConfig = z.infer<typeof scheduleSchema>;
export type ScheduleInput = z.input<typeof scheduleSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;

/** Render zod issues as `path: message`, the way every config problem is reported. */
export function formatIssues(error: z.ZodError, prefix: readonly (string | number)[] = []): string[] {
  return error.issues.map((issue) => {
    const path = [...prefix, ...issue.path].map(String).join('.');
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys;
      message = `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
      if (keys.some((k) => /url|password|secret|token/i.test(k))) {
        message += ' (secrets and connection strings come only from the environment, e.g. DATABASE_URL)';
      }
    }
    return `${path || '(top level)'}: ${message}`;
  });
}

import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError, rememberSecrets } from '../errors.js';
import type { AnyPipeline } from '../engine/pipeline.js';
import { PARTITION_PLACEHOLDER } from '../engine/partitions.js';
import type { AlertsConfig } from '../alerts/rules.js';
import type { LogFormat } from '../log/logger.js';
import { DEFAULT_CONFIG_FILE } from '../paths.js';
import { configFileSchema, cronExpression, formatIssues, scheduleSchema, type ArchiveSettings, type HttpSettings, type ScheduleConfig, type SchedulerSettings, type ServeSettings } from './schema.js';

/**
 * Config is read in three steps, each reporting every problem as `path: message`:
 * parse (YAML or JSON) → validate the shape with zod → normalise (resolve paths against
 * the config file's folder, merge each pipeline's defaults) and check names against the
 * pipeline registry. Secrets never live in the file: DATABASE_URL comes from the environment.
 */

export type ResolvedSource =
  | { readonly kind: 'path'; readonly path: string; readonly pattern: string }
  | { readonly kind: 'url'; readonly url: string };

export interface ResolvedPipelineConfig {
  readonly name: string;
  /** Listed in the config file. Pipelines that are not listed do not run. */
  readonly configured: boolean;
  readonly enabled: boolean;
  readonly schedule: ScheduleConfig;
  readonly sources: readonly ResolvedSource[];
  /** Folder that source keys are relative to: the config file's folder. */
  readonly baseDir: string;
  /**
   * `pipelines.<name>.options` as the pipeline's options schema parsed them when the config
   * loaded (the pipeline's own code sees them typed, as `runtime.options`).
   */
  readonly options: unknown;
  /**
   * What happens to the rows of a file that is no longer among the sources (deleted, moved or
   * renamed): keep them (the default; the run says the file is missing), or retire them.
   */
  readonly onMissing?: MissingFilePolicy;
}

export type MissingFilePolicy = 'keep' | 'retire';

export interface AppConfig {
  readonly file: string;
  readonly databaseUrl: string | undefined;
  readonly embeddedDir: string;
  readonly log: { readonly level: string; readonly format: LogFormat };
  readonly http: HttpSettings;
  readonly archives: ArchiveSettings;
  readonly scheduler: SchedulerSettings;
  readonly serve: ServeSettings;
  /** Absolute path of the HTML report the scheduler rewrites after runs; undefined: none. */
  readonly reportPath: string | undefined;
  readonly alerts: AlertsConfig;
  /** Sections the pipelines share (e.g. companies), validated by the schemas the registry gives. */
  readonly shared: Readonly<Record<string, unknown>>;
  readonly pipelines: ReadonlyMap<string, ResolvedPipelineConfig>;
}

/** What the config loader needs to know about the pipelines: the list, and their shared config sections. */
export interface Registry {
  readonly pipelines: readonly AnyPipeline[];
  /** Top-level config sections with their schemas, e.g. { companies: companiesSchema }. */
  readonly sharedSections: Readonly<Record<string, z.ZodType>>;
  /** Cross-checks between shared sections and pipelines, each problem as `path: message`. */
  readonly validate?: (shared: Readonly<Record<string, unknown>>) => readonly string[];
}

export interface LoadConfigOptions {
  /** Explicit file (the --config flag); else BUBBLEWATCH_CONFIG; else config/bubblewatch.yaml. */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly registry: Registry;
}

export function configFilePath(options: { file?: string | undefined; env?: NodeJS.ProcessEnv }): string {
  const env = options.env ?? process.env;
  const chosen = options.file ?? env.BUBBLEWATCH_CONFIG;
  return chosen ? resolve(chosen) : DEFAULT_CONFIG_FILE;
}

function parseText(file: string, text: string): unknown {
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ConfigError(`${file}: not valid JSON: ${(error as Error).message}`);
    }
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      `${file}: not valid YAML`,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return `${pos ? `line ${pos.line}, column ${pos.col}` : 'somewhere'}: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`;
      }),
    );
  }
  return doc.toJS() ?? {};
}

export function loadConfig(options: LoadConfigOptions): AppConfig {
  const env = options.env ?? process.env;
  const file = configFilePath({ file: options.file, env });
  if (!existsSync(file)) {
    throw new ConfigError(`config file ${file} does not exist; pass --config <file> or set BUBBLEWATCH_CONFIG`);
  }
  const raw = parseText(file, readFileSync(file, 'utf8'));
  return resolveConfig(file, raw, env, options.registry);
}

/**
 * The environment variable that replaces a pipeline's cron expression (its time zone stays the
 * config's): BUBBLEWATCH_SCHEDULE_SEC_COMPANYFACTS for sec-companyfacts.
 */
export function scheduleEnvVar(pipeline: string): string {
  return `BUBBLEWATCH_SCHEDULE_${pipeline.toUpperCase().replaceAll('-', '_')}`;
}

/** Cron expressions the environment sets per pipeline; a variable naming no pipeline is a problem, not ignored. */
function schedulesFromEnv(env: NodeJS.ProcessEnv, registry: Registry, problems: string[]): Map<string, string> {
  const byVar = new Map(registry.pipelines.map((p) => [scheduleEnvVar(p.name), p.name]));
  const found = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('BUBBLEWATCH_SCHEDULE_') || value === undefined || value.trim() === '') continue;
    const pipeline = byVar.get(name);
    if (pipeline === undefined) {
      problems.push(`${name} (environment): no such pipeline; expected one of ${[...byVar.keys()].join(', ')}`);
      continue;
    }
    const parsed = cronExpression.safeParse(value.trim());
    if (!parsed.success) {
      problems.push(...formatIssues(parsed.error).map((p) => p.replace(/^\(top level\)/, `${name} (environment)`)));
      continue;
    }
    found.set(pipeline, parsed.data);
  }
  return found;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function resolveConfig(file: string, raw: unknown, env: NodeJS.ProcessEnv, registry: Registry): AppConfig {
  const schema = configFileSchema.extend(registry.sharedSections);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`${file}: invalid configuration`, formatIssues(parsed.error));
  }
  const config = parsed.data as z.infer<typeof configFileSchema> & Record<string, unknown>;
  const configDir = dirname(file);
  const fromConfig = (p: string) => (isAbsolute(p) ? p : resolve(configDir, p));
  const problems: string[] = [];

  const shared: Record<string, unknown> = {};
  for (const key of Object.keys(registry.sharedSections)) shared[key] = config[key];
  problems.push(...(registry.validate?.(shared) ?? []));

  const known = new Map(registry.pipelines.map((p) => [p.name, p]));
  for (const name of Object.keys(config.pipelines)) {
    if (!known.has(name)) problems.push(`pipelines.${name}: no such pipeline (known: ${[...known.keys()].join(', ')})`);
  }

  const scheduleOverrides = schedulesFromEnv(env, registry, problems);
  let usesUrls = false;
  const pipelines = new Map<string, ResolvedPipelineConfig>();
  for (const definition of registry.pipelines) {
    const entry = config.pipelines[definition.name];
    const sources: ResolvedSource[] = (entry?.sources ?? []).map((s, i) => {
      if ('url' in s) {
        usesUrls = true;
        // Partition placeholders ({yyyy}, {q}, …) are filled by the engine for a pipeline with
        // partitions; any other is the pipeline's to expand ({cik10}, {series}).
        const placeholders = [...s.url.matchAll(/\{[a-z0-9_]+\}/gi)].map((m) => m[0]);
        const unfilled = placeholders.filter((p) => !(definition.partitions && PARTITION_PLACEHOLDER.test(p)));
        if (unfilled.length > 0 && !definition.source.expandUrl) {
          problems.push(
            `pipelines.${definition.name}.sources.${i}.url: pipeline ${definition.name} does not expand ${unfilled.join(', ')}` +
              (definition.partitions ? '; expected only partition placeholders ({yyyy}, {q}, {mm}, {dd}, {partition})' : '; expected a URL without placeholders'),
          );
        }
        return { kind: 'url', url: s.url };
      }
      return { kind: 'path', path: fromConfig(s.path), pattern: s.pattern ?? definition.source.pattern };
    });
    // Parsed here, once: the output is what the pipeline's code reads. A pipeline the config does
    // not list gets its defaults; should those not parse, it keeps the raw value and, when run,
    // fails naming the problem.
    const options = definition.parseOptions(entry?.options ?? {});
    if (entry && !options.ok) problems.push(...options.problems);
    if (entry && entry.enabled && sources.length === 0) {
      problems.push(`pipelines.${definition.name}.sources: required for an enabled pipeline (a file, folder, glob or URL)`);
    }
    const schedule = entry?.schedule ?? scheduleSchema.parse(definition.defaults.schedule);
    const cron = scheduleOverrides.get(definition.name);
    pipelines.set(definition.name, {
      name: definition.name,
      configured: entry !== undefined,
      enabled: entry?.enabled ?? false,
      schedule: cron === undefined ? schedule : { ...schedule, cron },
      sources,
      baseDir: configDir,
      options: options.ok ? options.options : (entry?.options ?? {}),
      onMissing: entry?.on_missing ?? 'keep',
    });
  }
  const envUserAgent = env.BUBBLEWATCH_USER_AGENT?.trim() || undefined;
  const userAgent = envUserAgent ?? config.http.user_agent;
  if (usesUrls && !userAgent) {
    problems.push(
      'http.user_agent: required when a source is a URL (or set BUBBLEWATCH_USER_AGENT in the environment); the SEC refuses requests without a contact, e.g. "bubblewatch/0.1 (you@example.com)"',
    );
  }

  const envLevel = env.LOG_LEVEL ?? env.BUBBLEWATCH_LOG_LEVEL;
  if (envLevel !== undefined && !LOG_LEVELS.includes(envLevel)) {
    problems.push(`LOG_LEVEL (environment): got "${envLevel}", expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const envFormat = env.BUBBLEWATCH_LOG_FORMAT;
  if (envFormat !== undefined && !['auto', 'pretty', 'json'].includes(envFormat)) {
    problems.push(`BUBBLEWATCH_LOG_FORMAT (environment): got "${envFormat}", expected auto, pretty or json`);
  }
  const secrets = config.http.query_secrets.flatMap((q) => {
    const value = env[q.env]?.trim();
    return value ? [{ host: q.host, param: q.param, value }] : [];
  });
  rememberSecrets(Object.fromEntries(secrets.map((q) => [`${q.host} ${q.param}`, q.value])));
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  rememberSecrets({ DATABASE_URL: databaseUrl, PGPASSWORD: env.PGPASSWORD, webhook: env[config.alerts.webhook.url_env] });
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL (environment): expected a postgres:// or postgresql:// connection string');
  }
  if (problems.length > 0) throw new ConfigError(`${file}: invalid configuration`, problems);

  return {
    file,
    databaseUrl,
    embeddedDir: env.BUBBLEWATCH_EMBEDDED_DIR ? resolve(env.BUBBLEWATCH_EMBEDDED_DIR) : fromConfig(config.database.embedded_dir),
    log: {
      level: envLevel ?? config.log.level,
      format: (envFormat as LogFormat | undefined) ?? config.log.format,
    },
    http: { ...config.http, ...(userAgent === undefined ? {} : { user_agent: userAgent }), cache_dir: fromConfig(config.http.cache_dir), secrets },
    archives: config.archives,
    scheduler: config.scheduler,
    serve: config.serve,
    reportPath: config.report.path === undefined ? undefined : fromConfig(config.report.path),
    alerts: config.alerts,
    shared,
    pipelines,
  };
}

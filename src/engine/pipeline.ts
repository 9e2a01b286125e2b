import { z } from 'zod';
import { formatIssues, type ScheduleInput } from '../config/schema.js';
import type { SqlConnection } from '../db/connect.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { csvReader } from './readers/csv.js';
import type { RecordReader } from './readers/types.js';

/**
 * What a pipeline declares. A pipeline lives in pipelines/<name>/, is listed once in
 * pipelines/registry.ts, and is run by the engine, which knows no pipeline by name.
 */

/** A value bound for one column of a COPY: text, a number, or null. */
export type CopyValue = string | number | boolean | null;

/**
 * What a pipeline sees of the configuration while it runs: its own options (the output of its
 * options schema, typed `O` in the pipeline's own code) and the shared settings sections (such
 * as the list of companies), already validated. The engine holds it with `O` unknown.
 */
export interface PipelineRuntime<O = unknown> {
  readonly pipeline: string;
  readonly options: O;
  readonly shared: Readonly<Record<string, unknown>>;
}

/**
 * The row schema: one zod field per column the source may have, keyed by column name.
 * Fields wrapped in `optional()` may be absent or empty.
 */
export type RowFields = Record<string, z.ZodType<unknown, string | undefined>>;

export interface RowSpec<F extends RowFields> {
  readonly fields: F;
  readonly schema: z.ZodObject<F>;
  readonly required: readonly string[];
  readonly optional: readonly string[];
}

export function rowSchema<F extends RowFields>(fields: F): RowSpec<F> {
  const required: string[] = [];
  const optionalColumns: string[] = [];
  for (const [name, field] of Object.entries(fields)) {
    const acceptsMissing = field.safeParse(undefined).success;
    (acceptsMissing ? optionalColumns : required).push(name);
  }
  return { fields, schema: z.object(fields), required, optional: optionalColumns };
}

export type RowOf<S extends RowSpec<RowFields>> = z.output<S['schema']>;

/** Where valid rows go. The engine adds file_id, line_no and run_id (and locator, if asked) to every row. */
export interface LoadTarget<Row, O = unknown> {
  readonly table: string;
  readonly columns: readonly string[];
  /** The table has a `locator` column for where in the file a record was (JSON path, archive entry). */
  readonly locator?: boolean;
  /**
   * The values for `columns`, in order. `null` skips the row on purpose (counted as skipped);
   * throwing RowRejection rejects it with a reason (for rules that need the configuration).
   */
  readonly values: (row: Row, runtime: PipelineRuntime<O>) => readonly CopyValue[] | null;
}

export type CheckSeverity = 'error' | 'warn';

/**
 * A data check runs after transforms. `sql` selects the failing rows (none = pass).
 * Checks with severity `error` fail the run and roll back its load; `warn` only records.
 */
export interface DataCheck {
  readonly name: string;
  readonly description: string;
  readonly severity: CheckSeverity;
  readonly sql: string;
}

/**
 * A check of one source file, run right after the file's rows are in its raw table and before
 * any transform: a file that fails it is held back whole (nothing of it kept, the rest of the run
 * loads), for instance a snapshot whose size departs from its neighbours' (a truncated download).
 */
export interface FileCheck<O = unknown> {
  readonly name: string;
  readonly description: string;
  /** Statements without parameters run first (e.g. create a temporary table the check fills). */
  readonly setup?: string;
  /**
   * One statement run next, with $1 the file's file_id (e.g. note the file's figures, for this
   * check and the next file's; a file that fails rolls its notes back with its rows).
   */
  readonly prepare?: string;
  /** Selects the file's failing rows (none = pass): $1 is the file's file_id, then `params`. */
  readonly sql: string;
  readonly params?: (runtime: PipelineRuntime<O>) => readonly unknown[];
  /** Whether the check applies this run (e.g. it can be switched off in the options). */
  readonly enabled?: (runtime: PipelineRuntime<O>) => boolean;
}

export interface SourceSpec<O = unknown> {
  /** File names taken from a folder source when the config gives no pattern, e.g. "*.csv". */
  readonly pattern: string;
  /**
   * A folder holding a file of this name is one source unit (a dataset folder, such as an
   * SEC financial statement data set with sub.txt and num.txt), hashed over its files.
   */
  readonly datasetMarker?: string;
  /** Files of the dataset folder that make up its content (hashed; others are ignored). */
  readonly datasetFiles?: readonly string[];
  /** Turn a URL template from the config into the URLs to fetch (e.g. one per configured company). */
  readonly expandUrl?: (template: string, runtime: PipelineRuntime<O>) => readonly string[];
  /**
   * For a URL source whose body may be a page linking to the data rather than the data (a
   * publisher whose file URL changes with each release): the URL of the data, or undefined when
   * the body is the data itself. Throws an InputFileError when a page holds no such link.
   */
  readonly linkedData?: (fetched: { readonly path: string; readonly url: string }, runtime: PipelineRuntime<O>) => Promise<string | undefined>;
  /** What a fetched body must look like. */
  readonly expectContentType?: 'json' | 'zip' | 'csv';
}

export type PartitionGrain = 'day' | 'month' | 'quarter';

/**
 * How a pipeline's data splits into periods, for backfills and partition status. A partition
 * key is 'YYYY-MM-DD' (day), 'YYYY-MM' (month) or 'YYYYQn' (quarter).
 */
export interface PartitionSpec {
  readonly grain: PartitionGrain;
  /** The partition a source unit holds, read from its name; undefined when it cannot tell. */
  readonly keyOf: (file: { readonly sourceKey: string; readonly path: string; readonly uri: string }) => string | undefined;
  /** For a URL template with partition placeholders ({yyyy}, {q}, …): the partition a scheduled run fetches. */
  readonly current?: (now: Date) => string;
}

/** Data older than this is stale; `sql` returns one row with a `newest` date. */
export interface FreshnessSpec {
  readonly maxAgeDays: number;
  readonly sql: string;
  readonly description: string;
}

export interface Preview {
  readonly title: string;
  readonly sql: string;
}

/** What a pipeline declares in definePipeline: `S` is its row schema, `O` the output of its options schema. */
export interface PipelineSpec<S extends RowSpec<RowFields>, O> {
  readonly name: string;
  readonly description: string;
  readonly source: SourceSpec<O>;
  /**
   * `pipelines.<name>.options` in the config file, validated once when the config loads; its
   * output is `runtime.options` everywhere below. A pipeline without options gives `noOptions`.
   */
  readonly options: z.ZodType<O>;
  /** Creates the reader for one run, bound to the run's configuration. */
  readonly reader: (runtime: PipelineRuntime<O>, logger: Logger) => RecordReader;
  readonly row: S;
  /** Which fields together identify a fact; for the duplicate-key check and docs. */
  readonly naturalKey: readonly string[];
  readonly load: LoadTarget<RowOf<S>, O>;
  /**
   * Runs first in the run's transaction, e.g. to write configuration the transforms read
   * (companies and their tags). Returning fullRefresh: true makes the transforms recompute everything.
   */
  readonly prepare?: (conn: SqlConnection, runtime: PipelineRuntime<O>) => Promise<{ readonly fullRefresh?: boolean } | void>;
  /**
   * The SQL files under sql/transforms/ that are this pipeline's own, run inside the run's
   * transaction. The engine orders them by the reads and writes each declares in its header
   * (src/engine/transforms.ts), not by their place in this list.
   */
  readonly transforms: readonly string[];
  readonly checks: readonly DataCheck[];
  /** Checks of each file before transforms; a file that fails one is held back alone. */
  readonly fileChecks?: readonly FileCheck<O>[];
  readonly defaults: { readonly schedule: ScheduleInput };
  /** Analyst views this pipeline feeds, named in summaries and docs. */
  readonly views: readonly string[];
  /** Short queries whose rows show a new user what the pipeline produced (printed after `run`; same titles print once). */
  readonly previews?: readonly Preview[];
  readonly partitions?: PartitionSpec;
  readonly freshness?: FreshnessSpec;
  /** Tables that must not shrink by more than maxDrop (a fraction) between successful runs. */
  readonly guardedTables?: readonly { readonly table: string; readonly maxDrop: number; readonly severity?: 'error' | 'warn' }[];
  /**
   * Indicators this pipeline's options declare (FRED series marked as indicators), so that alert
   * rules on them can be checked from the config alone. Indicators of the analytics views are
   * declared in their models' yml (sql/models), not here.
   */
  readonly indicators?: (options: O) => readonly ConfigIndicator[];
}

/** An indicator declared in a pipeline's options. */
export interface ConfigIndicator {
  readonly name: string;
  readonly family: string;
  readonly unit: string | null;
  readonly frequency: string;
  readonly direction: string | null;
  readonly description: string | null;
}

/** The options of a pipeline as its schema parsed them, or each problem as `pipelines.<name>.options…: message`. */
export type OptionsResult<O = unknown> = { readonly ok: true; readonly options: O } | { readonly ok: false; readonly problems: readonly string[] };

/**
 * A pipeline as the engine, the registry and the config loader hold it: the row and options
 * types are hidden inside the functions definePipeline built, which recover them themselves
 * (see bindOptions), so the seven pipelines share one type without casts. `load.values` takes
 * `never`: only the engine, holding a row this pipeline's own `row.schema` produced, calls it.
 */
export interface PipelineDefinition {
  readonly name: string;
  readonly description: string;
  readonly source: SourceSpec;
  readonly reader: (runtime: PipelineRuntime, logger: Logger) => RecordReader;
  readonly row: RowSpec<RowFields>;
  readonly naturalKey: readonly string[];
  readonly load: LoadTarget<never>;
  readonly prepare?: (conn: SqlConnection, runtime: PipelineRuntime) => Promise<{ readonly fullRefresh?: boolean } | void>;
  readonly transforms: readonly string[];
  readonly checks: readonly DataCheck[];
  readonly fileChecks?: readonly FileCheck[];
  readonly defaults: { readonly schedule: ScheduleInput };
  readonly views: readonly string[];
  readonly previews?: readonly Preview[];
  readonly partitions?: PartitionSpec;
  readonly freshness?: FreshnessSpec;
  readonly guardedTables?: readonly { readonly table: string; readonly maxDrop: number; readonly severity?: 'error' | 'warn' }[];
  /** Indicators the options declare (see PipelineSpec.indicators); takes the options as the config loader parsed them. */
  readonly indicators?: (options: unknown) => readonly ConfigIndicator[];
  /** Validates `pipelines.<name>.options` (the config loader calls this once, when the config loads). */
  readonly parseOptions: (raw: unknown) => OptionsResult;
}

export type AnyPipeline = PipelineDefinition;

/** A pipeline with its options type still known, for its own module (e.g. to read its options from a loaded config). */
export interface TypedPipeline<O> extends PipelineDefinition {
  /** The options of a resolved config entry (`config.pipelines.get(name).options`), typed. */
  readonly optionsOf: (options: unknown) => O;
}

/**
 * The options schema of a pipeline that has none: whatever the config gives is accepted and
 * ignored, as it was before pipelines declared schemas (old config files keep loading).
 */
export const noOptions = z.record(z.string(), z.unknown());

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/**
 * Binds a pipeline's options schema to the runtimes the engine hands it. Options the config
 * loader produced (through parseOptions) are recognised by identity and used as they are; options
 * a caller built by hand (tests, tools) were never parsed, so they are parsed here, once per
 * object. Either way the pipeline's code only ever sees its schema's output.
 */
function bindOptions<O>(name: string, schema: z.ZodType<O>) {
  const produced = new WeakMap<object, O>();
  const fromRaw = new WeakMap<object, O>();
  const typed = new WeakMap<PipelineRuntime, PipelineRuntime<O>>();
  const prefix = ['pipelines', name, 'options'];

  const parseOptions = (raw: unknown): OptionsResult<O> => {
    const parsed = schema.safeParse(raw ?? {});
    if (!parsed.success) return { ok: false, problems: formatIssues(parsed.error, prefix) };
    if (isObject(parsed.data)) produced.set(parsed.data, parsed.data);
    return { ok: true, options: parsed.data };
  };

  const optionsOf = (options: unknown): O => {
    if (isObject(options)) {
      const known = produced.get(options) ?? fromRaw.get(options);
      if (known !== undefined) return known;
    }
    const parsed = parseOptions(options);
    if (!parsed.ok) throw new ConfigError(`${prefix.join('.')}: invalid options for pipeline ${name}`, parsed.problems);
    if (isObject(options)) fromRaw.set(options, parsed.options);
    return parsed.options;
  };

  // load.values runs once per row, always with the run's one runtime: remember the last one.
  let last: { readonly runtime: PipelineRuntime; readonly bound: PipelineRuntime<O> } | undefined;

  /** The runtime with typed options; one per engine runtime, so caches keyed by runtime keep working. */
  const runtimeOf = (runtime: PipelineRuntime): PipelineRuntime<O> => {
    if (last?.runtime === runtime) return last.bound;
    let bound = typed.get(runtime);
    if (!bound) {
      bound = { pipeline: runtime.pipeline, options: optionsOf(runtime.options), shared: runtime.shared };
      typed.set(runtime, bound);
    }
    last = { runtime, bound };
    return bound;
  };

  return { parseOptions, optionsOf, runtimeOf };
}

/** Declares a pipeline: checks its name, and keeps the row and options types flowing into its functions. */
export function definePipeline<S extends RowSpec<RowFields>, O>(spec: PipelineSpec<S, O>): TypedPipeline<O> {
  if (!/^[a-z][a-z0-9-]*$/.test(spec.name)) {
    throw new Error(`pipeline name "${spec.name}" must be lower-case kebab-case`);
  }
  const { parseOptions, optionsOf, runtimeOf } = bindOptions(spec.name, spec.options);
  const { expandUrl, linkedData, ...source } = spec.source;
  const { values, ...load } = spec.load;
  const { prepare } = spec;
  return {
    name: spec.name,
    description: spec.description,
    source: {
      ...source,
      ...(expandUrl ? { expandUrl: (template: string, runtime: PipelineRuntime) => expandUrl(template, runtimeOf(runtime)) } : {}),
      ...(linkedData ? { linkedData: (fetched: { readonly path: string; readonly url: string }, runtime: PipelineRuntime) => linkedData(fetched, runtimeOf(runtime)) } : {}),
    },
    reader: (runtime, logger) => spec.reader(runtimeOf(runtime), logger),
    row: spec.row,
    naturalKey: spec.naturalKey,
    load: { ...load, values: (row: RowOf<S>, runtime: PipelineRuntime) => values(row, runtimeOf(runtime)) },
    ...(prepare ? { prepare: (conn: SqlConnection, runtime: PipelineRuntime) => prepare(conn, runtimeOf(runtime)) } : {}),
    transforms: spec.transforms,
    checks: spec.checks,
    ...(spec.fileChecks ? { fileChecks: spec.fileChecks.map((check) => bindFileCheck(check, runtimeOf)) } : {}),
    defaults: spec.defaults,
    views: spec.views,
    ...(spec.previews ? { previews: spec.previews } : {}),
    ...(spec.partitions ? { partitions: spec.partitions } : {}),
    ...(spec.freshness ? { freshness: spec.freshness } : {}),
    ...(spec.guardedTables ? { guardedTables: spec.guardedTables } : {}),
    ...(spec.indicators ? { indicators: (options: unknown) => spec.indicators!(optionsOf(options)) } : {}),
    parseOptions,
    optionsOf,
  };
}

function bindFileCheck<O>(check: FileCheck<O>, runtimeOf: (runtime: PipelineRuntime) => PipelineRuntime<O>): FileCheck {
  const { params, enabled, ...rest } = check;
  return {
    ...rest,
    ...(params ? { params: (runtime: PipelineRuntime) => params(runtimeOf(runtime)) } : {}),
    ...(enabled ? { enabled: (runtime: PipelineRuntime) => enabled(runtimeOf(runtime)) } : {}),
  };
}

/** The reader for a delimited text source whose header names the row schema's columns. */
export function delimitedText(
  row: RowSpec<RowFields>,
  options: { readonly delimiter?: string; readonly aliases?: Readonly<Record<string, string>> } = {},
): (runtime: PipelineRuntime<unknown>, logger: Logger) => RecordReader {
  return (runtime, logger) =>
    csvReader({
      delimiter: options.delimiter ?? ',',
      required: row.required,
      optional: row.optional,
      ...(options.aliases ? { aliases: options.aliases } : {}),
      logger,
      pipeline: runtime.pipeline,
    });
}

import { z } from 'zod';
import type { ScheduleInput } from '../config/schema.js';
import type { SqlConnection } from '../db/connect.js';
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
 * What a pipeline sees of the configuration while it runs: its own options and the
 * shared settings sections (such as the list of companies), already validated.
 */
export interface PipelineRuntime {
  readonly pipeline: string;
  readonly options: Readonly<Record<string, unknown>>;
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
export interface LoadTarget<Row> {
  readonly table: string;
  readonly columns: readonly string[];
  /** The table has a `locator` column for where in the file a record was (JSON path, archive entry). */
  readonly locator?: boolean;
  /**
   * The values for `columns`, in order. `null` skips the row on purpose (counted as skipped);
   * throwing RowRejection rejects it with a reason (for rules that need the configuration).
   */
  readonly values: (row: Row, runtime: PipelineRuntime) => readonly CopyValue[] | null;
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
export interface FileCheck {
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
  readonly params?: (runtime: PipelineRuntime) => readonly unknown[];
  /** Whether the check applies this run (e.g. it can be switched off in the options). */
  readonly enabled?: (runtime: PipelineRuntime) => boolean;
}

export interface SourceSpec {
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
  readonly expandUrl?: (template: string, runtime: PipelineRuntime) => readonly string[];
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

export interface PipelineDefinition<S extends RowSpec<RowFields> = RowSpec<RowFields>> {
  readonly name: string;
  readonly description: string;
  readonly source: SourceSpec;
  /** Creates the reader for one run, bound to the run's configuration. */
  readonly reader: (runtime: PipelineRuntime, logger: Logger) => RecordReader;
  readonly row: S;
  /** Which fields together identify a fact; for the duplicate-key check and docs. */
  readonly naturalKey: readonly string[];
  readonly load: LoadTarget<RowOf<S>>;
  /**
   * Runs first in the run's transaction, e.g. to write configuration the transforms read
   * (companies and their tags). Returning fullRefresh: true makes the transforms recompute everything.
   */
  readonly prepare?: (conn: SqlConnection, runtime: PipelineRuntime) => Promise<{ readonly fullRefresh?: boolean } | void>;
  /**
   * The SQL files under sql/transforms/ that are this pipeline's own, run inside the run's
   * transaction. The engine orders them by the reads and writes each declares in its header
   * (src/engine/transforms.ts), not by their place in this list.
   */
  readonly transforms: readonly string[];
  readonly checks: readonly DataCheck[];
  /** Checks of each file before transforms; a file that fails one is held back alone. */
  readonly fileChecks?: readonly FileCheck[];
  readonly defaults: { readonly schedule: ScheduleInput };
  /** Analyst views this pipeline feeds, named in summaries and docs. */
  readonly views: readonly string[];
  /** Short queries whose rows show a new user what the pipeline produced (printed after `run`; same titles print once). */
  readonly previews?: readonly Preview[];
  readonly partitions?: PartitionSpec;
  readonly freshness?: FreshnessSpec;
  /** Tables that must not shrink by more than maxDrop (a fraction) between successful runs. */
  readonly guardedTables?: readonly { readonly table: string; readonly maxDrop: number; readonly severity?: 'error' | 'warn' }[];
  /** Checks `pipelines.<name>.options` when the config loads; each problem as `path: message`. */
  readonly optionProblems?: (options: Readonly<Record<string, unknown>>) => readonly string[];
}

/** Identity function that keeps the row type flowing from `row` to `load.values`. */
export function definePipeline<S extends RowSpec<RowFields>>(definition: PipelineDefinition<S>): PipelineDefinition<S> {
  if (!/^[a-z][a-z0-9-]*$/.test(definition.name)) {
    throw new Error(`pipeline name "${definition.name}" must be lower-case kebab-case`);
  }
  return definition;
}

export type AnyPipeline = PipelineDefinition<RowSpec<RowFields>>;

/** The reader for a delimited text source whose header names the row schema's columns. */
export function delimitedText(
  row: RowSpec<RowFields>,
  options: { readonly delimiter?: string; readonly aliases?: Readonly<Record<string, string>> } = {},
): (runtime: PipelineRuntime, logger: Logger) => RecordReader {
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

import { z } from 'zod';
import type { ScheduleConfig } from '../config/schema.js';

/**
 * What a pipeline declares. A pipeline lives in pipelines/<name>/, is listed once in
 * pipelines/registry.ts, and is run by the engine, which knows no pipeline by name.
 */

/** A value bound for one column of a COPY: text, a number, or null. */
export type CopyValue = string | number | boolean | null;

export interface CsvFormat {
  readonly kind: 'csv';
  /** Field separator; ',' unless the source says otherwise ('\t' for tab-separated). */
  readonly delimiter: string;
  /** File names taken from a folder source when the config gives no pattern. */
  readonly pattern: string;
}

/**
 * The row schema: one zod field per column the source may have, keyed by the column's
 * header name. Fields wrapped in `optional()` may be absent from the header or empty.
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

/** Where valid rows go. The engine adds file_id, line_no and run_id to every row. */
export interface LoadTarget<Row> {
  readonly table: string;
  readonly columns: readonly string[];
  /** The values for `columns`, in order; `null` means the row is skipped on purpose (counted as skipped). */
  readonly values: (row: Row) => readonly CopyValue[] | null;
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

export interface PipelineDefaults {
  /** Used when the config gives no schedule. */
  readonly schedule: ScheduleConfig;
}

export interface PipelineDefinition<S extends RowSpec<RowFields> = RowSpec<RowFields>> {
  readonly name: string;
  readonly description: string;
  readonly format: CsvFormat;
  readonly row: S;
  /** Which columns together identify a fact; used for the duplicate-key check and docs. */
  readonly naturalKey: readonly string[];
  readonly load: LoadTarget<RowOf<S>>;
  /** SQL files under sql/transforms/, run in this order inside the run's transaction. */
  readonly transforms: readonly string[];
  readonly checks: readonly DataCheck[];
  readonly defaults: PipelineDefaults;
  /** Analyst views this pipeline feeds, named in summaries and docs. */
  readonly views: readonly string[];
  /** A short query whose rows show a new user what the pipeline produced (printed after `run`). */
  readonly preview?: { readonly title: string; readonly sql: string };
}

/** Identity function that keeps the row type flowing from `row` to `load.values`. */
export function definePipeline<S extends RowSpec<RowFields>>(definition: PipelineDefinition<S>): PipelineDefinition<S> {
  if (!/^[a-z][a-z0-9-]*$/.test(definition.name)) {
    throw new Error(`pipeline name "${definition.name}" must be lower-case kebab-case`);
  }
  return definition;
}

export type AnyPipeline = PipelineDefinition<RowSpec<RowFields>>;

/**
 * The pipeline SDK: everything a pipeline under pipelines/ may use from the engine, and the only
 * module of src/ they import (test/pipelines/sdk-boundary.test.ts holds them to it). The engine
 * can then change behind this surface without touching a pipeline. Add an export here only when a
 * pipeline needs it, with one line saying what it is.
 */

// Declaring a pipeline
/** Declares a pipeline: its source, row schema, options schema, load target, transforms and checks. */
export { definePipeline } from './engine/pipeline.js';
/** The options schema of a pipeline that takes none (whatever the config gives is ignored). */
export { noOptions } from './engine/pipeline.js';
/** Builds a row schema from one field per source column; lists which columns are required. */
export { rowSchema } from './engine/pipeline.js';
/** The reader for delimited text whose header names the row schema's columns. */
export { delimitedText } from './engine/pipeline.js';
/** The declaration types: the typed spec, the registry's erased pipeline, and their parts. */
export type {
  AnyPipeline,
  CheckSeverity,
  ConfigIndicator,
  CopyValue,
  DataCheck,
  FileCheck,
  FreshnessSpec,
  LoadTarget,
  PartitionGrain,
  PartitionSpec,
  PipelineDefinition,
  PipelineRuntime,
  PipelineSpec,
  Preview,
  RowFields,
  RowOf,
  RowSpec,
  SourceSpec,
  TypedPipeline,
} from './engine/pipeline.js';

// Row fields: zod schemas for one CSV cell each, with a fast twin that accepts exactly the same
/** Field builders: free text, a code, an ISO date, a decimal, and optional() for an empty or absent cell. */
export { code, decimal, isoDate, optional, text } from './engine/fields.js';
/** A custom field's fast check: withFastCheck pairs it with the zod schema; INVALID is its refusal. */
export { INVALID, withFastCheck } from './engine/fields.js';
/** Whether year-month-day is a date of the calendar (no 2025-02-30). */
export { isRealDate } from './engine/fields.js';

// Readers
/** What a reader is and yields: records with their line, fields and problems. */
export type { ReadSummary, RecordReader, RecordSink, SourceRecord, ReadUnit } from './engine/readers/types.js';
/** Thrown from load.values to reject one row with a reason (kept in etl.rejects). */
export { RowRejection } from './engine/readers/types.js';
/** Streams a CSV file (any delimiter, UTF-8 checked) record by record. */
export { readCsvFile } from './engine/csv-reader.js';
export type { CsvReadOptions, CsvReadResult, CsvRecord } from './engine/csv-reader.js';
/** Header helpers: a column name as compared, a value clipped for a message, the duplicate-column error. */
export { duplicateColumnError, normaliseHeaderName, quoteClipped } from './engine/readers/csv.js';
/** One problem of a rejected record: column, its position, the value, and why. */
export type { RejectProblem } from './db/tables/rejects.table.js';
/** A file-name glob (`*.csv`, `constituents-financials_201[0-7]-*.csv`) as a regular expression. */
export { globToRegExp } from './engine/discover.js';

// Configuration
/** Render zod issues as `path: message` lines, the way every config problem is reported. */
export { formatIssues } from './config/schema.js';
/** The loaded configuration, for functions that read a pipeline's options out of it. */
export type { AppConfig, Registry } from './config/load.js';

// Errors
/** A configuration problem (exit code 2) and a source file that cannot be read (the file fails alone). */
export { ConfigError, InputFileError } from './errors.js';

// Services a pipeline's functions are handed
/** One database connection inside the run's transaction (query, COPY, kysely). */
export type { SqlConnection } from './db/connect.js';
/** The run's logger. */
export type { Logger } from './log/logger.js';

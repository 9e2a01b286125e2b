import type { RejectProblem } from '../../db/tables/rejects.table.js';

/**
 * A reader turns one source unit (a file, an archive, a dataset folder) into records of
 * named string fields, which the engine validates with the pipeline's row schema.
 * Readers know formats; they do not know tables.
 */

export interface SourceRecord {
  /** 1-based line where the record starts (text formats) or its 1-based ordinal (JSON). */
  readonly line: number;
  /** Where in the unit the record is, when a line alone does not say (a JSON path, an archive entry). */
  readonly locator?: string;
  /** The record's fields by column name, as text; absent columns are undefined. */
  readonly fields: Readonly<Record<string, string | undefined>>;
  /** The record as read, kept with a reject. */
  readonly rawText: string;
  /** Each field's 1-based column position, for rejects (shared by all records of a file). */
  readonly positions?: ReadonlyMap<string, number>;
  /** Problems the reader already found (e.g. a row with too few fields); the record is rejected. */
  readonly problems?: readonly RejectProblem[];
}

export interface ReadSummary {
  /** Records read, including those the reader skipped on purpose. */
  readonly read: number;
  /** Records the reader dropped on purpose (not a configured company or tag, not consolidated). */
  readonly skipped: number;
}

export interface RecordSink {
  /** A batch of records to validate and load; reading waits for the promise. */
  (records: readonly SourceRecord[]): Promise<void>;
}

/** Where a unit came from, for readers that take something from its name (a URL's cached copy has a hashed name). */
export interface ReadUnit {
  /** The path, or the URL it was fetched from. */
  readonly uri: string;
}

export interface RecordReader {
  /** Read `path` (a file or a dataset folder), handing records on in batches. */
  read(path: string, sink: RecordSink, unit?: ReadUnit): Promise<ReadSummary>;
}

/** Thrown by a pipeline's `values()` to reject a row that passed the schema but fails a rule that needs config. */
export class RowRejection extends Error {
  constructor(
    readonly column: string | null,
    readonly value: string | null,
    message: string,
  ) {
    super(message);
  }
}

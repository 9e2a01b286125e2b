import type { SqlConnection } from '../db/connect.js';
import type { RejectProblem } from '../db/tables/rejects.table.js';
import { throwIfAborted } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { fastRowParser } from './fields.js';
import type { AnyPipeline, CopyValue, PipelineRuntime } from './pipeline.js';
import { RowRejection, type SourceRecord } from './readers/types.js';

/**
 * Load one source unit into the pipeline's raw table inside the caller's transaction:
 * the pipeline's reader yields records → each is validated with the row schema → valid
 * rows are COPYed → invalid ones go to etl.rejects. Every record is counted exactly once:
 * read = loaded + rejected + skipped.
 */

export interface UnitToLoad {
  /** Local path to read. */
  readonly path: string;
  /** Where it came from (the path, or a URL), recorded with rejects. */
  readonly uri: string;
  readonly fileId: number;
}

export interface FileLoadCounts {
  readonly read: number;
  readonly loaded: number;
  readonly rejected: number;
  readonly skipped: number;
}

interface PendingReject {
  readonly line: number;
  readonly locator: string | null;
  readonly problems: readonly RejectProblem[];
  readonly rawText: string;
}

/** Rejects wait while COPY holds the connection; they are flushed after this many, or this much text. */
const REJECT_FLUSH_ROWS = 1000;
const REJECT_FLUSH_CHARS = 16 * 1024 * 1024;
/** Keep at most this much of a rejected record's text (a 50 MB line is kept as its first 1 MB). */
const RAW_TEXT_LIMIT = 1024 * 1024;

const PROVENANCE_COLUMNS = ['file_id', 'line_no', 'run_id'] as const;

/** Text that COPY's CSV format would read differently unquoted: empty (NULL), or holding a quote, comma, line break or backslash (\\.). */
const NEEDS_QUOTES = /[",\r\n\\]/;

export function csvField(value: CopyValue): string {
  if (value === null) return '';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`cannot COPY the non-finite number ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value !== '' && !NEEDS_QUOTES.test(value)) return value;
  return '"' + value.replace(/"/g, '""') + '"';
}

/** Text PostgreSQL can store: at most RAW_TEXT_LIMIT characters, and no NUL (text and jsonb refuse it). */
function storable(text: string): string {
  const clipped = text.length > RAW_TEXT_LIMIT ? text.slice(0, RAW_TEXT_LIMIT) : text;
  return clipped.includes('\u0000') ? clipped.replace(/\u0000/g, '\\u0000') : clipped;
}

/** zod's own wording for an absent value ("Invalid input: expected string, received undefined") says less than ours. */
function missingMessage(message: string): string {
  return /^Invalid input: expected \w+, received undefined$/.test(message) ? 'no value was given; expected one' : message;
}

export function problemText(problems: readonly RejectProblem[]): string {
  return problems.map((p) => (p.column ? `column '${p.column}': ${p.message}` : p.message)).join('; ');
}

export async function loadUnit(
  conn: SqlConnection,
  pipeline: AnyPipeline,
  runtime: PipelineRuntime,
  runId: number,
  unit: UnitToLoad,
  logger: Logger,
  signal?: AbortSignal,
): Promise<FileLoadCounts> {
  const target = pipeline.load;
  const columns = [...PROVENANCE_COLUMNS, ...(target.locator ? ['locator'] : []), ...target.columns];
  let loaded = 0;
  let rejected = 0;
  let skippedHere = 0;
  let copyRows = 0;
  let copy: ReturnType<SqlConnection['copyCsv']> | undefined;
  let rejects: PendingReject[] = [];
  let rejectChars = 0;
  const fastParse = fastRowParser(pipeline.row.fields);
  const prefix = `${unit.fileId},`;
  const suffix = `,${runId}`;

  const endCopy = async () => {
    if (!copy) return;
    const open = copy;
    copy = undefined;
    const copied = await open.end();
    if (copied !== copyRows) throw new Error(`COPY into ${target.table} stored ${copied} rows, expected ${copyRows}`);
    copyRows = 0;
  };

  const flushRejects = async () => {
    if (rejects.length === 0) return;
    await endCopy();
    const pending = rejects;
    rejects = [];
    rejectChars = 0;
    for (let i = 0; i < pending.length; i += 500) {
      await conn.db
        .insertInto('etl.rejects')
        .values(
          pending.slice(i, i + 500).map((r) => {
            const first = r.problems[0]!;
            return {
              run_id: runId,
              file_id: unit.fileId,
              pipeline: pipeline.name,
              uri: unit.uri,
              line_no: r.line,
              locator: r.locator,
              column_name: first.column,
              column_no: first.column_no,
              value: first.value,
              reason: problemText(r.problems),
              problems: JSON.stringify(r.problems),
              raw_text: r.rawText,
            };
          }),
        )
        .execute();
    }
  };

  const reject = (record: SourceRecord, problems: readonly RejectProblem[]) => {
    const rawText = storable(record.rawText);
    // The offending value is kept like the raw text: its first 1 MB, NUL bytes written \u0000.
    const clipped = problems.map((p) => (p.value === null ? p : { ...p, value: storable(p.value) }));
    rejects.push({ line: record.line, locator: record.locator ?? null, problems: clipped, rawText });
    rejectChars += rawText.length;
    rejected++;
  };

  const sink = async (records: readonly SourceRecord[]) => {
    throwIfAborted(signal);
    let text = '';
    let rowsInText = 0;
    for (const record of records) {
      if (record.problems && record.problems.length > 0) {
        reject(record, record.problems);
        continue;
      }
      // The fast twin of the row schema accepts exactly what zod accepts; zod explains a refusal.
      const fast = fastParse?.(record.fields);
      const parsed = fast !== undefined ? { success: true as const, data: fast } : pipeline.row.schema.safeParse(record.fields);
      if (!parsed.success) {
        reject(
          record,
          parsed.error.issues.map((issue) => {
            const column = typeof issue.path[0] === 'string' ? issue.path[0] : null;
            const raw = column === null ? undefined : record.fields[column];
            return {
              column,
              column_no: column === null ? null : (record.positions?.get(column) ?? null),
              value: raw ?? null,
              message: column !== null && raw === undefined ? `missing; ${missingMessage(issue.message)}` : issue.message,
            };
          }),
        );
        continue;
      }
      let values: readonly CopyValue[] | null;
      try {
        values = target.values(parsed.data as never, runtime);
      } catch (error) {
        if (!(error instanceof RowRejection)) throw error;
        reject(record, [
          { column: error.column, column_no: error.column ? (record.positions?.get(error.column) ?? null) : null, value: error.value, message: error.message },
        ]);
        continue;
      }
      if (values === null) {
        skippedHere++;
        continue;
      }
      let line = prefix + record.line + suffix;
      if (target.locator) line += ',' + csvField(record.locator ?? null);
      for (const v of values) line += ',' + csvField(v);
      text += line + '\n';
      rowsInText++;
    }
    if (rowsInText > 0) {
      copy ??= conn.copyCsv(target.table, columns);
      await copy.write(text);
      copyRows += rowsInText;
      loaded += rowsInText;
    }
    if (rejects.length >= REJECT_FLUSH_ROWS || rejectChars >= REJECT_FLUSH_CHARS) await flushRejects();
  };

  let summary;
  try {
    summary = await pipeline.reader(runtime, logger).read(unit.path, sink, { uri: unit.uri });
  } catch (error) {
    // Finish an open COPY so the connection can roll back; its own outcome no longer matters.
    if (copy) await copy.end().catch(() => {});
    throw error;
  }
  await endCopy();
  await flushRejects();

  const counts = { read: summary.read, loaded, rejected, skipped: skippedHere + summary.skipped };
  if (counts.read !== counts.loaded + counts.rejected + counts.skipped) {
    throw new Error(
      `row counts of ${unit.path} do not reconcile: read ${counts.read} ≠ loaded ${loaded} + rejected ${rejected} + skipped ${counts.skipped}`,
    );
  }
  return counts;
}

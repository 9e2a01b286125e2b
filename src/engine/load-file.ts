import Papa from 'papaparse';
import type { SqlConnection } from '../db/connect.js';
import type { RejectProblem } from '../db/tables/rejects.table.js';
import { InputFileError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { readCsvFile, type CsvRecord } from './csv-reader.js';
import type { AnyPipeline, CopyValue } from './pipeline.js';

/**
 * Load one source file into the pipeline's raw table inside the caller's transaction:
 * parse → validate each row → COPY valid rows → store invalid rows in etl.rejects.
 * Every data row ends up counted exactly once: rows_read = loaded + rejected + skipped.
 */

export interface FileToLoad {
  readonly path: string;
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
  readonly problems: readonly RejectProblem[];
  readonly rawText: string;
}

/** Rejects are buffered while COPY holds the connection; flush after this many, or this much text. */
const REJECT_FLUSH_ROWS = 1000;
const REJECT_FLUSH_CHARS = 16 * 1024 * 1024;

const PROVENANCE_COLUMNS = ['file_id', 'line_no', 'run_id'] as const;

export function csvField(value: CopyValue): string {
  if (value === null) return '';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`cannot COPY the non-finite number ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 't' : 'f';
  return '"' + value.replace(/"/g, '""') + '"';
}

interface HeaderMap {
  /** Column name → index in the row. */
  readonly index: ReadonlyMap<string, number>;
  readonly names: readonly string[];
  readonly width: number;
}

export function normaliseHeaderName(name: string): string {
  return name.replace(/^\uFEFF/, '').trim().toLowerCase();
}

function mapHeader(pipeline: AnyPipeline, file: string, fields: readonly string[], line: number, logger: Logger): HeaderMap {
  const names = fields.map(normaliseHeaderName);
  const index = new Map<string, number>();
  const expectedText =
    `columns ${pipeline.row.required.join(', ')}` +
    (pipeline.row.optional.length > 0 ? ` (optional: ${pipeline.row.optional.join(', ')})` : '');
  names.forEach((name, i) => {
    if (name === '') {
      throw new InputFileError({ file, line, column: i + 1 }, 'the header has an empty column name', JSON.stringify(fields.join(pipeline.format.delimiter)), expectedText);
    }
    if (index.has(name)) {
      throw new InputFileError({ file, line, column: i + 1 }, `the header names column "${name}" twice`, `columns ${index.get(name)! + 1} and ${i + 1}`, 'each column once');
    }
    index.set(name, i);
  });
  const missing = pipeline.row.required.filter((c) => !index.has(c));
  if (missing.length > 0) {
    let got = names.length === 1 ? `the single column ${JSON.stringify(fields[0])}` : `columns ${names.join(', ')}`;
    const sep = pipeline.format.delimiter;
    const other = [',', ';', '\t', '|'].find((d) => d !== sep && fields.length === 1 && (fields[0] ?? '').includes(d));
    if (other) got += ` (the header looks ${JSON.stringify(other)}-separated; this source expects ${JSON.stringify(sep)})`;
    throw new InputFileError({ file, line }, `the header lacks required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, got, expectedText);
  }
  const known = new Set([...pipeline.row.required, ...pipeline.row.optional]);
  const unused = names.filter((n) => !known.has(n));
  if (unused.length > 0) {
    logger.warn({ file, columns: unused }, `${file}: ignoring column${unused.length > 1 ? 's' : ''} ${unused.join(', ')}, which pipeline ${pipeline.name} does not use`);
  }
  return { index, names, width: names.length };
}

export async function loadCsvFile(
  conn: SqlConnection,
  pipeline: AnyPipeline,
  runId: number,
  file: FileToLoad,
  logger: Logger,
): Promise<FileLoadCounts> {
  const columns = [...PROVENANCE_COLUMNS, ...pipeline.load.columns];
  const delimiter = pipeline.format.delimiter;
  let header: HeaderMap | undefined;
  let loaded = 0;
  let rejected = 0;
  let skipped = 0;
  let copyRows = 0;
  let copy: ReturnType<SqlConnection['copyCsv']> | undefined;
  let rejects: PendingReject[] = [];
  let rejectChars = 0;
  const prefix = `${file.fileId},`;
  const suffix = `,${runId}`;

  const endCopy = async () => {
    if (!copy) return;
    const copied = await copy.end();
    copy = undefined;
    if (copied !== copyRows) {
      throw new Error(`COPY into ${pipeline.load.table} stored ${copied} rows, expected ${copyRows}`);
    }
    copyRows = 0;
  };

  const flushRejects = async () => {
    if (rejects.length === 0) return;
    await endCopy();
    const pending = rejects;
    rejects = [];
    rejectChars = 0;
    for (let i = 0; i < pending.length; i += 500) {
      const slice = pending.slice(i, i + 500);
      await conn.db
        .insertInto('etl.rejects')
        .values(
          slice.map((r) => {
            const first = r.problems[0]!;
            return {
              run_id: runId,
              file_id: file.fileId,
              pipeline: pipeline.name,
              uri: file.path,
              line_no: r.line,
              column_name: first.column,
              column_no: first.column_no,
              value: first.value,
              reason: r.problems.map((p) => (p.column ? `column '${p.column}': ${p.message}` : p.message)).join('; '),
              problems: JSON.stringify(r.problems),
              raw_text: r.rawText,
            };
          }),
        )
        .execute();
    }
  };

  const reject = (record: CsvRecord, problems: readonly RejectProblem[]) => {
    const rawText = Papa.unparse([record.fields as string[]], { delimiter, newline: '\n' });
    rejects.push({ line: record.line, problems, rawText });
    rejectChars += rawText.length;
    rejected++;
  };

  const onRows = async (records: readonly CsvRecord[]) => {
    const map = header!;
    let text = '';
    let rowsInText = 0;
    for (const record of records) {
      const problems = checkShape(record, map);
      if (problems) {
        reject(record, problems);
        continue;
      }
      const input: Record<string, string | undefined> = {};
      for (const [name, i] of map.index) input[name] = record.fields[i];
      const parsed = pipeline.row.schema.safeParse(input);
      if (!parsed.success) {
        reject(
          record,
          parsed.error.issues.map((issue) => {
            const column = typeof issue.path[0] === 'string' ? issue.path[0] : null;
            const i = column === null ? undefined : map.index.get(column);
            return {
              column,
              column_no: i === undefined ? null : i + 1,
              value: i === undefined ? null : (record.fields[i] ?? null),
              message: i === undefined && column !== null ? `missing; ${issue.message}` : issue.message,
            };
          }),
        );
        continue;
      }
      const values = pipeline.load.values(parsed.data as never);
      if (values === null) {
        skipped++;
        continue;
      }
      let line = prefix + record.line + suffix;
      for (const v of values) line += ',' + csvField(v);
      text += line + '\n';
      rowsInText++;
    }
    if (rowsInText > 0) {
      copy ??= conn.copyCsv(pipeline.load.table, columns);
      await copy.write(text);
      copyRows += rowsInText;
      loaded += rowsInText;
    }
    if (rejects.length >= REJECT_FLUSH_ROWS || rejectChars >= REJECT_FLUSH_CHARS) await flushRejects();
  };

  let result;
  try {
    result = await readCsvFile({
      file: file.path,
      delimiter,
      onHeader: (fields, line) => {
        header = mapHeader(pipeline, file.path, fields, line, logger);
      },
      onRows,
    });
  } catch (error) {
    // Leave the connection usable for the rollback: finish any open COPY, ignoring its outcome.
    if (copy) await copy.end().catch(() => {});
    throw error;
  }
  await endCopy();
  await flushRejects();

  const counts = { read: result.dataRows, loaded, rejected, skipped };
  if (counts.read !== counts.loaded + counts.rejected + counts.skipped) {
    throw new Error(`row counts of ${file.path} do not reconcile: read ${counts.read} ≠ loaded ${loaded} + rejected ${rejected} + skipped ${skipped}`);
  }
  return counts;
}

/** A row with the wrong number of fields or a stray quote is rejected before validation. */
function checkShape(record: CsvRecord, header: HeaderMap): RejectProblem[] | undefined {
  if (record.malformedQuotes) {
    return [{ column: null, column_no: null, value: null, message: 'a stray double quote inside a field; quote the whole field and double any quote inside it' }];
  }
  const n = record.fields.length;
  if (n < header.width) {
    const first = header.names[n]!;
    return [
      {
        column: first,
        column_no: n + 1,
        value: null,
        message: `missing: the row has ${n} field${n === 1 ? '' : 's'}, the header has ${header.width} (no value for ${header.names.slice(n).join(', ')})`,
      },
    ];
  }
  if (n > header.width) {
    return [
      {
        column: null,
        column_no: header.width + 1,
        value: record.fields[header.width] ?? null,
        message: `the row has ${n} fields, the header has ${header.width}`,
      },
    ];
  }
  return undefined;
}

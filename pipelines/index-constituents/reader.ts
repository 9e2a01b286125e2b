import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import Papa from 'papaparse';
import { InputFileError, isRealDate, normaliseHeaderName, readCsvFile, type Logger, type PipelineRuntime, type RecordReader, type RejectProblem, type SourceRecord } from '../../src/sdk.js';
import { planForFile, type FilePlan } from './file-plan.js';
import type { ResolvedLayout } from './layouts.js';
import { OPTIONS_PREFIX, type IndexOptions } from './options.js';

/**
 * Reads a cap file or an issuer-map file in whatever layout the options give it, and hands
 * on records with canonical field names, plus what the file itself implies:
 *   record_kind      cap | issuer
 *   index_code       the index a cap file describes
 *   as_of            from the file name, for layouts without a date column
 *   market_cap_unit  USD per unit of the caps, when configured (empty = detect in SQL)
 *
 * A header that lacks a column the layout needs fails the file (and so the run) with the
 * column's name and the option that asked for it. A file name the layout cannot take a
 * date from fails it too. Rows with too few or too many fields are rejected.
 */

interface HeaderMap {
  readonly width: number;
  /** Canonical field → column index. */
  readonly index: ReadonlyMap<string, number>;
  readonly positions: ReadonlyMap<string, number>;
}

function describeColumns(fields: readonly string[]): string {
  return fields.length === 1 ? `the single column ${JSON.stringify(fields[0])}` : `columns ${fields.map((f) => JSON.stringify(f.trim())).join(', ')}`;
}

function mapHeader(file: string, layout: ResolvedLayout, fields: readonly string[], line: number, logger: Logger): HeaderMap {
  const byName = new Map<string, number>();
  fields.forEach((f, i) => {
    const name = normaliseHeaderName(f);
    if (name !== '' && !byName.has(name)) byName.set(name, i);
  });
  const index = new Map<string, number>();
  const missing: string[] = [];
  for (const column of layout.columns) {
    const key = normaliseHeaderName(column.source);
    const at = byName.get(key);
    if (at === undefined) {
      if (column.required) missing.push(column.source);
      continue;
    }
    const duplicate = fields.findIndex((f, i) => i > at && normaliseHeaderName(f) === key);
    if (duplicate !== -1) {
      throw new InputFileError({ file, line, column: duplicate + 1 }, `the header names column ${JSON.stringify(column.source)} twice`, `columns ${at + 1} and ${duplicate + 1}`, 'each column once');
    }
    index.set(column.field, at);
  }
  if (missing.length > 0) {
    const columns = missing.map((m) => JSON.stringify(m)).join(', ');
    const problem =
      layout.name === 'custom'
        ? `the header lacks column${missing.length > 1 ? 's' : ''} ${columns} (${layout.columns
            .filter((c) => missing.includes(c.source))
            .map((c) => `${layout.origin}.columns.${c.field}`)
            .join(', ')})`
        : `the header lacks column${missing.length > 1 ? 's' : ''} ${columns} of layout ${layout.name} (${layout.origin})`;
    let got = describeColumns(fields);
    const other = [',', ';', '\t', '|'].find((d) => d !== layout.delimiter && fields.length === 1 && (fields[0] ?? '').includes(d));
    if (other) got += ` (the header looks ${JSON.stringify(other)}-separated; this layout expects ${JSON.stringify(layout.delimiter)})`;
    const expected =
      `a header with ${layout.columns.filter((c) => c.required).map((c) => JSON.stringify(c.source)).join(', ')}` +
      (layout.name === 'custom' ? '' : `; for a file in another layout, add a rule for it under ${OPTIONS_PREFIX}.files`);
    throw new InputFileError({ file, line }, problem, got, expected);
  }
  const used = new Set(index.values());
  const unused = fields.map((f, i) => (used.has(i) ? '' : f.trim())).filter((f) => f !== '');
  if (unused.length > 0) {
    // Snapshot files carry many columns this pipeline has no use for (Price, EBITDA, …): not worth a warning.
    const level = layout.name === 'canonical' ? 'warn' : 'debug';
    logger[level]({ file, columns: unused }, `${file}: ignoring column${unused.length > 1 ? 's' : ''} ${unused.join(', ')}, which layout ${layout.name} does not use`);
  }
  const positions = new Map([...index].map(([field, i]) => [field, i + 1]));
  return { width: fields.length, index, positions };
}

function shapeProblems(fields: readonly string[], header: HeaderMap, malformedQuotes: boolean): RejectProblem[] | undefined {
  if (malformedQuotes) {
    return [{ column: null, column_no: null, value: null, message: 'a stray double quote inside a field; quote the whole field and double any quote inside it' }];
  }
  const n = fields.length;
  if (n < header.width) {
    const absent = [...header.index].filter(([, i]) => i >= n).map(([field]) => field);
    return [
      {
        column: absent[0] ?? null,
        column_no: n + 1,
        value: null,
        message: `missing: the row has ${n} field${n === 1 ? '' : 's'}, the header has ${header.width}` + (absent.length > 0 ? ` (no value for ${absent.join(', ')})` : ''),
      },
    ];
  }
  if (n > header.width) {
    return [{ column: null, column_no: header.width + 1, value: fields[header.width] ?? null, message: `the row has ${n} fields, the header has ${header.width}` }];
  }
  return undefined;
}

/** Without a layout's own pattern, a name's date is its last YYYY-MM-DD or YYYYMMDD: caps_2025-02-01.csv, sp500-20250201.csv. */
const ANY_DATE_IN_NAME = /(\d{4}-\d{2}-\d{2}|\d{8})(?!.*(?:\d{4}-\d{2}-\d{2}|\d{8}))/;

/**
 * The name file rules and file-name dates look at: a file's own name, or for a URL the last
 * segment of its path (its local copy is named after a hash of the URL).
 */
export function sourceName(path: string, uri: string | undefined): string {
  if (uri !== undefined && /^https?:\/\//i.test(uri)) {
    try {
      const segment = new URL(uri).pathname.split('/').filter((p) => p !== '').pop() ?? '';
      return decodeURIComponent(segment);
    } catch {
      // not a URL after all: fall through to the path's name
    }
  }
  return basename(path);
}

/** The as-of date a file name carries, as YYYY-MM-DD (the capture may be YYYY-MM-DD or YYYYMMDD). */
export function asOfFromFileName(file: string, layout: ResolvedLayout, name = basename(file), optionOrigin?: string): string {
  // A custom layout's own pattern always; a built-in one's (the datahub's _YYYY-MM-DD.csv) only when the layout chose the name.
  const pattern = (optionOrigin === undefined || layout.name === 'custom' ? layout.asOfFromFileName : undefined) ?? ANY_DATE_IN_NAME;
  const m = pattern.exec(name);
  const where = optionOrigin
    ? optionOrigin
    : layout.name === 'custom'
      ? `${layout.origin}.as_of_from_filename`
      : `layout ${layout.name} (${layout.origin})`;
  if (!m) {
    throw new InputFileError(
      { file },
      `the file name does not carry the date that ${where} takes from it`,
      JSON.stringify(name),
      `a name matching /${pattern.source}/, e.g. constituents-financials_2025-02-01.csv; for a file whose name and rows carry no date ` +
        `(a publisher's latest list), date it by when it was fetched: ${OPTIONS_PREFIX}.files: [{ match: ${JSON.stringify(name)}, as_of_from: fetch_time }]`,
    );
  }
  const captured = m.groups?.as_of ?? m[1] ?? '';
  const parts = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(captured);
  if (!parts || !isRealDate(Number(parts[1]), Number(parts[2]), Number(parts[3]))) {
    throw new InputFileError({ file }, `the date in the file name is not a real date (${where})`, JSON.stringify(captured), 'YYYY-MM-DD or YYYYMMDD');
  }
  return `${parts[1]}-${parts[2]}-${parts[3]}`;
}

/** The calendar date, in a time zone, of an instant: YYYY-MM-DD. */
export function dateInZone(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const part = (type: string): string => parts.find((p) => p.type === type)!.value;
  return `${part('year')}-${part('month')}-${part('day')}`;
}

/**
 * The snapshot date a cap file takes from outside its rows: from its name, or from when its bytes
 * were fetched (the modification time of the local copy: a URL's download is written when it
 * arrives and kept as it is through 304s). Undefined: the rows carry it (a date column).
 */
async function impliedAsOf(path: string, file: string, name: string, plan: FilePlan): Promise<string | undefined> {
  const { layout, asOf } = plan;
  if (layout.kind !== 'cap') return undefined;
  switch (asOf.from) {
    case 'column':
      if (!layout.columns.some((c) => c.field === 'as_of')) {
        throw new InputFileError(
          { file },
          `${asOf.origin} takes the date from a column, but layout ${layout.name} (${layout.origin}) has no date column`,
          'as_of_from: column',
          'as_of_from: file_name or fetch_time, or a layout with a date column (canonical, or a custom layout with columns.as_of)',
        );
      }
      return undefined;
    case 'file_name':
      return asOfFromFileName(file, layout, name, layout.asOfFromFileName && asOf.origin === layout.origin ? undefined : asOf.origin);
    case 'fetch_time':
      return dateInZone((await stat(path)).mtime, asOf.timeZone);
  }
}

/**
 * A record of one CSV row. Its raw text is needed only when the row is rejected, so it is
 * written back from the fields on demand instead of for every row.
 */
class CsvRowRecord implements SourceRecord {
  readonly problems?: readonly RejectProblem[];

  constructor(
    readonly line: number,
    readonly fields: Readonly<Record<string, string | undefined>>,
    readonly positions: ReadonlyMap<string, number>,
    private readonly cells: readonly string[],
    private readonly delimiter: string,
    problems: readonly RejectProblem[] | undefined,
  ) {
    if (problems) this.problems = problems;
  }

  get rawText(): string {
    return Papa.unparse([this.cells as string[]], { delimiter: this.delimiter, newline: '\n' });
  }
}

export function indexConstituentsReader(runtime: PipelineRuntime<IndexOptions>, logger: Logger): RecordReader {
  const options = runtime.options;
  return {
    async read(path, sink, unit) {
      const name = sourceName(path, unit?.uri);
      // Messages name the URL a download came from, not its cached copy.
      const file = unit?.uri ?? path;
      const plan: FilePlan = planForFile(options, name);
      const { layout } = plan;
      const asOf = await impliedAsOf(path, file, name, plan);
      const implied: Record<string, string | undefined> =
        layout.kind === 'cap'
          ? { record_kind: 'cap', index_code: plan.index, market_cap_unit: plan.marketCapUnit === null ? undefined : String(plan.marketCapUnit) }
          : { record_kind: 'issuer' };
      const impliedNames = Object.keys(implied);
      const impliedValues = impliedNames.map((k) => implied[k]);
      logger.debug({ file, layout: layout.name, kind: layout.kind, index: plan.index, as_of: asOf }, `${file}: reading as layout ${layout.name}`);
      let header: HeaderMap | undefined;
      const result = await readCsvFile({
        file: path,
        delimiter: layout.delimiter,
        onHeader: (fields, line) => {
          header = mapHeader(file, layout, fields, line, logger);
        },
        onRows: async (rows) => {
          const map = header!;
          const positions = map.positions;
          const fieldNames = [...map.index.keys()];
          const fieldColumns = [...map.index.values()];
          const records: SourceRecord[] = new Array(rows.length);
          for (let r = 0; r < rows.length; r++) {
            const row = rows[r]!;
            const cells = row.fields;
            const fields: Record<string, string | undefined> = {};
            for (let k = 0; k < impliedNames.length; k++) fields[impliedNames[k]!] = impliedValues[k];
            for (let k = 0; k < fieldNames.length; k++) fields[fieldNames[k]!] = cells[fieldColumns[k]!];
            // A date from the name or the fetch wins over a date column the options chose not to use.
            if (asOf !== undefined) fields.as_of = asOf;
            const problems = cells.length === map.width && !row.malformedQuotes ? undefined : shapeProblems(cells, map, row.malformedQuotes);
            records[r] = new CsvRowRecord(row.line, fields, positions, cells, layout.delimiter, problems);
          }
          await sink(records);
        },
      });
      return { read: result.dataRows, skipped: 0 };
    },
  };
}

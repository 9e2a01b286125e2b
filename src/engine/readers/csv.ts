import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import Papa from 'papaparse';
import type { RejectProblem } from '../../db/tables/rejects.table.js';
import { InputFileError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { readCsvFile } from '../csv-reader.js';
import type { RecordReader, SourceRecord } from './types.js';

/**
 * Delimited text with a header line, read by column name (any order, case-insensitive).
 * Missing required columns fail the file; unknown columns are ignored with a warning;
 * a row with too few or too many fields is rejected.
 */

export interface CsvReaderOptions {
  readonly delimiter: string;
  readonly required: readonly string[];
  readonly optional: readonly string[];
  /** Names that mean the same column, e.g. { observation_date: 'date' } (source name → schema name). */
  readonly aliases?: Readonly<Record<string, string>>;
  readonly logger: Logger;
  readonly pipeline: string;
}

export function normaliseHeaderName(name: string): string {
  return name.replace(/^\uFEFF/, '').trim().toLowerCase();
}

interface HeaderMap {
  readonly names: readonly string[];
  readonly width: number;
  /** Schema column → index. */
  readonly index: ReadonlyMap<string, number>;
}

/** A header cell or line quoted back in a message: the first 60 characters, and the length when longer. */
export function quoteClipped(text: string, max = 60): string {
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, max - 3) + '...')} (${text.length} characters)`;
}

/**
 * A header that names a column twice (0-based positions `first` and `second`): which of the two
 * a row's value comes from would be a guess, so the file fails, naming both positions.
 */
export function duplicateColumnError(file: string, line: number, name: string, first: number, second: number): InputFileError {
  return new InputFileError({ file, line, column: second + 1 }, `the header names column ${quoteClipped(name)} twice`, `columns ${first + 1} and ${second + 1}`, 'each column once');
}

/** A list of header names quoted back in a message: at most 20 names of at most 60 characters. */
function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 20).map((n) => (n.length > 60 ? quoteClipped(n) : n));
  return shown.join(', ') + (names.length > 20 ? `, … (${names.length} columns)` : '');
}

function mapHeader(options: CsvReaderOptions, file: string, fields: readonly string[], line: number): HeaderMap {
  const names = fields.map((f) => {
    const n = normaliseHeaderName(f);
    return options.aliases?.[n] ?? n;
  });
  const index = new Map<string, number>();
  const expected =
    `columns ${options.required.join(', ')}` + (options.optional.length > 0 ? ` (optional: ${options.optional.join(', ')})` : '');
  names.forEach((name, i) => {
    if (name === '') {
      throw new InputFileError({ file, line, column: i + 1 }, 'the header has an empty column name', quoteClipped(fields.join(options.delimiter), 200), expected);
    }
    if (index.has(name)) throw duplicateColumnError(file, line, name, index.get(name)!, i);
    index.set(name, i);
  });
  const missing = options.required.filter((c) => !index.has(c));
  if (missing.length > 0) {
    // A header can be a 50 MB line: quote the start of it, not all of it.
    let got = names.length === 1 ? `the single column ${quoteClipped(fields[0] ?? '')}` : `columns ${listNames(names)}`;
    const other = [',', ';', '\t', '|'].find((d) => d !== options.delimiter && fields.length === 1 && (fields[0] ?? '').includes(d));
    if (other) got += ` (the header looks ${JSON.stringify(other)}-separated; this source expects ${JSON.stringify(options.delimiter)})`;
    throw new InputFileError({ file, line }, `the header lacks required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, got, expected);
  }
  const known = new Set([...options.required, ...options.optional]);
  const unused = names.filter((n) => !known.has(n));
  if (unused.length > 0) {
    options.logger.warn(
      { file, columns: unused.slice(0, 20) },
      `${file}: ignoring column${unused.length > 1 ? 's' : ''} ${listNames(unused)}, which pipeline ${options.pipeline} does not use`,
    );
  }
  return { names, width: names.length, index };
}

function shapeProblems(fields: readonly string[], header: HeaderMap, malformedQuotes: boolean): RejectProblem[] | undefined {
  if (malformedQuotes) {
    return [{ column: null, column_no: null, value: null, message: STRAY_QUOTE }];
  }
  const n = fields.length;
  if (n < header.width) {
    return [
      {
        column: header.names[n]!,
        column_no: n + 1,
        value: null,
        message: `missing: the row has ${n} field${n === 1 ? '' : 's'}, the header has ${header.width} (no value for ${header.names.slice(n).join(', ')})`,
      },
    ];
  }
  if (n > header.width) {
    return [{ column: null, column_no: header.width + 1, value: fields[header.width] ?? null, message: `the row has ${n} fields, the header has ${header.width}` }];
  }
  return undefined;
}

const STRAY_QUOTE = 'a stray double quote inside a field; quote the whole field and double any quote inside it';

/** A row with a stray quote that papaparse ran on into the lines after it, looking for a closing quote. */
interface Runaway {
  readonly first: number;
  readonly last: number;
}

function newlinesIn(fields: readonly string[]): number {
  let n = 0;
  for (const f of fields) for (let i = f.indexOf('\n'); i !== -1; i = f.indexOf('\n', i + 1)) n++;
  return n;
}

/** The physical lines `first`..`last` of each span, read again from the file. */
async function readLines(path: string, spans: readonly Runaway[]): Promise<Map<number, string>> {
  const wanted = new Set(spans.flatMap((s) => Array.from({ length: s.last - s.first + 1 }, (_, i) => s.first + i)));
  const last = Math.max(...wanted);
  const lines = new Map<number, string>();
  const reader = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const text of reader) {
    n++;
    if (wanted.has(n)) lines.set(n, text);
    if (n >= last) break;
  }
  reader.close();
  return lines;
}

export function csvReader(options: CsvReaderOptions): RecordReader {
  return {
    async read(path, sink) {
      let header: HeaderMap | undefined;
      let positions: ReadonlyMap<string, number> | undefined;
      const runaways: Runaway[] = [];
      const record = (line: number, row: readonly string[], malformedQuotes: boolean, rawText?: string): SourceRecord => {
        const map = header!;
        const fields: Record<string, string | undefined> = {};
        for (const [name, i] of map.index) fields[name] = row[i];
        const problems = shapeProblems(row, map, malformedQuotes);
        return {
          line,
          fields,
          positions,
          rawText: rawText ?? Papa.unparse([row as string[]], { delimiter: options.delimiter, newline: '\n' }),
          ...(problems ? { problems } : {}),
        };
      };
      const result = await readCsvFile({
        file: path,
        delimiter: options.delimiter,
        onHeader: (fields, line) => {
          header = mapHeader(options, path, fields, line);
          positions = new Map([...header.index].map(([name, i]) => [name, i + 1]));
        },
        onRows: async (rows) => {
          const records: SourceRecord[] = [];
          for (const row of rows) {
            // A stray quote that swallowed the lines after it: those lines are read again, one by one, below.
            const swallowed = row.malformedQuotes ? newlinesIn(row.fields) : 0;
            if (swallowed > 0) runaways.push({ first: row.line, last: row.line + swallowed });
            else records.push(record(row.line, row.fields, row.malformedQuotes));
          }
          if (records.length > 0) await sink(records);
        },
      });
      let read = result.dataRows;
      if (runaways.length > 0) {
        // The line with the stray quote is rejected; each line it swallowed is a row of its own again.
        const lines = await readLines(path, runaways);
        const records: SourceRecord[] = [];
        for (const span of runaways) {
          read--;
          for (let n = span.first; n <= span.last; n++) {
            const text = lines.get(n) ?? '';
            if (n > span.first && text.trim() === '') continue;
            read++;
            if (n === span.first) {
              records.push({ line: n, fields: {}, positions, rawText: text, problems: [{ column: null, column_no: null, value: null, message: STRAY_QUOTE }] });
              continue;
            }
            const parsed = Papa.parse<string[]>(text, { delimiter: options.delimiter, header: false, skipEmptyLines: false });
            const fields = parsed.data[0] ?? [''];
            const broken = parsed.errors.some((e) => e.code === 'InvalidQuotes' || e.code === 'MissingQuotes') || parsed.data.length > 1;
            records.push(record(n, fields, broken, text));
          }
        }
        await sink(records);
      }
      return { read, skipped: 0 };
    },
  };
}

import Papa from 'papaparse';
import { InputFileError, readCsvFile, type Logger, type PipelineRuntime, type RecordReader, type RejectProblem, type SourceRecord } from '../../src/sdk.js';
import type { ShillerLayout, ShillerOptions } from './options.js';
import { isWorkbook, readSheetRows } from './workbook.js';

/**
 * Shiller's monthly stock market data, in either of two layouts:
 *
 * shiller-xls     the "Data" sheet of Shiller's ie_data.xls, read from the workbook itself
 *                 (workbook.ts; told from a CSV by its bytes) or saved as CSV: a title band of
 *                 several rows, then the header row `Date,P,D,E,CPI,Fraction,Rate GS10,…,CAPE,…`,
 *                 one row per month with Date written as a decimal (1871.01; 1999.1 is
 *                 October 1999), D and E blank for the latest months, CAPE "NA" for the first
 *                 ten years, and a notes row or two after the last month.
 * datasets-sp500  github.com/datasets/s-and-p-500 data.csv: header
 *                 `Date,SP500,Dividend,Earnings,Consumer Price Index,Long Interest Rate,
 *                 Real Price,Real Dividend,Real Earnings,PE10`, ISO dates, and 0.0 for missing.
 *
 * Each month becomes one record with the fields below, as text; a missing value (blank,
 * NA, or 0.0 in the datasets layout) is left out, so it loads as NULL rather than being
 * rejected. Real values and CAPE are not read from the file: they are recomputed in SQL
 * (Shiller's own CAPE is kept as `cape_published`, to compare).
 *
 * Notes rows after the last month of a Shiller file are read and counted as skipped. A row
 * that is not a month but is followed by more months is rejected: it is in the data.
 */

export const SHILLER_FIELDS = ['month', 'price', 'dividend', 'earnings', 'cpi', 'gs10', 'cape_published'] as const;
type Field = (typeof SHILLER_FIELDS)[number];

interface LayoutSpec {
  readonly layout: ShillerLayout;
  /** Source column name (lower case) of each field. */
  readonly columns: Readonly<Record<Field, string>>;
  readonly required: readonly Field[];
  /** How the header reads, for messages. */
  readonly header: string;
}

const LAYOUTS: Readonly<Record<ShillerLayout, LayoutSpec>> = {
  'shiller-xls': {
    layout: 'shiller-xls',
    columns: { month: 'date', price: 'p', dividend: 'd', earnings: 'e', cpi: 'cpi', gs10: 'rate gs10', cape_published: 'cape' },
    required: ['month', 'price', 'earnings', 'cpi'],
    header: 'Date,P,D,E,CPI,Fraction,Rate GS10,Real Price,…,CAPE,… (Shiller ie_data "Data" sheet)',
  },
  'datasets-sp500': {
    layout: 'datasets-sp500',
    columns: {
      month: 'date',
      price: 'sp500',
      dividend: 'dividend',
      earnings: 'earnings',
      cpi: 'consumer price index',
      gs10: 'long interest rate',
      cape_published: 'pe10',
    },
    required: ['month', 'price', 'earnings', 'cpi'],
    header: 'Date,SP500,Dividend,Earnings,Consumer Price Index,Long Interest Rate,Real Price,Real Dividend,Real Earnings,PE10 (datasets/s-and-p-500)',
  },
};

/** Columns a layout has but this pipeline does not read (real values and CAPE are recomputed in SQL). */
const EXTRA_COLUMNS: Readonly<Record<ShillerLayout, readonly string[]>> = {
  'datasets-sp500': ['real price', 'real dividend', 'real earnings'],
  'shiller-xls': [],
};

interface Header {
  readonly spec: LayoutSpec;
  readonly line: number;
  readonly width: number;
  /** Field → 0-based column index (absent optional columns are missing). */
  readonly index: ReadonlyMap<Field, number>;
  readonly positions: ReadonlyMap<string, number>;
}

function normalise(cell: string | undefined): string {
  return (cell ?? '').replace(/^\uFEFF/, '').replace(/\s+/g, ' ').trim().toLowerCase();
}

function isBlankRow(fields: readonly string[]): boolean {
  return fields.every((f) => f.trim() === '');
}

/** The header this row is, if it is one: the first cell says Date and every required column is there. */
function matchHeader(fields: readonly string[], spec: LayoutSpec, line: number): Header | undefined {
  const names = fields.map(normalise);
  if (names[0] !== 'date') return undefined;
  const index = new Map<Field, number>();
  for (const field of SHILLER_FIELDS) {
    const i = names.indexOf(spec.columns[field]);
    if (i >= 0) index.set(field, i);
  }
  if (spec.required.some((f) => !index.has(f))) return undefined;
  const positions = new Map([...index].map(([field, i]) => [field as string, i + 1]));
  return { spec, line, width: fields.length, index, positions };
}

export type ShillerMonth = { readonly ok: true; readonly month: string } | { readonly ok: false; readonly reason: string };

/**
 * Shiller writes the month as a decimal YYYY.MM: 1871.01 is January 1871 and 1999.1 is
 * October 1999 (the spreadsheet drops the trailing zero of 1999.10). The month is the
 * fraction × 100, so a fraction that is not a whole number of hundredths is not a month.
 */
export function parseShillerMonth(text: string): ShillerMonth {
  const value = text.trim();
  const m = /^(\d{4})\.(\d+)$/.exec(value);
  if (!m) return { ok: false, reason: 'a month written YYYY.MM (1871.01 is January 1871, 1999.1 is October 1999)' };
  const hundredths = Number(`0.${m[2]}`) * 100;
  const month = Math.round(hundredths);
  if (Math.abs(hundredths - month) > 1e-6 || month < 1 || month > 12) {
    return { ok: false, reason: `a month written YYYY.MM with MM from 01 to 12 (${value} would be month ${Number(hundredths.toFixed(4))})` };
  }
  return { ok: true, month: `${m[1]}-${String(month).padStart(2, '0')}-01` };
}

/** Whether a Date cell is meant as a month at all (a number), as opposed to notes text. */
function looksNumeric(text: string): boolean {
  return /^[+-]?\d+(\.\d*)?$/.test(text.trim());
}

/** A value cell as the record carries it: undefined for a missing value. */
function valueOf(cell: string | undefined, layout: ShillerLayout): string | undefined {
  const value = (cell ?? '').trim();
  if (value === '' || /^(na|n\/a|#n\/a)$/i.test(value)) return undefined;
  // datasets/s-and-p-500 writes 0.0 for every value it does not have (everything but the
  // price after 2023-09); a zero price, dividend, earnings, CPI, yield or CAPE is never real there.
  if (layout === 'datasets-sp500' && /^[+-]?(0+(\.0*)?|\.0+)$/.test(value)) return undefined;
  return value;
}

function unparse(fields: readonly string[]): string {
  return Papa.unparse([fields as string[]], { delimiter: ',', newline: '\n' });
}

interface PendingRow {
  readonly line: number;
  readonly fields: readonly string[];
  readonly malformedQuotes?: boolean;
}

export function shillerReader(runtime: PipelineRuntime<ShillerOptions>, logger: Logger): RecordReader {
  const options = runtime.options;
  const candidates: readonly LayoutSpec[] = options.layout === 'auto' ? [LAYOUTS['datasets-sp500'], LAYOUTS['shiller-xls']] : [LAYOUTS[options.layout]];
  const expected = candidates.map((c) => c.header).join(' or ');

  return {
    async read(path, sink) {
      let header: Header | undefined;
      let firstLine: { line: number; fields: readonly string[] } | undefined;
      let scanned = 0;
      let read = 0;
      let skipped = 0;
      let pending: PendingRow[] = [];

      const headerNotFound = (line: number) => {
        const got = firstLine ? `first line ${JSON.stringify(unparse(firstLine.fields).slice(0, 160))}` : 'an empty file';
        // A first line that starts with Date is meant as a header: say which columns it lacks.
        const names = firstLine?.fields.map(normalise) ?? [];
        if (firstLine && names[0] === 'date') {
          const gaps = candidates
            .map((spec) => ({ spec, missing: spec.required.filter((f) => !names.includes(spec.columns[f])) }))
            .sort((a, b) => a.missing.length - b.missing.length);
          const best = gaps[0]!;
          const known = new Set([...Object.values(best.spec.columns), ...EXTRA_COLUMNS[best.spec.layout]]);
          const unknown = best.spec.layout === 'datasets-sp500' ? names.findIndex((n) => !known.has(n)) : -1;
          return new InputFileError(
            { file: path, line: firstLine.line, ...(unknown >= 0 ? { column: unknown + 1 } : {}) },
            `the header lacks required column(s) ${best.missing.map((f) => JSON.stringify(best.spec.columns[f])).join(', ')} of the ${best.spec.layout} layout` +
              (unknown >= 0 ? ` (column ${unknown + 1} is ${JSON.stringify(firstLine.fields[unknown])})` : ''),
            got,
            expected,
          );
        }
        return new InputFileError(
          { file: path, line: firstLine?.line ?? line },
          candidates.length === 1 && candidates[0]!.layout === 'datasets-sp500'
            ? 'the first line is not the datasets/s-and-p-500 header'
            : `no header row found in the first ${scanned} non-blank line(s)`,
          got,
          expected,
        );
      };

      /** Until the header is found, each non-blank row is checked against the layouts allowed. */
      const lookForHeader = (fields: readonly string[], line: number) => {
        scanned++;
        firstLine ??= { line, fields };
        for (const spec of candidates) {
          // The datasets layout has its header on the first line; Shiller's has a title band above it.
          if (spec.layout === 'datasets-sp500' && scanned > 1) continue;
          const found = matchHeader(fields, spec, line);
          if (found) {
            header = found;
            logger.debug({ file: path, layout: spec.layout, line }, `${path}: ${spec.layout} layout, header on line ${line}`);
            return;
          }
        }
        const onlyDatasets = candidates.every((c) => c.layout === 'datasets-sp500');
        if (onlyDatasets || scanned >= options.header_search_lines) throw headerNotFound(line);
      };

      const record = (row: PendingRow, h: Header, problems?: readonly RejectProblem[]): SourceRecord => {
        const fields: Record<string, string | undefined> = { layout: h.spec.layout };
        for (const field of SHILLER_FIELDS) {
          const i = h.index.get(field);
          fields[field] = i === undefined ? undefined : valueOf(row.fields[i], h.spec.layout);
        }
        return { line: row.line, fields, positions: h.positions, rawText: unparse(row.fields), ...(problems ? { problems } : {}) };
      };

      const notAMonth = (row: PendingRow, h: Header): SourceRecord => {
        const i = h.index.get('month')!;
        const cell = row.fields[i] ?? '';
        return record(row, h, [
          {
            column: 'month',
            column_no: i + 1,
            value: cell,
            message: `got ${JSON.stringify(cell)}, expected a month written YYYY.MM; only notes rows after the last month may hold anything else`,
          },
        ]);
      };

      /** One data row of the Shiller layout: a month, a bad month, or possibly a notes row. */
      const shillerRow = (row: PendingRow, h: Header, out: SourceRecord[]) => {
        const i = h.index.get('month')!;
        const cell = (row.fields[i] ?? '').trim();
        if (!looksNumeric(cell)) {
          // Notes rows come after the last month; until another month follows, this may be one.
          pending.push(row);
          return;
        }
        // A month follows, so the rows held back were inside the data after all.
        for (const p of pending) out.push(notAMonth(p, h));
        read += pending.length + 1;
        pending = [];
        const problems = shape(row, h);
        if (problems) {
          out.push(record(row, h, problems));
          return;
        }
        const parsed = parseShillerMonth(cell);
        if (!parsed.ok) {
          out.push(record(row, h, [{ column: 'month', column_no: i + 1, value: cell, message: `got ${JSON.stringify(cell)}, expected ${parsed.reason}` }]));
          return;
        }
        const rec = record(row, h);
        out.push({ ...rec, fields: { ...rec.fields, month: parsed.month } });
      };

      const handle = (rows: readonly PendingRow[]): SourceRecord[] => {
        const out: SourceRecord[] = [];
        for (const row of rows) {
          // A row of empty cells (an empty spreadsheet row saved as CSV) is a blank line.
          if (isBlankRow(row.fields)) continue;
          if (header === undefined) {
            lookForHeader(row.fields, row.line);
            continue;
          }
          if (header.spec.layout === 'shiller-xls') {
            shillerRow(row, header, out);
            continue;
          }
          read++;
          out.push(record(row, header, shape(row, header)));
        }
        return out;
      };

      if (await isWorkbook(path)) {
        // The workbook as published: its sheet's rows go through the same steps as a CSV export's.
        const sheetRows = await readSheetRows(path, options.sheet);
        for (let i = 0; i < sheetRows.length; i += 1000) {
          const out = handle(sheetRows.slice(i, i + 1000));
          if (out.length > 0) await sink(out);
        }
      } else {
        await readCsvFile({
          file: path,
          delimiter: ',',
          onHeader: (fields, line) => {
            // The engine's reader calls the first non-blank line the header; here it is only the
            // first row, and a header is found by lookForHeader (no records come before it).
            handle([{ line, fields }]);
          },
          onRows: async (rows) => {
            const out = handle(rows);
            if (out.length > 0) await sink(out);
          },
        });
      }

      if (header === undefined) throw headerNotFound(firstLine?.line ?? 1);
      if (pending.length > 0) {
        read += pending.length;
        skipped += pending.length;
        logger.info(
          { file: path, lines: pending.map((p) => p.line) },
          `${path}: ${pending.length} notes row(s) after the last month skipped (from line ${pending[0]!.line}: ${JSON.stringify(
            pending[0]!.fields.filter((f) => f.trim() !== '').join(' | ').slice(0, 100),
          )})`,
        );
      }
      return { read, skipped };
    },
  };
}

/** A row whose field count differs from the header's is rejected, as in every delimited source. */
function shape(row: PendingRow, header: Header): RejectProblem[] | undefined {
  const { fields } = row;
  if (row.malformedQuotes) {
    return [{ column: null, column_no: null, value: null, message: 'a stray double quote inside a field; quote the whole field and double any quote inside it' }];
  }
  if (fields.length === header.width) return undefined;
  // Spreadsheet exports often drop trailing empty cells; that alone is not a problem.
  if (fields.length < header.width) {
    const needed = Math.max(...header.index.values()) + 1;
    if (fields.length >= needed) return undefined;
    return [{ column: null, column_no: fields.length + 1, value: null, message: `missing: the row has ${fields.length} field(s), the header has ${header.width}` }];
  }
  const extra = fields.slice(header.width);
  if (extra.every((f) => f.trim() === '')) return undefined;
  return [{ column: null, column_no: header.width + 1, value: fields[header.width] ?? null, message: `the row has ${fields.length} fields, the header has ${header.width}` }];
}

import { open, readFile } from 'node:fs/promises';
import Papa from 'papaparse';
import {
  InputFileError,
  quoteClipped,
  readCsvFile,
  type Logger,
  type PipelineRuntime,
  type ReadSummary,
  type RecordReader,
  type RecordSink,
  type RejectProblem,
  type SourceRecord,
  type ReadUnit,
} from '../../src/sdk.js';

/**
 * FRED CSV downloads. The header names the date column and then one column per series,
 * named by its series ID:
 *
 *   observation_date,GDP            current downloads (fredgraph.csv)
 *   DATE,GDP                        legacy downloads and ALFRED
 *   observation_date,GDP,NCBEILQ027S  several series in one download
 *
 * Each (line, series) cell is one record: { series_id, date, value }. A missing value —
 * "." (legacy) or empty (current) — is FRED's way of saying there is no observation for
 * that date (a market holiday, a quarter not yet published); it is counted as read and
 * skipped, not stored, so "the latest value" of a series is always a number.
 */

const DATE_COLUMNS = new Set(['observation_date', 'date']);
const SERIES_ID = /^[A-Za-z0-9][A-Za-z0-9_]*$/;
const EXPECTED = 'observation_date,<SERIES_ID>[,<SERIES_ID>…] (FRED CSV; legacy files: DATE,<SERIES_ID>)';

interface Header {
  readonly series: readonly string[];
  readonly width: number;
}

function readHeader(path: string, fields: readonly string[], line: number): Header {
  const cells = fields.map((f) => f.replace(/^\uFEFF/, '').trim());
  const got = JSON.stringify(cells.join(',').slice(0, 120));
  if (!DATE_COLUMNS.has((cells[0] ?? '').toLowerCase())) {
    throw new InputFileError({ file: path, line, column: 1 }, `the header does not start with a date column (observation_date or DATE); column 1 is ${quoteClipped(cells[0] ?? '')}`, got, EXPECTED);
  }
  if (cells.length < 2) {
    throw new InputFileError({ file: path, line, column: 2 }, 'the header names no series column', got, EXPECTED);
  }
  const series: string[] = [];
  cells.slice(1).forEach((cell, i) => {
    const column = i + 2;
    if (!SERIES_ID.test(cell)) {
      throw new InputFileError({ file: path, line, column }, `column ${column} of the header is not a FRED series ID: ${quoteClipped(cell)}`, got, EXPECTED);
    }
    const id = cell.toUpperCase();
    if (series.includes(id)) {
      throw new InputFileError({ file: path, line, column }, `the header names series ${id} twice`, got, 'each series once');
    }
    series.push(id);
  });
  return { series, width: cells.length };
}

function unparse(fields: readonly string[]): string {
  return Papa.unparse([fields as string[]], { delimiter: ',', newline: '\n' });
}

/**
 * FRED API (api.stlouisfed.org/fred/series/observations?series_id=…&file_type=json, with an API
 * key): { …, "observations": [{ "realtime_start", "realtime_end", "date", "value" }, …] }. The
 * body does not name its series: the series_id of the URL it came from does. "." is a missing value.
 */
const API_EXPECTED = '{ "observations": [{ "date": "YYYY-MM-DD", "value": "…" }, …] } (FRED API series/observations, file_type=json)';

async function startsWithBrace(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64), 0, 64, 0);
    return /^(\uFEFF)?\s*\{/.test(buffer.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await handle.close();
  }
}

async function readApiJson(path: string, sink: RecordSink, unit: ReadUnit | undefined, logger: Logger): Promise<ReadSummary> {
  let seriesId: string | null = null;
  try {
    seriesId = unit ? new URL(unit.uri).searchParams.get('series_id') : null;
  } catch {
    seriesId = null;
  }
  if (seriesId === null || !SERIES_ID.test(seriesId)) {
    throw new InputFileError(
      { file: unit?.uri ?? path },
      'a FRED API JSON body names no series; the series comes from the series_id of its URL',
      JSON.stringify(unit?.uri ?? path),
      'a URL with series_id=<SERIES_ID>, e.g. https://api.stlouisfed.org/fred/series/observations?series_id={series}&file_type=json',
    );
  }
  const id = seriesId.toUpperCase();
  let body: unknown;
  try {
    body = JSON.parse((await readFile(path, 'utf8')).replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new InputFileError({ file: path }, `not valid JSON: ${(error as Error).message}`, undefined, API_EXPECTED);
  }
  const observations = (body as { observations?: unknown }).observations;
  if (!Array.isArray(observations)) {
    throw new InputFileError({ file: path }, 'the body has no "observations" array', quoteClipped(Object.keys(body as object).join(', ')), API_EXPECTED);
  }
  const records: SourceRecord[] = [];
  let skipped = 0;
  observations.forEach((o: unknown, i) => {
    const { date, value } = (o ?? {}) as { date?: unknown; value?: unknown };
    const rawText = JSON.stringify(o);
    const text = typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : undefined;
    if (text === '.' || text === '') {
      skipped++;
      return;
    }
    records.push({
      line: i + 1,
      locator: `observations[${i}]`,
      fields: { series_id: id, date: typeof date === 'string' ? date : undefined, value: text },
      rawText,
    });
  });
  if (records.length > 0) await sink(records);
  if (skipped > 0) logger.debug({ file: path, missing: { [id]: skipped } }, `${path}: ${skipped} missing value(s) (".") skipped: ${id} ${skipped}`);
  return { read: observations.length, skipped };
}

export function fredReader(_runtime: PipelineRuntime, logger: Logger): RecordReader {
  return {
    async read(path, sink, unit) {
      if (await startsWithBrace(path)) return readApiJson(path, sink, unit, logger);
      let header: Header | undefined;
      let read = 0;
      let skipped = 0;
      const missingBySeries = new Map<string, number>();
      await readCsvFile({
        file: path,
        delimiter: ',',
        onHeader: (fields, line) => {
          header = readHeader(path, fields, line);
        },
        onRows: async (rows) => {
          const h = header!;
          const records: SourceRecord[] = [];
          for (const row of rows) {
            const rawText = unparse(row.fields);
            const date = row.fields[0];
            let problems: RejectProblem[] | undefined;
            if (row.malformedQuotes) {
              problems = [{ column: null, column_no: null, value: null, message: 'a stray double quote inside a field' }];
            } else if (row.fields.length > h.width) {
              problems = [{ column: null, column_no: h.width + 1, value: row.fields[h.width] ?? null, message: `the row has ${row.fields.length} fields, the header has ${h.width}` }];
            }
            h.series.forEach((seriesId, i) => {
              read++;
              const column = i + 2;
              const positions = new Map([
                ['date', 1],
                ['value', column],
              ]);
              if (problems) {
                records.push({ line: row.line, fields: { series_id: seriesId, date, value: row.fields[column - 1] }, positions, rawText, problems });
                return;
              }
              if (row.fields.length < column) {
                records.push({
                  line: row.line,
                  fields: { series_id: seriesId, date },
                  positions,
                  rawText,
                  problems: [{ column: 'value', column_no: column, value: null, message: `missing: the row has ${row.fields.length} field(s), the header has ${h.width} (no value for ${seriesId})` }],
                });
                return;
              }
              const value = (row.fields[column - 1] ?? '').trim();
              if (value === '' || value === '.') {
                skipped++;
                missingBySeries.set(seriesId, (missingBySeries.get(seriesId) ?? 0) + 1);
                return;
              }
              records.push({ line: row.line, fields: { series_id: seriesId, date, value }, positions, rawText });
            });
          }
          if (records.length > 0) await sink(records);
        },
      });
      if (missingBySeries.size > 0) {
        logger.debug(
          { file: path, missing: Object.fromEntries(missingBySeries) },
          `${path}: ${skipped} missing value(s) ("." or empty) skipped: ${[...missingBySeries].map(([s, n]) => `${s} ${n}`).join(', ')}`,
        );
      }
      return { read, skipped };
    },
  };
}

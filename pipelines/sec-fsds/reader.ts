import { duplicateColumnError, InputFileError, isRealDate, normaliseHeaderName, quoteClipped, readCsvFile, type Logger, type PipelineRuntime, type RecordReader, type RejectProblem, type SourceRecord } from '../../src/sdk.js';
import { companyView, type CompanyConfig } from '../shared/companies.js';
import { FISCAL_YEAR_EXPECTED, fiscalYear } from '../shared/company-facts-row.js';
import { openDataset, type ArchiveLimits } from './dataset.js';

/**
 * SEC Financial Statement Data Sets (www.sec.gov/dera/data/financial-statement-data-sets):
 * per quarter, sub.txt (one row per filing: adsh, cik, form, fy, fp, filed, …) and num.txt
 * (one row per value: adsh, tag, version, ddate, qtrs, uom, value, …), tab-separated with a
 * header, no quoting. Columns are found by header name: num.txt gained a `segments` column in
 * 2025. A quarter's num.txt has millions of rows; it is streamed, and only rows of configured
 * companies and tags, with empty segments and coreg (the consolidated entity), become records.
 * Everything else is counted as read and skipped.
 *
 * num.txt dates are period ends rounded to a month end (ddate) with a duration in quarters
 * (qtrs: 0 = an instant, 1 = a quarter, 4 = a year); the period start is derived from both.
 *
 * A filing's fy and filed come from its sub.txt row and are checked there: when one is out of
 * range, each of the filing's facts is rejected with a reason naming the sub.txt line and column
 * (never a database error that fails the run). A header that names a column twice fails the file.
 */

interface Submission {
  readonly cik: number;
  readonly company: CompanyConfig;
  readonly form: string;
  readonly fy: string;
  readonly fp: string;
  readonly filed: string;
  /** What is wrong with the filing's sub.txt row; each of its facts is rejected with these. */
  readonly problems: readonly RejectProblem[];
}

const NUM_REQUIRED = ['adsh', 'tag', 'version', 'ddate', 'qtrs', 'uom', 'value'] as const;
const SUB_REQUIRED = ['adsh', 'cik', 'form', 'fy', 'fp', 'filed'] as const;
const BATCH = 5000;

function isoFromCompact(yyyymmdd: string): string {
  return /^\d{8}$/.test(yyyymmdd) ? `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}` : yyyymmdd;
}

/** First day of the period that ends in ddate's month and lasts `qtrs` quarters. */
export function periodStart(ddate: string, qtrs: number): string | undefined {
  if (!/^\d{8}$/.test(ddate) || qtrs <= 0) return undefined;
  const year = Number(ddate.slice(0, 4));
  const month = Number(ddate.slice(4, 6)); // 1-based
  const first = new Date(Date.UTC(year, month - 1 - (3 * qtrs - 1), 1));
  return first.toISOString().slice(0, 10);
}

/** A sub.txt date (YYYYMMDD) as YYYY-MM-DD, or what was expected of it. */
function compactDate(raw: string): { readonly iso: string } | { readonly expected: string } {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(raw.trim());
  if (!m) return { expected: 'a date written YYYYMMDD' };
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!isRealDate(year, month, day)) return { expected: 'a real calendar date written YYYYMMDD' };
  if (year < 1800 || year > 2200) return { expected: 'a date written YYYYMMDD with a year from 1800 to 2200' };
  return { iso: `${m[1]}-${m[2]}-${m[3]}` };
}

function headerIndex(file: string, fields: readonly string[], line: number, required: readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  fields.forEach((field, i) => {
    const name = normaliseHeaderName(field);
    const first = index.get(name);
    if (first !== undefined) throw duplicateColumnError(file, line, name, first, i);
    index.set(name, i);
  });
  const missing = required.filter((c) => !index.has(c));
  if (missing.length > 0) {
    throw new InputFileError(
      { file, line },
      `the header lacks required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      `columns ${fields.join(', ')}`,
      `tab-separated columns including ${required.join(', ')}`,
    );
  }
  return index;
}

/** Record field → its 1-based column in num.txt, so a reject says which column of the file was wrong. */
function numPositions(index: ReadonlyMap<string, number>): ReadonlyMap<string, number> {
  const at = (column: string) => index.get(column)! + 1;
  return new Map([
    ['accn', at('adsh')],
    ['tag', at('tag')],
    ['taxonomy', at('version')],
    ['end', at('ddate')],
    ['qtrs', at('qtrs')],
    ['unit', at('uom')],
    ['val', at('value')],
  ]);
}

export function fsdsReader(runtime: PipelineRuntime, logger: Logger): RecordReader {
  const limits = (runtime.shared.archives ?? { max_uncompressed_bytes: 8 * 1024 ** 3, max_expansion_ratio: 200 }) as ArchiveLimits;
  const view = companyView(runtime);
  return {
    async read(path, sink) {
      const dataset = await openDataset(path, limits);
      try {
        dataset.require(['sub.txt', 'num.txt']);
        const submissions = await readSubmissions(`${dataset.label}:sub.txt`, () => dataset.open('sub.txt'), view.byCik);
        logger.debug({ file: path, filings: submissions.size }, `${path}: ${submissions.size} filing(s) of configured companies in sub.txt`);

        const label = `${dataset.label}:num.txt`;
        const stream = await dataset.open('num.txt');
        let index: Map<string, number> | undefined;
        let positions: ReadonlyMap<string, number> | undefined;
        let width = 0;
        let skipped = 0;
        const result = await readCsvFile({
          file: label,
          open: () => stream,
          delimiter: '\t',
          quoting: false,
          onHeader: (fields, line) => {
            index = headerIndex(label, fields, line, NUM_REQUIRED);
            positions = numPositions(index);
            width = fields.length;
          },
          onRows: async (rows) => {
            const ix = index!;
            const at = (name: string) => ix.get(name);
            const [iAdsh, iTag, iVersion, iDdate, iQtrs, iUom, iValue] = NUM_REQUIRED.map((c) => at(c)!) as [number, number, number, number, number, number, number];
            const iSegments = at('segments');
            const iCoreg = at('coreg');
            const batch: SourceRecord[] = [];
            for (const row of rows) {
              const f = row.fields;
              const submission = submissions.get(f[iAdsh] ?? '');
              if (!submission) {
                skipped++;
                continue;
              }
              if ((iSegments !== undefined && (f[iSegments] ?? '') !== '') || (iCoreg !== undefined && (f[iCoreg] ?? '') !== '')) {
                skipped++;
                continue;
              }
              const version = f[iVersion] ?? '';
              const taxonomy = version.includes('/') ? version.slice(0, version.indexOf('/')) : 'custom';
              const tag = f[iTag] ?? '';
              if (!view.tagsOf(submission.company).has(`${taxonomy}:${tag}`)) {
                skipped++;
                continue;
              }
              const ddate = f[iDdate] ?? '';
              const qtrsText = f[iQtrs] ?? '';
              const qtrs = Number(qtrsText);
              const problems: RejectProblem[] =
                f.length !== width ? [{ column: null, column_no: Math.min(f.length, width) + 1, value: null, message: `the row has ${f.length} fields, the header has ${width}` }] : [];
              problems.push(...submission.problems);
              batch.push({
                line: row.line,
                locator: 'num.txt',
                rawText: f.join('\t'),
                positions,
                ...(problems.length > 0 ? { problems } : {}),
                fields: {
                  cik: String(submission.cik),
                  taxonomy,
                  tag,
                  unit: f[iUom],
                  start: Number.isInteger(qtrs) ? periodStart(ddate, qtrs) : undefined,
                  end: isoFromCompact(ddate),
                  val: f[iValue],
                  accn: f[iAdsh],
                  fy: submission.fy || undefined,
                  fp: submission.fp || undefined,
                  form: submission.form,
                  filed: submission.filed,
                  qtrs: qtrsText,
                },
              });
              if (batch.length >= BATCH) {
                await sink(batch.splice(0));
              }
            }
            if (batch.length > 0) await sink(batch);
          },
        });
        return { read: result.dataRows, skipped };
      } finally {
        dataset.close();
      }
    },
  };
}

async function readSubmissions(
  label: string,
  open: () => Promise<NodeJS.ReadableStream>,
  companies: ReadonlyMap<number, CompanyConfig>,
): Promise<Map<string, Submission>> {
  const stream = await open();
  const submissions = new Map<string, Submission>();
  let index: Map<string, number> | undefined;
  await readCsvFile({
    file: label,
    open: () => stream,
    delimiter: '\t',
    quoting: false,
    onHeader: (fields, line) => {
      index = headerIndex(label, fields, line, SUB_REQUIRED);
    },
    onRows: async (rows) => {
      const ix = index!;
      const get = (f: readonly string[], c: string) => f[ix.get(c)!] ?? '';
      for (const row of rows) {
        const cik = Number(get(row.fields, 'cik'));
        const company = companies.get(cik);
        if (!company) continue;
        const adsh = get(row.fields, 'adsh');
        const problems: RejectProblem[] = [];
        // Where a value came from, for a reason given on a num.txt row.
        const from = (column: string) => `(sub.txt line ${row.line} column ${ix.get(column)! + 1}, filing ${adsh})`;
        const fy = get(row.fields, 'fy');
        if (fy.trim() !== '' && fiscalYear(fy) === undefined) {
          problems.push({ column: 'fy', column_no: null, value: fy, message: `got ${quoteClipped(fy)} ${from('fy')}, expected ${FISCAL_YEAR_EXPECTED}` });
        }
        const filedText = get(row.fields, 'filed');
        const filed = compactDate(filedText);
        if ('expected' in filed) {
          problems.push({ column: 'filed', column_no: null, value: filedText, message: `got ${quoteClipped(filedText)} ${from('filed')}, expected ${filed.expected}` });
        }
        submissions.set(adsh, {
          cik,
          company,
          form: get(row.fields, 'form'),
          fy,
          fp: get(row.fields, 'fp'),
          filed: 'iso' in filed ? filed.iso : filedText,
          problems,
        });
      }
    },
  });
  return submissions;
}

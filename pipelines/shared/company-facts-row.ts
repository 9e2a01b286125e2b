import { z } from 'zod';
import { code, decimal, isoDate, optional, quoteClipped, RowRejection, rowSchema, text, type CopyValue, type PipelineRuntime } from '../../src/sdk.js';
import { companyView } from './companies.js';

/**
 * The fields every SEC fact has, whichever SEC source it comes from (companyfacts JSON or
 * the financial statement data sets), and how such a fact lands in raw.company_facts.
 */

const accession = () =>
  z.string().transform((raw, ctx) => {
    const value = raw.trim();
    if (!/^\d{10}-\d{2}-\d{6}$/.test(value)) {
      ctx.addIssue({ code: 'custom', message: `got ${JSON.stringify(value)}, expected an accession number like 0000950170-24-118967`, input: raw });
      return z.NEVER;
    }
    return value;
  });

const positiveInteger = (what: string) =>
  z.string().transform((raw, ctx) => {
    const value = raw.trim();
    if (!/^\d{1,10}$/.test(value) || Number(value) === 0) {
      ctx.addIssue({ code: 'custom', message: `got ${JSON.stringify(raw)}, expected ${what}`, input: raw });
      return z.NEVER;
    }
    return Number(value);
  });

/** What a fiscal year must be: raw.company_facts.fiscal_year is an integer, and fiscal years are near today's. */
export const FISCAL_YEAR_EXPECTED = 'a fiscal year such as 2025 (a whole number from 1800 to 2200)';

/** The fiscal year `raw` holds, or undefined when it is not one (2147483648 would not even fit the column). */
export function fiscalYear(raw: string): number | undefined {
  const value = raw.trim();
  if (!/^\d{4}$/.test(value)) return undefined;
  const year = Number(value);
  return year >= 1800 && year <= 2200 ? year : undefined;
}

const fiscalYearField = () =>
  z.string().transform((raw, ctx) => {
    const year = fiscalYear(raw);
    if (year === undefined) {
      ctx.addIssue({ code: 'custom', message: `got ${quoteClipped(raw)}, expected ${FISCAL_YEAR_EXPECTED}`, input: raw });
      return z.NEVER;
    }
    return year;
  });

/** FSDS qtrs: the duration in quarters, 0 for a balance at a date (raw.company_facts.duration_quarters is a smallint). */
const quarters = () =>
  z.string().transform((raw, ctx) => {
    const value = raw.trim();
    if (!/^\d{1,2}$/.test(value)) {
      ctx.addIssue({ code: 'custom', message: `got ${quoteClipped(raw)}, expected a whole number of quarters from 0 to 99 (0 for a balance at a date)`, input: raw });
      return z.NEVER;
    }
    return Number(value);
  });

export const secFactRow = rowSchema({
  cik: positiveInteger('a CIK (a positive whole number)'),
  taxonomy: code({ max: 40 }),
  tag: code({ max: 255 }),
  unit: code({ max: 40 }),
  start: optional(isoDate()),
  end: isoDate(),
  val: decimal(),
  accn: accession(),
  fy: optional(fiscalYearField()),
  fp: optional(code({ max: 4 })),
  form: text({ max: 20 }),
  filed: isoDate(),
  frame: optional(code({ max: 20 })),
  qtrs: optional(quarters()),
});

export type SecFact = z.output<typeof secFactRow.schema>;

export const COMPANY_FACT_COLUMNS = [
  'source_kind',
  'cik',
  'ticker',
  'taxonomy',
  'tag',
  'metric',
  'unit',
  'period_start',
  'period_end',
  'duration_quarters',
  'value',
  'accession',
  'form',
  'filed',
  'fiscal_year',
  'fiscal_period',
  'frame',
  'note',
] as const;

export function secFactValues(kind: 'sec-companyfacts' | 'sec-fsds') {
  return (row: SecFact, runtime: PipelineRuntime): readonly CopyValue[] | null => {
    if (!companyView(runtime).byCik.has(row.cik)) return null;
    if (row.start !== undefined && row.start > row.end) {
      throw new RowRejection('start', row.start, `got start ${row.start} after end ${row.end}, expected a period whose start is on or before its end`);
    }
    if (row.filed < row.end) {
      // A fact cannot be filed before its period ends.
      throw new RowRejection('filed', row.filed, `got a filing date ${row.filed} before the period end ${row.end}, expected a date on or after it`);
    }
    return [
      kind,
      row.cik,
      null,
      row.taxonomy,
      row.tag,
      null,
      row.unit,
      row.start ?? null,
      row.end,
      row.qtrs ?? null,
      row.val,
      row.accn,
      row.form,
      row.filed,
      row.fy ?? null,
      row.fp ?? null,
      row.frame ?? null,
      null,
    ];
  };
}


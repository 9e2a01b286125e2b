import { z } from 'zod';

/**
 * zod schemas for the string fields of a source row. Each takes the text exactly as read
 * and either returns a clean value or reports what it got and what it expected, so that a
 * reject says, for example: column 'date': got "2025-02-30", expected a real calendar date YYYY-MM-DD.
 *
 * Numbers stay text: a decimal such as 392000000000 or 31462.523 goes to a numeric column
 * exactly as written, never through a binary float.
 */

function show(value: string): string {
  const clipped = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(clipped);
}

function fail(ctx: z.RefinementCtx, got: string, expected: string): never {
  ctx.addIssue({ code: 'custom', message: `got ${show(got)}, expected ${expected}`, input: got });
  return z.NEVER as never;
}

/** Non-empty text, trimmed, at most `max` characters, no control characters PostgreSQL cannot store. */
export function text(options: { readonly max?: number } = {}) {
  const max = options.max ?? 500;
  return z.string().transform((raw, ctx) => {
    const value = raw.trim();
    if (value === '') return fail(ctx, raw, 'a non-empty value');
    if (value.includes('\u0000')) return fail(ctx, raw, 'text without NUL bytes');
    if (value.length > max) return fail(ctx, raw, `at most ${max} characters (got ${value.length})`);
    return value;
  });
}

/** An identifier-like code: letters, digits and . _ - / & (series ids, tickers, subjects). */
export function code(options: { readonly max?: number } = {}) {
  const max = options.max ?? 100;
  return z.string().transform((raw, ctx) => {
    const value = raw.trim();
    if (value === '') return fail(ctx, raw, 'a non-empty value');
    if (value.length > max) return fail(ctx, raw, `at most ${max} characters`);
    if (!/^[\p{L}\p{N}][\p{L}\p{N} ._&/-]*$/u.test(value)) {
      return fail(ctx, raw, 'letters, digits, spaces and . _ - / & only');
    }
    return value;
  });
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isRealDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day <= days;
}

/** A calendar date written YYYY-MM-DD, between 1800 and 2200, that exists. */
export function isoDate() {
  return z.string().transform((raw, ctx) => {
    const value = raw.trim();
    const m = ISO_DATE.exec(value);
    if (!m) return fail(ctx, raw, 'a date written YYYY-MM-DD');
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!isRealDate(year, month, day)) return fail(ctx, raw, 'a real calendar date YYYY-MM-DD');
    if (year < 1800 || year > 2200) return fail(ctx, raw, 'a year between 1800 and 2200');
    return value;
  });
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?$/;

/**
 * A finite decimal number: 123, -4.5, .5, 1.2e9. Rejects thousands separators, currency
 * signs, percent signs, NaN and Infinity with a message that says which.
 */
export function decimal() {
  return z.string().transform((raw, ctx) => {
    const value = raw.trim();
    if (value === '') return fail(ctx, raw, 'a number');
    if (!DECIMAL.test(value)) {
      let expected = 'a plain decimal number such as 1234.5 or 1.2e9';
      if (/^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(value)) expected += ' (no thousands separators)';
      else if (/[$€£¥]/.test(value)) expected += ' (no currency signs; put the currency in the unit column)';
      else if (/%$/.test(value)) expected += ' (no percent sign; put "pct" in the unit column)';
      else if (/^[+-]?(nan|inf(inity)?)$/i.test(value)) expected = 'a finite number';
      return fail(ctx, raw, expected);
    }
    const n = Number(value);
    if (!Number.isFinite(n)) return fail(ctx, raw, 'a finite number within ±1e308');
    return value.startsWith('+') ? value.slice(1) : value;
  });
}

/** Wrap a field so that an absent column or an empty cell is `undefined` instead of an error. */
export function optional<T extends z.ZodType<unknown, string>>(field: T) {
  return z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw.trim() === '' ? undefined : raw))
    .pipe(field.optional());
}

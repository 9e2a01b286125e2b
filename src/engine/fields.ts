import { z } from 'zod';

/**
 * zod schemas for the string fields of a source row. Each takes the text exactly as read
 * and either returns a clean value or reports what it got and what it expected, so that a
 * reject says, for example: column 'date': got "2025-02-30", expected a real calendar date YYYY-MM-DD.
 *
 * Numbers stay text: a decimal such as 392000000000 or 31462.523 goes to a numeric column
 * exactly as written, never through a binary float.
 *
 * Each field also has a fast twin (see `fastRowParser`): the same check as a plain function,
 * which the loader runs on every row instead of zod's machinery. Both call the same check
 * function below, so they accept the same text and give the same value; zod is asked only
 * for a row the fast twin refuses, for its message.
 */

function show(value: string): string {
  const clipped = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(clipped);
}

/** What a check expected, when the text is not acceptable. */
class Expected {
  constructor(readonly expected: string) {}
}

/** A field's check: the clean value, or what was expected. */
type Check<T> = (raw: string) => T | Expected;

/** Marks a value that a fast check refused. */
export const INVALID: unique symbol = Symbol('invalid');
export type FastCheck = (raw: unknown) => unknown;

const fastChecks = new WeakMap<z.ZodType, FastCheck>();

/**
 * Register a plain-function twin of a zod field: for every input it must return what the
 * schema's parse returns, or INVALID where the schema fails. Fields without a twin make
 * their rows go through zod.
 */
export function withFastCheck<T extends z.ZodType>(schema: T, check: FastCheck): T {
  fastChecks.set(schema, check);
  return schema;
}

/** A zod string field and its fast twin, from one check. */
function field<T>(check: Check<T>) {
  const schema = z.string().transform((raw, ctx) => {
    const value = check(raw);
    if (value instanceof Expected) {
      ctx.addIssue({ code: 'custom', message: `got ${show(raw)}, expected ${value.expected}`, input: raw });
      return z.NEVER;
    }
    return value as T;
  });
  return withFastCheck(schema, (raw) => {
    if (typeof raw !== 'string') return INVALID;
    const value = check(raw);
    return value instanceof Expected ? INVALID : value;
  });
}

/** Non-empty text, trimmed, at most `max` characters, no control characters PostgreSQL cannot store. */
export function text(options: { readonly max?: number } = {}) {
  const max = options.max ?? 500;
  return field((raw) => {
    const value = raw.trim();
    if (value === '') return new Expected('a non-empty value');
    if (value.includes('\u0000')) return new Expected('text without NUL bytes');
    if (value.length > max) return new Expected(`at most ${max} characters (got ${value.length})`);
    return value;
  });
}

const CODE = /^[\p{L}\p{N}][\p{L}\p{N} ._&/-]*$/u;

/** An identifier-like code: letters, digits and . _ - / & (series ids, tickers, subjects). */
export function code(options: { readonly max?: number } = {}) {
  const max = options.max ?? 100;
  return field((raw) => {
    const value = raw.trim();
    if (value === '') return new Expected('a non-empty value');
    if (value.length > max) return new Expected(`at most ${max} characters`);
    if (!CODE.test(value)) return new Expected('letters, digits, spaces and . _ - / & only');
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
  // Files repeat one date on thousands of rows: remember the last date that passed.
  let lastGood: string | undefined;
  return field((raw) => {
    const value = raw.trim();
    if (value === lastGood) return value;
    const m = ISO_DATE.exec(value);
    if (!m) return new Expected('a date written YYYY-MM-DD');
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!isRealDate(year, month, day)) return new Expected('a real calendar date YYYY-MM-DD');
    if (year < 1800 || year > 2200) return new Expected('a year between 1800 and 2200');
    lastGood = value;
    return value;
  });
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?$/;

/** PostgreSQL's numeric keeps at most 16383 digits after the decimal point; more fails the whole COPY. */
const MAX_NUMERIC_SCALE = 16383;

/** Digits after the decimal point of a DECIMAL text once its exponent is applied (1.25e-3 → 5). */
function decimalScale(value: string): number {
  const e = value.search(/[eE]/);
  const mantissa = e === -1 ? value : value.slice(0, e);
  const point = mantissa.indexOf('.');
  const fraction = point === -1 ? 0 : mantissa.length - point - 1;
  return fraction - (e === -1 ? 0 : Number(value.slice(e + 1)));
}

/**
 * A finite decimal number: 123, -4.5, .5, 1.2e9. Rejects thousands separators, currency
 * signs, percent signs, NaN and Infinity with a message that says which, and a number that
 * PostgreSQL's numeric cannot hold (more than 16383 digits after the decimal point).
 */
export function decimal() {
  return field((raw) => {
    const value = raw.trim();
    if (value === '') return new Expected('a number');
    if (!DECIMAL.test(value)) {
      let expected = 'a plain decimal number such as 1234.5 or 1.2e9';
      if (/^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(value)) expected += ' (no thousands separators)';
      else if (/[$€£¥]/.test(value)) expected += ' (no currency signs; put the currency in the unit column)';
      else if (/%$/.test(value)) expected += ' (no percent sign; put "pct" in the unit column)';
      else if (/^[+-]?(nan|inf(inity)?)$/i.test(value)) expected = 'a finite number';
      return new Expected(expected);
    }
    const n = Number(value);
    if (!Number.isFinite(n)) return new Expected('a finite number within ±1e308');
    if (decimalScale(value) > MAX_NUMERIC_SCALE) return new Expected(`a number with at most ${MAX_NUMERIC_SCALE} digits after the decimal point`);
    return value.startsWith('+') ? value.slice(1) : value;
  });
}

/** Wrap a field so that an absent column or an empty cell is `undefined` instead of an error. */
export function optional<T extends z.ZodType<unknown, string>>(inner: T) {
  const schema = z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw.trim() === '' ? undefined : raw))
    .pipe(inner.optional());
  const innerFast = fastChecks.get(inner);
  if (!innerFast) return schema;
  return withFastCheck(schema, (raw) => {
    if (raw === undefined) return undefined;
    if (typeof raw !== 'string') return INVALID;
    return raw.trim() === '' ? undefined : innerFast(raw);
  });
}

/**
 * The fast twin of `z.object(fields).safeParse(input)` for a string record: the parsed row,
 * or undefined when the row fails (then ask zod for the issues). As zod does, it keeps only
 * the declared keys, in their order, and omits a key the input lacks whose value is
 * undefined. Undefined when some field has no fast twin.
 */
export function fastRowParser(
  fields: Readonly<Record<string, z.ZodType>>,
): ((input: Readonly<Record<string, string | undefined>>) => Record<string, unknown> | undefined) | undefined {
  const keys = Object.keys(fields);
  const checks: FastCheck[] = [];
  for (const key of keys) {
    const check = fastChecks.get(fields[key]!);
    if (!check) return undefined;
    checks.push(check);
  }
  return (input) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const raw = input[key];
      const value = checks[i]!(raw);
      if (value === INVALID) return undefined;
      if (value !== undefined || key in input) out[key] = value;
    }
    return out;
  };
}

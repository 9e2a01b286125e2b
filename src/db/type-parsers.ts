/**
 * pg and PGlite decode result columns differently out of the box (pg returns int8 and
 * numeric as strings and dates as local-midnight Date objects; PGlite returns dates as
 * Date objects too). One table of parsers, given to both drivers, makes every query
 * return the same JavaScript types whichever database is underneath:
 *
 *   int2/int4/int8/oid  -> number (int8 beyond 2^53 throws rather than silently rounding)
 *   numeric, float4/8   -> number
 *   date                -> 'YYYY-MM-DD' string (a calendar date has no time zone)
 *   timestamp(tz)       -> Date
 *   bool, text, json(b) -> boolean, string, parsed JSON (both drivers already agree)
 */

export const PG_OID = {
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  float4: 700,
  float8: 701,
  numeric: 1700,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
} as const;

function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`int8 value ${value} is beyond JavaScript's exact integer range (2^53); cast it to text or numeric in SQL`);
  }
  return n;
}

function parseNumber(value: string): number {
  // PostgreSQL prints special values as NaN, Infinity, -Infinity; Number() reads all three.
  return Number(value);
}

function parseDate(value: string): string {
  return value;
}

/**
 * PostgreSQL's text format for timestamps is 'YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM]]'.
 * Both drivers get the same parser so there is no difference in sub-millisecond rounding
 * or in how a timestamp without zone is read (as UTC: the session runs in UTC).
 */
function parseTimestamp(value: string): Date | string {
  if (value === 'infinity' || value === '-infinity') return value;
  const m = /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d+)?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/.exec(value);
  if (!m) return new Date(value);
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os, bc] = m;
  let year = Number(y);
  if (bc) year = 1 - year;
  const ms = frac ? Math.floor(Number(frac) * 1000) : 0;
  let t = Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (year >= 0 && year < 100) {
    const dt = new Date(t);
    dt.setUTCFullYear(year);
    t = dt.getTime();
  }
  if (sign) {
    const offset = (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0)) * 1000;
    t += sign === '+' ? -offset : offset;
  }
  return new Date(t);
}

export const TYPE_PARSERS: Readonly<Record<number, (value: string) => unknown>> = {
  [PG_OID.int8]: parseInt8,
  [PG_OID.int2]: parseNumber,
  [PG_OID.int4]: parseNumber,
  [PG_OID.oid]: parseNumber,
  [PG_OID.float4]: parseNumber,
  [PG_OID.float8]: parseNumber,
  [PG_OID.numeric]: parseNumber,
  [PG_OID.date]: parseDate,
  [PG_OID.timestamp]: parseTimestamp,
  [PG_OID.timestamptz]: parseTimestamp,
};

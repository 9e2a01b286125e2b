/** Numbers and dates as the report prints them. Missing values print as an en dash. */

export const MISSING = '–';

function signed(text: string, value: number): string {
  return value < 0 ? `−${text}` : text;
}

/** USD as $bn (or $tn, $m): 566400000000 → "$566.4bn". */
export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  const a = Math.abs(value);
  if (a >= 1e12) return signed(`$${(a / 1e12).toFixed(2)}tn`, value);
  if (a >= 1e8) return signed(`$${(a / 1e9).toFixed(1)}bn`, value);
  if (a >= 1e5) return signed(`$${(a / 1e6).toFixed(1)}m`, value);
  return signed(`$${a.toLocaleString('en-US')}`, value);
}

/** A fraction as a percent: 0.418 → "41.8%". */
export function pct(value: number | null | undefined, decimals = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  return signed(`${Math.abs(value * 100).toFixed(decimals)}%`, value);
}

/** A fraction as a signed percent change: 0.81 → "+81.0%". */
export function pctChange(value: number | null | undefined, decimals = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  return (value > 0 ? '+' : '') + pct(value, decimals);
}

export function num(value: number | null | undefined, decimals = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  return signed(Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals }), value);
}

/** A value in an indicator unit of analytics.indicator_values (USD, ratio, share, pct, pp, multiple, years, count, …). */
export function inUnit(value: number | null | undefined, unit: string | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  switch (unit ?? '') {
    case 'USD':
      return usd(value);
    case 'USD_bn':
      return usd(value * 1e9);
    case 'ratio':
    case 'share':
      return pct(value);
    case 'pct':
      return `${num(value)}%`;
    case 'pp':
      return `${num(value)} pp`;
    case 'multiple':
      return `${num(value, 2)}×`;
    case 'years':
      return `${num(value, 2)} years`;
    case 'count':
      return Number.isInteger(value) ? num(value, 0) : num(value, 1);
    default: {
      const a = Math.abs(value);
      const text = signed(a.toLocaleString('en-US', { maximumFractionDigits: a >= 1e6 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 4 }), value);
      return unit ? `${text} ${unit}` : text;
    }
  }
}

/** The change of an indicator: ratios and shares in percentage points, others in their unit. */
export function changeInUnit(change: number | null | undefined, unit: string): string {
  if (change === null || change === undefined || !Number.isFinite(change)) return MISSING;
  const sign = change > 0 ? '+' : change < 0 ? '−' : '';
  if (unit === 'ratio' || unit === 'share') return `${sign}${Math.abs(change * 100).toFixed(1)} pp`;
  return sign + inUnit(Math.abs(change), unit);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** '1999-12-01' → 'Dec 1999'. */
export function monthLabel(date: string): string {
  return `${MONTHS[Number(date.slice(5, 7)) - 1] ?? '?'} ${date.slice(0, 4)}`;
}

/** A timestamp as 'YYYY-MM-DD HH:MM UTC'. */
export function timestamp(value: Date | string | null | undefined): string {
  if (value === null || value === undefined) return MISSING;
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

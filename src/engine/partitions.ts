import type { PartitionGrain } from './pipeline.js';
import { ConfigError } from '../errors.js';

/** Partition keys: 'YYYY-MM-DD' (day), 'YYYY-MM' (month), 'YYYYQn' (quarter). */

const PATTERNS: Record<PartitionGrain, RegExp> = {
  day: /^(\d{4})-(\d{2})-(\d{2})$/,
  month: /^(\d{4})-(\d{2})$/,
  quarter: /^(\d{4})Q([1-4])$/,
};

const EXAMPLES: Record<PartitionGrain, string> = { day: '2025-06-30', month: '2025-06', quarter: '2025Q2' };

/** Accept a period as people write it (2025q2, 2025-Q2, 2025-06-30) and normalise it to the grain's key. */
export function parsePartition(text: string, grain: PartitionGrain, what: string): string {
  const t = text.trim().toUpperCase().replace(/^(\d{4})-?Q([1-4])$/, '$1Q$2');
  if (PATTERNS[grain].test(t)) {
    if (grain === 'day') {
      const d = new Date(`${t}T00:00:00Z`);
      if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== t) throw new ConfigError(`${what}: got "${text}", expected a real date like ${EXAMPLES.day}`);
    }
    if (grain === 'month' && (Number(t.slice(5, 7)) < 1 || Number(t.slice(5, 7)) > 12)) {
      throw new ConfigError(`${what}: got "${text}", expected a month like ${EXAMPLES.month}`);
    }
    return t;
  }
  throw new ConfigError(`${what}: got "${text}", expected a ${grain} like ${EXAMPLES[grain]}`);
}

function next(key: string, grain: PartitionGrain): string {
  if (grain === 'day') {
    const d = new Date(`${key}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }
  if (grain === 'month') {
    const [y, m] = [Number(key.slice(0, 4)), Number(key.slice(5, 7))];
    return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  }
  const [y, q] = [Number(key.slice(0, 4)), Number(key.slice(5))];
  return q === 4 ? `${y + 1}Q1` : `${y}Q${q + 1}`;
}

/** Every partition from `from` to `to`, inclusive. */
export function partitionRange(from: string, to: string, grain: PartitionGrain, max = 100_000): string[] {
  if (from > to) throw new ConfigError(`--from ${from} is after --to ${to}`);
  const keys: string[] = [];
  for (let k = from; k <= to; k = next(k, grain)) {
    keys.push(k);
    if (keys.length > max) throw new ConfigError(`the range ${from}..${to} holds more than ${max} partitions; narrow it`);
  }
  return keys;
}

/** The partition holding a date. */
export function partitionOfDate(date: Date, grain: PartitionGrain): string {
  const iso = date.toISOString().slice(0, 10);
  if (grain === 'day') return iso;
  if (grain === 'month') return iso.slice(0, 7);
  return `${iso.slice(0, 4)}Q${Math.floor((date.getUTCMonth()) / 3) + 1}`;
}

/** Placeholders a URL template may use for a partition: {partition}, {yyyy}, {q}, {mm}, {dd}. */
export function partitionPlaceholders(key: string): Record<string, string> {
  const values: Record<string, string> = { partition: key, yyyy: key.slice(0, 4) };
  const quarter = /^\d{4}Q([1-4])$/.exec(key);
  if (quarter) values.q = quarter[1]!;
  if (/^\d{4}-\d{2}/.test(key)) values.mm = key.slice(5, 7);
  if (/^\d{4}-\d{2}-\d{2}$/.test(key)) values.dd = key.slice(8, 10);
  return values;
}

export const PARTITION_PLACEHOLDER = /\{(partition|yyyy|q|mm|dd)\}/;

export function fillPartition(template: string, key: string): string {
  const values = partitionPlaceholders(key);
  return template.replace(/\{(partition|yyyy|q|mm|dd)\}/g, (whole, name: string) => values[name] ?? whole);
}

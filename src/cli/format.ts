/** Plain-text tables and numbers for terminal output. */

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string | number | null | undefined;
  readonly align?: 'left' | 'right';
  readonly max?: number;
}

function clip(text: string, max: number | undefined): string {
  const oneLine = text.replace(/\s+/g, ' ');
  if (max === undefined || oneLine.length <= max) return oneLine;
  return oneLine.slice(0, Math.max(1, max - 1)) + '…';
}

export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => clip(String(c.value(row) ?? ''), c.max)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const pad = (text: string, i: number) => (columns[i]!.align === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const lines = [
    columns.map((c, i) => pad(c.header, i)).join('  ').trimEnd(),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.map((r) => r.map((cell, i) => pad(cell, i)).join('  ').trimEnd()),
  ];
  return lines.join('\n');
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m} min ${s} s`;
}

export function formatNumber(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return formatNumber(value);
    return value.toLocaleString('en-US', { maximumSignificantDigits: 6 });
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function formatTimestamp(date: Date | null): string {
  return date ? formatValue(date) : '';
}

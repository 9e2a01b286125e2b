/** Plain-text tables and numbers for terminal output. */

/**
 * Text from data as it may reach a terminal: control characters (C0 except tab and newline,
 * DEL, C1) and the bidirectional-text controls are shown as escapes (`\x1b`, `\u202e`), so that
 * data can neither clear the screen, move the cursor, recolour the output nor reorder what is
 * shown. DEL, C1 and bidi controls are written `\u…` as JSON writes them, so that JSON output
 * printed through this parses to the same values (JSON.stringify already escapes C0).
 */
export function escapeForTerminal(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, escapeOne) : text;
}

/** C0 but tab and newline, DEL, C1, and the bidi controls (ALM, LRM, RLM, LRE…RLO, LRI…PDI) and line/paragraph separators. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');
const NAMED: Readonly<Record<string, string>> = { '\r': '\\r', '\b': '\\b', '\f': '\\f', '\v': '\\v' };

function escapeOne(ch: string): string {
  const code = ch.charCodeAt(0);
  if (NAMED[ch]) return NAMED[ch]!;
  if (code < 0x20) return `\\x${code.toString(16).padStart(2, '0')}`;
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Text ready for the terminal: its data already escaped, and any colour in it ours. print()
 * writes it as it is; a plain string is escaped on the way out.
 */
export class TerminalText {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string | number | null | undefined;
  readonly align?: 'left' | 'right';
  readonly max?: number;
  /** Decorates the padded cell (colour); widths are measured before it is applied. */
  readonly style?: (row: T) => ((text: string) => string) | undefined;
}

function clip(text: string, max: number | undefined): string {
  const oneLine = text.replace(/\s+/g, ' ');
  if (max === undefined || oneLine.length <= max) return oneLine;
  return oneLine.slice(0, Math.max(1, max - 1)) + '…';
}

/** A table of data: every cell is escaped (escapeForTerminal) before it is measured, padded and coloured. */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): TerminalText {
  const cells = rows.map((row) => columns.map((c) => clip(escapeForTerminal(String(c.value(row) ?? '')), c.max)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const pad = (text: string, i: number) => (columns[i]!.align === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const lines = [
    columns.map((c, i) => pad(c.header, i)).join('  ').trimEnd(),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.map((r, ri) =>
      r
        .map((cell, i) => {
          const padded = pad(cell, i);
          const style = columns[i]!.style?.(rows[ri]!);
          return style ? style(padded) : padded;
        })
        .join('  ')
        .trimEnd(),
    ),
  ];
  return new TerminalText(lines.join('\n'));
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** A sparkline of a short series: one block per value, scaled between its min and max. */
export function sparkline(values: readonly number[]): string {
  if (values.length === 0) return '';
  const min = Math.min(...values);
  const max = Math.max(...values);
  return values.map((v) => (max === min ? SPARKS[3] : SPARKS[Math.round(((v - min) / (max - min)) * (SPARKS.length - 1))])).join('');
}

/** ANSI colours, used only when writing to a terminal. */
export const colour = {
  red: (t: string) => `\u001b[31m${t}\u001b[39m`,
  yellow: (t: string) => `\u001b[33m${t}\u001b[39m`,
  green: (t: string) => `\u001b[32m${t}\u001b[39m`,
  cyan: (t: string) => `\u001b[36m${t}\u001b[39m`,
  dim: (t: string) => `\u001b[2m${t}\u001b[22m`,
};

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

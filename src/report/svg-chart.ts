import { html, joinMarkup, type Markup } from './html.js';

/**
 * Server-side SVG charts for the report: line charts over time or numbers, bar charts over
 * categories (stacked or grouped), and a timeline of spans and events. Each chart is an
 * inline `<svg>` with axes, ticks, tick labels, an axis label with the unit, a legend,
 * reference lines, vertical markers and point annotations. A chart without data renders a
 * "No data yet" box of the same size, so the page keeps its shape.
 *
 * Every data mark carries `class="mark …"` and the `<svg>` counts them in `data-marks`,
 * which the tests and the browser check read. Text is escaped by `html`.
 */

export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#8C6D31', '#444444'] as const;
export const INK = '#1f2328';
export const MUTED = '#6e7781';
export const GRID = '#e4e7eb';
export const ALERT_RED = '#c62828';

/** Formats a tick value; `step` is the distance between ticks (to choose decimals). */
export type TickFormat = (value: number, step: number) => string;

export interface ValueAxis {
  /** Axis title, with the unit: "USD billions", "% of GDP", "multiple of earnings". */
  readonly label: string;
  readonly format?: TickFormat;
  readonly min?: number;
  readonly max?: number;
  readonly includeZero?: boolean;
}

export interface ReferenceLine {
  readonly value: number;
  readonly label: string;
  readonly color?: string;
}

/** A vertical line at an x position (a time, a number, or a category name for bar charts). */
export interface XMarker {
  readonly x: number | string;
  readonly label: string;
}

export interface Annotation {
  readonly x: number;
  readonly y: number;
  readonly label: string;
  readonly color?: string;
  readonly placement?: 'above' | 'below' | 'left' | 'right';
}

export interface LinePoint {
  readonly x: number;
  readonly y: number | null;
  /** Tooltip text for the point; defaults to "series: value". */
  readonly title?: string;
}

export interface LineSeries {
  readonly name: string;
  readonly color: string;
  readonly points: readonly LinePoint[];
  readonly dash?: string;
  readonly width?: number;
  /** Draw a dot at each point (isolated points always get one). */
  readonly markers?: boolean;
  /** Break the line where consecutive points are further apart than this (in x units). */
  readonly maxGap?: number;
}

interface ChartBase {
  /** Unique id on the page (used for aria references). */
  readonly id: string;
  readonly title: string;
  readonly width?: number;
  readonly height?: number;
  /** What to load when there is no data: shown under "No data yet". */
  readonly emptyHint?: string;
}

export interface LineChartSpec extends ChartBase {
  readonly x: { readonly kind: 'time'; readonly label: string } | { readonly kind: 'number'; readonly label: string; readonly format?: TickFormat };
  readonly y: ValueAxis;
  readonly series: readonly LineSeries[];
  readonly referenceLines?: readonly ReferenceLine[];
  readonly xMarkers?: readonly XMarker[];
  readonly annotations?: readonly Annotation[];
  /** Formats a y value in tooltips. */
  readonly valueFormat?: (value: number) => string;
}

export interface BarSeries {
  readonly name: string;
  readonly color: string;
  readonly values: readonly (number | null)[];
}

export interface BarChartSpec extends ChartBase {
  readonly categories: readonly string[];
  readonly xLabel: string;
  readonly y: ValueAxis;
  readonly series: readonly BarSeries[];
  readonly stacked?: boolean;
  readonly referenceLines?: readonly ReferenceLine[];
  readonly xMarkers?: readonly XMarker[];
  /** Small text above each category (e.g. "3/5 reported"), null for none. */
  readonly categoryNotes?: readonly (string | null)[];
  /** Label the total of the last N categories above their bars. */
  readonly labelLastTotals?: number;
  readonly valueFormat?: (value: number) => string;
}

export interface TimelineEvent {
  readonly x: number;
  readonly kind: 'fired' | 'resolved' | 'pending' | 'cleared';
  readonly color: string;
  readonly title: string;
}

export interface TimelineSpan {
  readonly from: number;
  readonly to: number;
  readonly color: string;
  readonly title: string;
  readonly open?: boolean;
}

export interface TimelineRow {
  readonly label: string;
  readonly spans: readonly TimelineSpan[];
  readonly events: readonly TimelineEvent[];
}

export interface TimelineSpec extends ChartBase {
  readonly xLabel: string;
  readonly rows: readonly TimelineRow[];
  readonly legend: readonly { readonly name: string; readonly color: string; readonly shape: 'span' | TimelineEvent['kind'] }[];
  readonly domain?: readonly [number, number];
  readonly xMarkers?: readonly XMarker[];
}

// ------------------------------------------------------------------------------ scales and ticks

export interface NiceScale {
  readonly min: number;
  readonly max: number;
  readonly step: number;
  readonly ticks: readonly number[];
}

function roundTo(value: number): number {
  return Number(value.toPrecision(12));
}

/** Round numbers for an axis from min to max: steps of 1, 2 or 5 × a power of ten, about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): NiceScale {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return niceTicks(0, 1, count);
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const step = roundTo((norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude);
  const lo = roundTo(Math.floor(min / step + 1e-9) * step);
  const hi = roundTo(Math.ceil(max / step - 1e-9) * step);
  const ticks: number[] = [];
  for (let i = 0; lo + i * step <= hi + step * 1e-9; i++) ticks.push(roundTo(lo + i * step));
  return { min: lo, max: hi, step, ticks };
}

/** Decimals needed to write every multiple of `step` exactly (0.25 → 2, 5 → 0). */
export function decimalsFor(step: number): number {
  let d = 0;
  while (d < 6 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-6) d++;
  return d;
}

export function formatFixed(value: number, decimals: number): string {
  const text = Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  return (value < 0 && Number(text.replace(/,/g, '')) !== 0 ? '−' : '') + text;
}

/** Tick labels: value × scale, with a prefix and suffix ("$", "bn", "%", "×"). */
export function axisFormat(options: { readonly scale?: number; readonly prefix?: string; readonly suffix?: string } = {}): TickFormat {
  const scale = options.scale ?? 1;
  return (value, step) => {
    const text = formatFixed(value * scale, decimalsFor(roundTo(step * scale)));
    const sign = text.startsWith('−') ? '−' : '';
    return sign + (options.prefix ?? '') + text.replace(/^−/, '') + (options.suffix ?? '');
  };
}

const plainFormat: TickFormat = axisFormat();

export interface TimeTick {
  readonly value: number;
  readonly label: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const DAY_MS = 86_400_000;
const YEAR_MS = 365.2425 * DAY_MS;

/** A 'YYYY-MM-DD' date as a time value (UTC milliseconds). */
export function dateValue(date: string): number {
  return Date.parse(`${date.slice(0, 10)}T00:00:00Z`);
}

export function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Ticks on calendar boundaries: years (every 1, 2, 5, … years), quarters or months, at most about `maxTicks`. */
export function timeTicks(min: number, max: number, maxTicks = 8): TimeTick[] {
  const ticks: TimeTick[] = [];
  const first = new Date(min);
  const spanYears = (max - min) / YEAR_MS;
  if (spanYears >= 2.5) {
    const step = [1, 2, 5, 10, 20, 25, 50, 100, 200].find((s) => spanYears / s <= maxTicks) ?? 500;
    let year = Math.ceil(first.getUTCFullYear() / step) * step;
    for (; ; year += step) {
      const t = Date.UTC(year, 0, 1);
      if (t < min) continue;
      if (t > max) break;
      ticks.push({ value: t, label: String(year) });
    }
    return ticks;
  }
  const spanMonths = (max - min) / (YEAR_MS / 12);
  const monthStep = [1, 2, 3, 6, 12].find((s) => spanMonths / s <= maxTicks) ?? 12;
  const stepAligned = monthStep >= 3 ? monthStep : 1;
  let y = first.getUTCFullYear();
  let m = first.getUTCMonth();
  m = Math.ceil(m / stepAligned) * stepAligned;
  for (let guard = 0; guard < 400; guard++) {
    const t = Date.UTC(y, m, 1);
    if (t > max) break;
    if (t >= min) ticks.push({ value: t, label: `${MONTHS[((m % 12) + 12) % 12]} ${y + Math.floor(m / 12)}` });
    m += monthStep;
    if (m >= 12) {
      y += Math.floor(m / 12);
      m %= 12;
    }
  }
  if (ticks.length === 0) ticks.push({ value: min, label: formatDate(min) });
  return ticks;
}

// ------------------------------------------------------------------------------ layout helpers

const FONT = 12;
const CHAR_W = 7.1;

export function textWidth(text: string, size = FONT): number {
  return text.length * CHAR_W * (size / FONT);
}

function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

interface LegendItem {
  readonly name: string;
  readonly color: string;
  readonly shape: 'line' | 'dashed' | 'bar' | 'empty' | 'span' | TimelineEvent['kind'];
  readonly dash?: string;
}

interface Legend {
  readonly markup: Markup;
  readonly height: number;
}

function legend(items: readonly LegendItem[], x0: number, y0: number, width: number): Legend {
  if (items.length === 0) return { markup: html``, height: 0 };
  const parts: Markup[] = [];
  let x = x0;
  let y = y0;
  for (const item of items) {
    const w = 28 + textWidth(item.name) + 18;
    if (x > x0 && x + w > x0 + width) {
      x = x0;
      y += 18;
    }
    parts.push(html`<g class="legend-item">${legendSwatch(item, x, y)}<text x="${n(x + 26)}" y="${n(y + 4)}" class="legend-label">${item.name}</text></g>`);
    x += w;
  }
  return { markup: html`<g class="legend">${parts}</g>`, height: y - y0 + 18 };
}

function legendSwatch(item: LegendItem, x: number, y: number): Markup {
  switch (item.shape) {
    case 'bar':
    case 'span':
      return html`<rect x="${n(x)}" y="${n(y - 5)}" width="20" height="10" fill="${item.color}" rx="1"/>`;
    case 'empty':
      return html`<rect x="${n(x)}" y="${n(y - 5)}" width="20" height="10" fill="none" stroke="${MUTED}" stroke-dasharray="3 2"/>`;
    case 'line':
    case 'dashed':
      return html`<line x1="${n(x)}" y1="${n(y)}" x2="${n(x + 20)}" y2="${n(y)}" stroke="${item.color}" stroke-width="2.5"${item.dash ? html` stroke-dasharray="${item.dash}"` : ''}/>`;
    default:
      return eventShape(item.shape, x + 10, y, item.color, false);
  }
}

function eventShape(kind: TimelineEvent['kind'], x: number, y: number, color: string, mark: boolean, title?: string): Markup {
  const cls = mark ? html` class="mark event event-${kind}"` : '';
  const tip = title ? html`<title>${title}</title>` : '';
  switch (kind) {
    case 'fired':
      return html`<path${cls} d="M${n(x)} ${n(y - 6)} L${n(x + 6)} ${n(y + 5)} L${n(x - 6)} ${n(y + 5)} Z" fill="${color}" stroke="#fff" stroke-width="1">${tip}</path>`;
    case 'resolved':
      return html`<circle${cls} cx="${n(x)}" cy="${n(y)}" r="4.5" fill="#fff" stroke="${color}" stroke-width="2">${tip}</circle>`;
    case 'pending':
      return html`<path${cls} d="M${n(x)} ${n(y - 5)} L${n(x + 5)} ${n(y)} L${n(x)} ${n(y + 5)} L${n(x - 5)} ${n(y)} Z" fill="${color}" opacity="0.8">${tip}</path>`;
    case 'cleared':
      return html`<path${cls} d="M${n(x - 4)} ${n(y - 4)} L${n(x + 4)} ${n(y + 4)} M${n(x + 4)} ${n(y - 4)} L${n(x - 4)} ${n(y + 4)}" stroke="${color}" stroke-width="2" fill="none">${tip}</path>`;
  }
}

interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

function svgOpen(spec: ChartBase, width: number, height: number, marks: number, kind: string): Markup {
  return html`<svg class="chart-svg chart-${kind}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${spec.id}-title" data-chart="${spec.id}" data-marks="${marks}" font-size="${FONT}">`;
}

/** The same-sized box a chart shows while it has no data. */
export function noDataChart(spec: ChartBase, reason = 'No data yet'): Markup {
  const width = spec.width ?? 960;
  const height = spec.height ?? 360;
  return html`${svgOpen(spec, width, height, 0, 'empty')}<title id="${spec.id}-title">${spec.title}: ${reason}</title>
<rect class="no-data" x="8" y="8" width="${width - 16}" height="${height - 16}" rx="8" fill="#f6f8fa" stroke="${MUTED}" stroke-dasharray="6 4"/>
<text x="${width / 2}" y="${height / 2 - 6}" text-anchor="middle" font-size="20" font-weight="600" fill="${MUTED}">${reason}</text>
${spec.emptyHint ? html`<text x="${width / 2}" y="${height / 2 + 20}" text-anchor="middle" font-size="13" fill="${MUTED}">${spec.emptyHint}</text>` : ''}
</svg>`;
}

function yAxisMarkup(frame: Frame, scale: NiceScale, y: (v: number) => number, axis: ValueAxis): Markup {
  const format = axis.format ?? plainFormat;
  const ticks = scale.ticks.map(
    (t) => html`<line class="grid" x1="${frame.left}" x2="${frame.width - frame.right}" y1="${n(y(t))}" y2="${n(y(t))}" stroke="${t === 0 ? '#9aa4ae' : GRID}"/>
<text class="tick tick-y" x="${frame.left - 8}" y="${n(y(t) + 4)}" text-anchor="end" fill="${MUTED}">${format(t, scale.step)}</text>`,
  );
  const midY = (frame.top + frame.height - frame.bottom) / 2;
  return html`<g class="axis axis-y">${ticks}<text class="axis-label" transform="translate(14 ${n(midY)}) rotate(-90)" text-anchor="middle" fill="${INK}">${axis.label}</text></g>`;
}

function xAxisLine(frame: Frame): Markup {
  const y = frame.height - frame.bottom;
  return html`<line class="axis-line" x1="${frame.left}" x2="${frame.width - frame.right}" y1="${y}" y2="${y}" stroke="${INK}"/>`;
}

function xAxisLabel(frame: Frame, label: string): Markup {
  const cx = (frame.left + frame.width - frame.right) / 2;
  return html`<text class="axis-label axis-label-x" x="${n(cx)}" y="${frame.height - 8}" text-anchor="middle" fill="${INK}">${label}</text>`;
}

/**
 * Reference lines with their labels placed where they cover the fewest data points: above or
 * below the line, at its left or right end.
 */
function referenceLines(frame: Frame, lines: readonly ReferenceLine[], y: (v: number) => number, obstacles: readonly (readonly [number, number])[] = []): Markup {
  const placed: (readonly [number, number])[] = [...obstacles];
  return joinMarkup(
    lines.map((line) => {
      const yy = y(line.value);
      const color = line.color ?? ALERT_RED;
      const w = textWidth(line.label) + 8;
      const x0 = frame.left + 4;
      const x1 = frame.width - frame.right - 4;
      const candidates = [
        { x: x0, ty: yy - 5, anchor: 'start', box: [x0, yy - 17, x0 + w, yy] },
        { x: x1, ty: yy - 5, anchor: 'end', box: [x1 - w, yy - 17, x1, yy] },
        { x: x0, ty: yy + 14, anchor: 'start', box: [x0, yy, x0 + w, yy + 17] },
        { x: x1, ty: yy + 14, anchor: 'end', box: [x1 - w, yy, x1, yy + 17] },
      ] as const;
      const cost = (box: readonly number[]) => placed.filter(([px, py]) => px >= box[0]! && px <= box[2]! && py >= box[1]! && py <= box[3]!).length;
      const best = candidates.reduce((a, b) => (cost(b.box) < cost(a.box) ? b : a));
      const [bx0, by0, bx1, by1] = best.box;
      // Later labels avoid this one.
      for (let px = bx0; px <= bx1; px += 6) placed.push([px, (by0 + by1) / 2]);
      return html`<g class="ref-line"><line x1="${frame.left}" x2="${frame.width - frame.right}" y1="${n(yy)}" y2="${n(yy)}" stroke="${color}" stroke-width="1.5" stroke-dasharray="6 4"/>
<text x="${n(best.x)}" y="${n(best.ty)}" text-anchor="${best.anchor}" fill="${color}" class="ref-label halo">${line.label}</text></g>`;
    }),
  );
}

function verticalMarkers(frame: Frame, markers: readonly { x: number; label: string }[]): Markup {
  return joinMarkup(
    markers.map((m, i) => {
      const right = m.x + 4 + textWidth(m.label, 11) > frame.width - frame.right;
      const ty = frame.top + 12 + (i % 2) * 14;
      return html`<g class="x-marker"><line x1="${n(m.x)}" x2="${n(m.x)}" y1="${frame.top}" y2="${frame.height - frame.bottom}" stroke="${MUTED}" stroke-dasharray="2 3"/>
<text x="${n(right ? m.x - 4 : m.x + 4)}" y="${ty}" text-anchor="${right ? 'end' : 'start'}" font-size="11" fill="${MUTED}" class="halo">${m.label}</text></g>`;
    }),
  );
}

function annotationsMarkup(frame: Frame, items: readonly Annotation[], sx: (v: number) => number, sy: (v: number) => number): Markup {
  return joinMarkup(
    items.map((a) => {
      const x = sx(a.x);
      const y = sy(a.y);
      const color = a.color ?? INK;
      const w = textWidth(a.label);
      const placement = a.placement ?? 'above';
      let tx = x;
      let ty = y - 10;
      let anchor: 'start' | 'middle' | 'end' = 'middle';
      if (placement === 'below') ty = y + 20;
      if (placement === 'left') [tx, ty, anchor] = [x - 9, y + 4, 'end'];
      if (placement === 'right') [tx, ty, anchor] = [x + 9, y + 4, 'start'];
      if (anchor === 'middle') {
        if (x - w / 2 < frame.left) [tx, anchor] = [Math.max(x - 6, frame.left), 'start'];
        else if (x + w / 2 > frame.width - frame.right) [tx, anchor] = [Math.min(x + 6, frame.width - frame.right), 'end'];
      }
      ty = Math.max(frame.top + 10, Math.min(frame.height - frame.bottom - 4, ty));
      return html`<g class="annotation"><circle cx="${n(x)}" cy="${n(y)}" r="4.5" fill="none" stroke="${color}" stroke-width="2"/>
<text x="${n(tx)}" y="${n(ty)}" text-anchor="${anchor}" font-weight="600" fill="${color}" class="halo">${a.label}</text></g>`;
    }),
  );
}

function leftMargin(labels: readonly string[]): number {
  return Math.ceil(Math.max(24, ...labels.map((l) => textWidth(l))) + 34);
}

// ------------------------------------------------------------------------------ line chart

export function lineChart(spec: LineChartSpec): Markup {
  const width = spec.width ?? 960;
  const height = spec.height ?? 360;
  const withData = spec.series.filter((s) => s.points.some((p) => p.y !== null && Number.isFinite(p.y)));
  if (withData.length === 0) return noDataChart(spec);

  const xs = withData.flatMap((s) => s.points.filter((p) => p.y !== null).map((p) => p.x));
  let xMin = Math.min(...xs);
  let xMax = Math.max(...xs);
  if (xMin === xMax) {
    const pad = spec.x.kind === 'time' ? 180 * DAY_MS : Math.abs(xMin) * 0.1 || 1;
    xMin -= pad;
    xMax += pad;
  } else {
    const pad = (xMax - xMin) * 0.02;
    xMin -= pad;
    xMax += pad;
  }
  const ys = withData.flatMap((s) => s.points.flatMap((p) => (p.y !== null && Number.isFinite(p.y) ? [p.y] : [])));
  for (const r of spec.referenceLines ?? []) ys.push(r.value);
  for (const a of spec.annotations ?? []) ys.push(a.y);
  if (spec.y.includeZero) ys.push(0);
  const scale = niceTicks(spec.y.min ?? Math.min(...ys), spec.y.max ?? Math.max(...ys), Math.max(3, Math.round(height / 70)));

  const format = spec.y.format ?? plainFormat;
  const items: LegendItem[] = spec.series.map((s) =>
    withData.includes(s)
      ? { name: s.name, color: s.color, shape: s.dash ? 'dashed' : 'line', dash: s.dash }
      : { name: `${s.name} — no data yet`, color: MUTED, shape: 'empty' },
  );
  const left = leftMargin(scale.ticks.map((t) => format(t, scale.step)));
  const lg = legend(items, left, 14, width - left - 16);
  const frame: Frame = { width, height, left, right: 16, top: 22 + lg.height, bottom: 46 };
  const plotW = width - frame.left - frame.right;
  const plotH = height - frame.top - frame.bottom;
  const sx = (v: number) => frame.left + ((v - xMin) / (xMax - xMin)) * plotW;
  const sy = (v: number) => frame.top + (1 - (v - scale.min) / (scale.max - scale.min)) * plotH;

  const xTicks: TimeTick[] =
    spec.x.kind === 'time'
      ? timeTicks(xMin, xMax, Math.max(3, Math.floor(plotW / 80)))
      : (() => {
          const s = niceTicks(xMin, xMax, Math.max(3, Math.floor(plotW / 90)));
          const f = spec.x.kind === 'number' && spec.x.format ? spec.x.format : plainFormat;
          return s.ticks.filter((t) => t >= xMin && t <= xMax).map((t) => ({ value: t, label: f(t, s.step) }));
        })();
  const xAxis = html`<g class="axis axis-x">${xAxisLine(frame)}${xTicks.map(
    (t) => html`<line x1="${n(sx(t.value))}" x2="${n(sx(t.value))}" y1="${height - frame.bottom}" y2="${height - frame.bottom + 5}" stroke="${INK}"/>
<text class="tick tick-x" x="${n(sx(t.value))}" y="${height - frame.bottom + 18}" text-anchor="middle" fill="${MUTED}">${t.label}</text>`,
  )}${xAxisLabel(frame, spec.x.label)}</g>`;

  const valueText = spec.valueFormat ?? ((v: number) => format(v, scale.step / 10));
  const xText = (x: number) => (spec.x.kind === 'time' ? formatDate(x) : plainFormat(x, 0.01));
  let marks = 0;
  const seriesMarkup = withData.map((s) => {
    const segments: string[][] = [];
    let current: string[] = [];
    let previousX: number | undefined;
    const points = [...s.points].sort((a, b) => a.x - b.x);
    for (const p of points) {
      if (p.y === null || !Number.isFinite(p.y)) {
        if (current.length > 0) segments.push(current);
        current = [];
        previousX = undefined;
        continue;
      }
      if (previousX !== undefined && s.maxGap !== undefined && p.x - previousX > s.maxGap) {
        segments.push(current);
        current = [];
      }
      current.push(`${n(sx(p.x))} ${n(sy(p.y))}`);
      previousX = p.x;
    }
    if (current.length > 0) segments.push(current);
    const paths = segments
      .filter((seg) => seg.length > 1)
      .map((seg) => {
        marks++;
        return html`<path class="mark line" d="M${seg.join(' L')}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-linejoin="round"${s.dash ? html` stroke-dasharray="${s.dash}"` : ''}><title>${s.name}</title></path>`;
      });
    const isolated = new Set(segments.filter((seg) => seg.length === 1).map((seg) => seg[0]));
    const dots = points
      .filter((p) => p.y !== null && Number.isFinite(p.y))
      .filter((p) => s.markers || isolated.has(`${n(sx(p.x))} ${n(sy(p.y!))}`))
      .map((p) => {
        marks++;
        return html`<circle class="mark point" cx="${n(sx(p.x))}" cy="${n(sy(p.y!))}" r="3.2" fill="${s.color}" stroke="#fff" stroke-width="1"><title>${p.title ?? `${s.name}, ${xText(p.x)}: ${valueText(p.y!)}`}</title></circle>`;
      });
    return html`<g class="series" data-series="${s.name}">${paths}${dots}</g>`;
  });

  const markers = (spec.xMarkers ?? [])
    .filter((m) => typeof m.x === 'number' && m.x >= xMin && m.x <= xMax)
    .map((m) => ({ x: sx(m.x as number), label: m.label }));
  // What reference-line labels should not cover: the data, and annotation labels.
  const obstacles: (readonly [number, number])[] = [];
  for (const s of withData) {
    let previous: readonly [number, number, number] | undefined;
    for (const p of [...s.points].sort((a, b) => a.x - b.x)) {
      if (p.y === null || !Number.isFinite(p.y)) {
        previous = undefined;
        continue;
      }
      const here = [sx(p.x), sy(p.y), p.x] as const;
      obstacles.push([here[0], here[1]]);
      if (previous && (s.maxGap === undefined || p.x - previous[2] <= s.maxGap)) {
        const steps = Math.ceil(Math.hypot(here[0] - previous[0], here[1] - previous[1]) / 6);
        for (let k = 1; k < steps; k++) obstacles.push([previous[0] + ((here[0] - previous[0]) * k) / steps, previous[1] + ((here[1] - previous[1]) * k) / steps]);
      }
      previous = here;
    }
  }
  for (const a of spec.annotations ?? []) {
    for (let dx = -textWidth(a.label); dx <= textWidth(a.label); dx += 6) obstacles.push([sx(a.x) + dx, sy(a.y) - 10], [sx(a.x) + dx, sy(a.y)]);
  }
  for (const m of markers) obstacles.push([m.x + 20, frame.top + 10]);

  return html`${svgOpen(spec, width, height, marks, 'line')}<title id="${spec.id}-title">${spec.title}</title>
${lg.markup}
${yAxisMarkup(frame, scale, sy, spec.y)}
${xAxis}
${verticalMarkers(frame, markers)}
${referenceLines(frame, spec.referenceLines ?? [], sy, obstacles)}
<g class="plot">${seriesMarkup}</g>
${annotationsMarkup(frame, (spec.annotations ?? []).filter((a) => a.x >= xMin && a.x <= xMax), sx, sy)}
</svg>`;
}

// ------------------------------------------------------------------------------ bar chart

export function barChart(spec: BarChartSpec): Markup {
  const width = spec.width ?? 960;
  const height = spec.height ?? 360;
  const categories = spec.categories;
  const hasData = spec.series.some((s) => s.values.some((v) => v !== null && Number.isFinite(v)));
  if (categories.length === 0 || !hasData) return noDataChart(spec);

  const stacked = spec.stacked ?? false;
  const value = (v: number | null | undefined): number => (v === null || v === undefined || !Number.isFinite(v) ? 0 : v);
  const totals = categories.map((_, i) => spec.series.reduce((sum, s) => sum + Math.max(0, value(s.values[i])), 0));
  const negatives = categories.map((_, i) => spec.series.reduce((sum, s) => sum + Math.min(0, value(s.values[i])), 0));
  const ys: number[] = [0];
  if (stacked) ys.push(...totals, ...negatives);
  else for (const s of spec.series) for (const v of s.values) if (v !== null && Number.isFinite(v)) ys.push(v);
  for (const r of spec.referenceLines ?? []) ys.push(r.value);
  const scale = niceTicks(spec.y.min ?? Math.min(...ys), spec.y.max ?? Math.max(...ys) * (spec.labelLastTotals ? 1.06 : 1), Math.max(3, Math.round(height / 70)));

  const format = spec.y.format ?? plainFormat;
  const seriesWithData = spec.series.filter((s) => s.values.some((v) => v !== null && Number.isFinite(v)));
  const items: LegendItem[] = spec.series.map((s) =>
    seriesWithData.includes(s) ? { name: s.name, color: s.color, shape: 'bar' } : { name: `${s.name} — no data yet`, color: MUTED, shape: 'empty' },
  );
  const left = leftMargin(scale.ticks.map((t) => format(t, scale.step)));
  const lg = legend(items, left, 14, width - left - 16);
  const frame: Frame = { width, height, left, right: 16, top: 26 + lg.height + (spec.categoryNotes ? 6 : 0), bottom: 46 };
  const plotW = width - frame.left - frame.right;
  const plotH = height - frame.top - frame.bottom;
  const band = plotW / categories.length;
  const sy = (v: number) => frame.top + (1 - (v - scale.min) / (scale.max - scale.min)) * plotH;
  const cx = (i: number) => frame.left + band * (i + 0.5);
  const barW = band * 0.72;
  const valueText = spec.valueFormat ?? ((v: number) => format(v, scale.step / 10));

  let marks = 0;
  const bars: Markup[] = [];
  categories.forEach((category, i) => {
    let up = 0;
    let down = 0;
    const groupW = barW / (stacked ? 1 : Math.max(1, seriesWithData.length));
    seriesWithData.forEach((s, si) => {
      const v = s.values[i];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      let y0: number;
      let y1: number;
      let x: number;
      if (stacked) {
        if (v >= 0) [y0, y1, up] = [up, up + v, up + v];
        else [y0, y1, down] = [down + v, down, down + v];
        x = cx(i) - barW / 2;
      } else {
        [y0, y1] = v >= 0 ? [0, v] : [v, 0];
        x = cx(i) - barW / 2 + si * groupW;
      }
      const top = sy(y1);
      const h = Math.max(0.5, sy(y0) - top);
      marks++;
      bars.push(html`<rect class="mark bar" x="${n(x)}" y="${n(top)}" width="${n(Math.max(1, groupW - (stacked ? 0 : 1)))}" height="${n(h)}" fill="${s.color}"><title>${s.name}, ${category}: ${valueText(v)}</title></rect>`);
    });
  });

  const labelEvery = Math.max(1, Math.ceil((Math.max(...categories.map((c) => textWidth(c))) + 10) / band));
  const xTicks = categories.map((c, i) =>
    (categories.length - 1 - i) % labelEvery === 0
      ? html`<line x1="${n(cx(i))}" x2="${n(cx(i))}" y1="${height - frame.bottom}" y2="${height - frame.bottom + 5}" stroke="${INK}"/><text class="tick tick-x" x="${n(cx(i))}" y="${height - frame.bottom + 18}" text-anchor="middle" fill="${MUTED}">${c}</text>`
      : html``,
  );
  const notes = (spec.categoryNotes ?? []).map((note, i) =>
    note ? html`<text class="category-note" x="${n(cx(i))}" y="${n(sy(stacked ? totals[i]! : scale.max) - 5)}" text-anchor="middle" font-size="10" fill="${MUTED}">${note}</text>` : html``,
  );
  const totalLabels = stacked && spec.labelLastTotals
    ? categories.slice(-spec.labelLastTotals).map((c, k) => {
        const i = categories.length - Math.min(spec.labelLastTotals!, categories.length) + k;
        if (spec.categoryNotes?.[i]) return html``;
        return html`<text class="total-label halo" x="${n(cx(i))}" y="${n(sy(totals[i]!) - 5)}" text-anchor="middle" font-size="11" font-weight="600" fill="${INK}">${valueText(totals[i]!)}</text>`;
      })
    : [];
  const markers = (spec.xMarkers ?? []).flatMap((m) => {
    const i = typeof m.x === 'string' ? categories.indexOf(m.x) : m.x;
    return i >= 0 && i < categories.length ? [{ x: cx(i) - band / 2, label: m.label }] : [];
  });

  return html`${svgOpen(spec, width, height, marks, 'bar')}<title id="${spec.id}-title">${spec.title}</title>
${lg.markup}
${yAxisMarkup(frame, scale, sy, spec.y)}
${verticalMarkers(frame, markers)}
<g class="plot">${bars}</g>
<g class="axis axis-x">${xAxisLine(frame)}${xTicks}${xAxisLabel(frame, spec.xLabel)}</g>
${referenceLines(frame, spec.referenceLines ?? [], sy)}
${notes}${totalLabels}
</svg>`;
}

// ------------------------------------------------------------------------------ timeline

export function timelineChart(spec: TimelineSpec): Markup {
  const width = spec.width ?? 960;
  const rows = spec.rows.filter((r) => r.spans.length > 0 || r.events.length > 0);
  if (rows.length === 0) return noDataChart(spec);
  const xs = rows.flatMap((r) => [...r.spans.flatMap((s) => [s.from, s.to]), ...r.events.map((e) => e.x)]);
  let [xMin, xMax] = spec.domain ?? [Math.min(...xs), Math.max(...xs)];
  if (xMin === xMax) {
    xMin -= 180 * DAY_MS;
    xMax += 180 * DAY_MS;
  }
  const pad = (xMax - xMin) * 0.02;
  xMin -= pad;
  xMax += pad;

  const labelW = Math.min(400, Math.ceil(Math.max(...rows.map((r) => textWidth(r.label))) + 20));
  const items: LegendItem[] = spec.legend.map((l) => ({ name: l.name, color: l.color, shape: l.shape }));
  const lg = legend(items, labelW, 14, width - labelW - 16);
  const rowH = 24;
  const top = 26 + lg.height;
  const height = spec.height ?? top + rows.length * rowH + 50;
  const frame: Frame = { width, height, left: labelW, right: 16, top, bottom: height - top - rows.length * rowH };
  const plotW = width - frame.left - frame.right;
  const sx = (v: number) => frame.left + ((v - xMin) / (xMax - xMin)) * plotW;

  let marks = 0;
  const rowMarkup = rows.map((row, i) => {
    const cy = top + i * rowH + rowH / 2;
    const spans = row.spans.map((s) => {
      marks++;
      const x0 = sx(Math.max(s.from, xMin));
      const x1 = sx(Math.min(s.to, xMax));
      return html`<rect class="mark span" x="${n(x0)}" y="${n(cy - 6)}" width="${n(Math.max(3, x1 - x0))}" height="12" rx="2" fill="${s.color}" opacity="${s.open ? 0.85 : 0.45}"><title>${s.title}</title></rect>`;
    });
    const events = row.events.map((e) => {
      marks++;
      return eventShape(e.kind, sx(e.x), cy, e.color, true, e.title);
    });
    return html`<g class="timeline-row"><rect x="0" y="${n(top + i * rowH)}" width="${width}" height="${rowH}" fill="${i % 2 === 0 ? '#f6f8fa' : '#ffffff'}"/>
<text class="row-label" x="${labelW - 10}" y="${n(cy + 4)}" text-anchor="end" fill="${INK}">${row.label}</text>${spans}${events}</g>`;
  });
  const ticks = timeTicks(xMin, xMax, Math.max(3, Math.floor(plotW / 80)));
  const axisY = top + rows.length * rowH;
  const xAxis = html`<g class="axis axis-x"><line x1="${frame.left}" x2="${width - frame.right}" y1="${axisY}" y2="${axisY}" stroke="${INK}"/>${ticks.map(
    (t) => html`<line x1="${n(sx(t.value))}" x2="${n(sx(t.value))}" y1="${top}" y2="${axisY + 5}" stroke="${GRID}"/>
<text class="tick tick-x" x="${n(sx(t.value))}" y="${axisY + 18}" text-anchor="middle" fill="${MUTED}">${t.label}</text>`,
  )}<text class="axis-label axis-label-x" x="${n((frame.left + width - frame.right) / 2)}" y="${height - 8}" text-anchor="middle" fill="${INK}">${spec.xLabel}</text></g>`;
  const markers = (spec.xMarkers ?? [])
    .filter((m) => typeof m.x === 'number' && m.x >= xMin && m.x <= xMax)
    .map((m) => ({ x: sx(m.x as number), label: m.label }));

  return html`${svgOpen(spec, width, height, marks, 'timeline')}<title id="${spec.id}-title">${spec.title}</title>
${lg.markup}
${rowMarkup}
${xAxis}
${verticalMarkers({ ...frame, bottom: height - axisY }, markers)}
</svg>`;
}

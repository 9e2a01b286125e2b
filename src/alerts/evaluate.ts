import type { AlertRule, AlertState } from './rules.js';

/**
 * Replaying a rule over one subject's history. The same pure function serves evaluation
 * after a run (whose new transitions are stored) and `rules test` (which only prints them),
 * so a test of a threshold shows exactly what evaluation would record.
 *
 *   inactive --breach--> pending --breach for `for` periods--> firing --recovered--> inactive
 *                            \--no breach--> inactive
 * A rule with `for: 1` goes from inactive straight to firing. While firing, the condition that
 * resolves it is the recovery threshold (hysteresis), so a value hovering around the threshold
 * does not flap.
 */

export interface Observation {
  readonly period: string;
  readonly value: number;
}

export interface MeasuredPoint extends Observation {
  /** The measure the rule compares (the value, its change, z-score, …); null when not yet defined. */
  readonly measure: number | null;
}

export interface Transition {
  readonly period: string;
  readonly from: AlertState;
  readonly to: AlertState;
  /** The measure at that period. */
  readonly value: number | null;
  readonly threshold: number;
  readonly reason: 'breach' | 'held' | 'recovered' | 'cleared' | 'no_data';
}

export interface ReplayResult {
  readonly transitions: readonly Transition[];
  readonly state: AlertState;
  readonly consecutive: number;
  readonly lastPeriod: string | null;
  readonly lastMeasure: number | null;
}

/** The measure of each observation: change and pct_change look back `over` periods; z-score and percentile use history up to and including the period. */
export function measure(rule: Pick<AlertRule, 'measure' | 'over'>, series: readonly Observation[]): MeasuredPoint[] {
  const out: MeasuredPoint[] = [];
  let sum = 0;
  let sumSq = 0;
  const sorted: number[] = [];
  series.forEach((o, i) => {
    sum += o.value;
    sumSq += o.value * o.value;
    // keep `sorted` ordered for the percentile
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! <= o.value) lo = mid + 1;
      else hi = mid;
    }
    sorted.splice(lo, 0, o.value);
    const n = i + 1;
    let m: number | null;
    switch (rule.measure) {
      case 'value':
        m = o.value;
        break;
      case 'change': {
        const prior = series[i - rule.over];
        m = prior ? o.value - prior.value : null;
        break;
      }
      case 'pct_change': {
        const prior = series[i - rule.over];
        m = prior && prior.value > 0 ? o.value / prior.value - 1 : null;
        break;
      }
      case 'zscore': {
        const mean = sum / n;
        const variance = n > 1 ? (sumSq - n * mean * mean) / (n - 1) : 0;
        m = n >= 8 && variance > 0 ? (o.value - mean) / Math.sqrt(variance) : null;
        break;
      }
      case 'percentile':
        m = n >= 8 ? (lo + 1) / n : null; // share of the history at or below this value, itself included
        break;
    }
    out.push({ ...o, measure: m });
  });
  return out;
}

function breaches(op: AlertRule['op'], x: number, threshold: number): boolean {
  switch (op) {
    case '>':
      return x > threshold;
    case '>=':
      return x >= threshold;
    case '<':
      return x < threshold;
    case '<=':
      return x <= threshold;
  }
}

function recovered(rule: AlertRule, x: number): boolean {
  if (rule.recover_below !== undefined) return x < rule.recover_below;
  if (rule.recover_above !== undefined) return x > rule.recover_above;
  return !breaches(rule.op, x, rule.threshold);
}

export function replay(rule: AlertRule, points: readonly MeasuredPoint[], today?: string): ReplayResult {
  const transitions: Transition[] = [];
  let state = 'inactive' as AlertState;
  let consecutive = 0;
  let lastPeriod: string | null = null;
  let lastMeasure: number | null = null;
  const move = (period: string, to: AlertState, value: number | null, reason: Transition['reason']) => {
    transitions.push({ period, from: state, to, value, threshold: rule.threshold, reason });
    state = to;
  };
  for (const p of points) {
    lastPeriod = p.period;
    if (p.measure === null) continue;
    lastMeasure = p.measure;
    if (state === 'firing') {
      if (recovered(rule, p.measure)) {
        consecutive = 0;
        move(p.period, 'inactive', p.measure, 'recovered');
      }
      continue;
    }
    if (breaches(rule.op, p.measure, rule.threshold)) {
      consecutive++;
      if (consecutive >= rule.for) move(p.period, 'firing', p.measure, consecutive > 1 ? 'held' : 'breach');
      else if (state === 'inactive') move(p.period, 'pending', p.measure, 'breach');
    } else {
      consecutive = 0;
      if (state === 'pending') move(p.period, 'inactive', p.measure, 'cleared');
    }
  }
  // No data: the indicator stopped arriving.
  if (rule.no_data && today && rule.no_data.action !== 'keep_last') {
    const cutoff = new Date(`${today}T00:00:00Z`);
    cutoff.setUTCDate(cutoff.getUTCDate() - rule.no_data.after_days);
    const silent = lastPeriod === null || lastPeriod < cutoff.toISOString().slice(0, 10);
    if (silent) {
      if (rule.no_data.action === 'alert' && state !== 'firing') move(today, 'firing', null, 'no_data');
      if (rule.no_data.action === 'resolve' && state !== 'inactive') move(today, 'inactive', null, 'no_data');
    }
  }
  return { transitions, state, consecutive, lastPeriod, lastMeasure };
}

/** Fill a message template: {rule}, {indicator}, {subject}, {period}, {value}, {threshold}, {value_pct}, {threshold_pct} (a fraction as a percent), {op}, {severity}, {measure}, {state}. */
export function renderMessage(rule: AlertRule, subject: string, t: { period: string; value: number | null; to: AlertState; reason?: string }): string {
  const fmt = (x: number | null) => (x === null ? 'no data' : Math.abs(x) >= 1000 ? x.toLocaleString('en-US', { maximumFractionDigits: 1 }) : String(Number(x.toPrecision(4))));
  const values: Record<string, string> = {
    rule: rule.id,
    indicator: rule.indicator,
    subject,
    period: t.period,
    value: fmt(t.value),
    threshold: fmt(rule.threshold),
    value_pct: t.value === null ? 'no data' : `${(t.value * 100).toFixed(1)}%`,
    threshold_pct: `${(rule.threshold * 100).toFixed(1)}%`,
    op: rule.op,
    severity: rule.severity,
    measure: rule.measure === 'value' ? '' : rule.measure,
    state: t.to,
  };
  const text = rule.message.replace(/\{([a-z_]+)\}/g, (whole, name: string) => values[name] ?? whole).replace(/\s{2,}/g, ' ');
  return t.reason === 'no_data' ? `${text} (no data since ${t.period})` : text;
}

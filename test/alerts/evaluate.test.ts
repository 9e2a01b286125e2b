import { describe, expect, it } from 'vitest';
import { measure, renderMessage, replay, type Observation } from '../../src/alerts/evaluate.js';
import { alertRuleSchema, alertsSchema, type AlertRule } from '../../src/alerts/rules.js';
import { formatIssues } from '../../src/config/schema.js';

/** Rules replayed over hand-made series: the state machine on its own. */

function rule(fields: Partial<AlertRule> & Pick<AlertRule, 'op' | 'threshold'>): AlertRule {
  return alertRuleSchema.parse({ id: 'r', indicator: 'x', ...fields });
}

function series(values: number[], start = 2020): Observation[] {
  return values.map((value, i) => ({ period: `${start + i}-12-31`, value }));
}

function run(r: AlertRule, values: number[], today?: string) {
  return replay(r, measure(r, series(values)), today);
}

const path = (t: { to: string; from: string; period: string }) => `${t.period.slice(0, 4)} ${t.from}→${t.to}`;

describe('alert rule replay', () => {
  it('fires on the first breach with for: 1 and resolves when the condition clears', () => {
    const result = run(rule({ op: '>', threshold: 35 }), [30, 36, 37, 34, 33]);
    expect(result.transitions.map(path)).toEqual(['2021 inactive→firing', '2023 firing→inactive']);
    expect(result.state).toBe('inactive');
  });

  it('does not flap when the value hovers around the threshold: it resolves only below the recovery level', () => {
    const r = rule({ op: '>', threshold: 35, recover_below: 33 });
    const result = run(r, [34, 35.5, 34.8, 35.2, 34.9, 33.5, 32.9, 35.1]);
    expect(result.transitions.map(path)).toEqual(['2021 inactive→firing', '2026 firing→inactive', '2027 inactive→firing']);
    // Without hysteresis the same series would flap on every crossing.
    expect(run(rule({ op: '>', threshold: 35 }), [34, 35.5, 34.8, 35.2, 34.9]).transitions).toHaveLength(4);
  });

  it('never fires on a spike shorter than `for`, and fires once it has lasted that long', () => {
    const r = rule({ op: '>', threshold: 1, for: 2 });
    const spike = run(r, [0.9, 1.2, 0.8, 0.9]);
    expect(spike.transitions.map(path)).toEqual(['2021 inactive→pending', '2022 pending→inactive']);
    expect(spike.state).toBe('inactive');
    const held = run(r, [0.9, 1.2, 1.3, 1.1]);
    expect(held.transitions.map(path)).toEqual(['2021 inactive→pending', '2022 pending→firing']);
    expect(held.transitions[1]).toMatchObject({ reason: 'held', value: 1.3 });
  });

  it('compares with < and recover_above for falling indicators', () => {
    const r = rule({ op: '<', threshold: 50, recover_above: 55 });
    expect(run(r, [60, 49, 52, 54, 56]).transitions.map(path)).toEqual(['2021 inactive→firing', '2024 firing→inactive']);
  });

  it('measures change, relative change, z-score and percentile against history up to each period', () => {
    const values = [10, 11, 12, 13, 14, 15, 16, 17, 30];
    const change = measure(rule({ op: '>', threshold: 5, measure: 'change', over: 2 }), series(values));
    expect(change.map((p) => p.measure)).toEqual([null, null, 2, 2, 2, 2, 2, 2, 14]);
    const pct = measure(rule({ op: '>', threshold: 0.5, measure: 'pct_change' }), series([10, 15, 0, 5]));
    expect(pct.map((p) => p.measure)).toEqual([null, 0.5, -1, null]);
    const z = measure(rule({ op: '>', threshold: 2, measure: 'zscore' }), series(values));
    expect(z.slice(0, 7).every((p) => p.measure === null)).toBe(true); // fewer than 8 observations
    const history = values.slice(0, 9);
    const mean = history.reduce((a, b) => a + b, 0) / 9;
    const sd = Math.sqrt(history.reduce((a, b) => a + (b - mean) ** 2, 0) / 8);
    expect(z[8]!.measure).toBeCloseTo((30 - mean) / sd, 12);
    const pctile = measure(rule({ op: '>', threshold: 0.9, measure: 'percentile' }), series(values));
    expect(pctile[8]!.measure).toBe(1);
    expect(pctile[7]!.measure).toBe(1);
  });

  it('handles an indicator that stopped arriving: keep the last state, alert, or resolve', () => {
    const values = [36, 37];
    const base = { op: '>' as const, threshold: 35 };
    expect(run(rule({ ...base, no_data: { after_days: 90, action: 'keep_last' } }), values, '2030-01-01').state).toBe('firing');
    const resolved = run(rule({ ...base, no_data: { after_days: 90, action: 'resolve' } }), values, '2030-01-01');
    expect(resolved.transitions.at(-1)).toMatchObject({ period: '2030-01-01', from: 'firing', to: 'inactive', reason: 'no_data' });
    const alerted = run(rule({ ...base, no_data: { after_days: 90, action: 'alert' } }), [30, 31], '2030-01-01');
    expect(alerted.transitions.at(-1)).toMatchObject({ period: '2030-01-01', to: 'firing', reason: 'no_data' });
    // Data that is recent enough is not "no data".
    expect(run(rule({ ...base, no_data: { after_days: 90, action: 'alert' } }), [30, 31], '2022-01-15').state).toBe('inactive');
  });

  it('fills message templates', () => {
    const r = rule({ op: '>', threshold: 0.35, message: '{subject}: top-10 share {value_pct} on {period}, above {threshold_pct} ({severity})' });
    expect(renderMessage(r, 'SP500', { period: '2026-06-30', value: 0.39662, to: 'firing' })).toBe('SP500: top-10 share 39.7% on 2026-06-30, above 35.0% (warning)');
  });
});

describe('alert rule config', () => {
  it('reports malformed rules as path: message', () => {
    const parsed = alertsSchema.safeParse({
      rules: [
        { id: 'CAPE high', indicator: 'cape', op: '>', threshold: 35 },
        { id: 'a', indicator: 'cape', op: '=>', threshold: 35 },
        { id: 'b', indicator: 'cape', op: '>', threshold: 35, recover_below: 40 },
        { id: 'c', indicator: 'cape', op: '<', threshold: 35, recover_below: 30 },
        { id: 'd', indicator: 'cape', op: '>', threshold: 35, message: 'CAPE {valu}' },
        { id: 'b', indicator: 'cape', op: '>', threshold: 36 },
      ],
    });
    expect(parsed.success).toBe(false);
    expect(formatIssues(parsed.error!, ['alerts'])).toEqual([
      'alerts.rules.0.id: expected a snake_case id such as cape_above_35',
      'alerts.rules.1.op: Invalid option: expected one of ">"|">="|"<"|"<="',
      'alerts.rules.2.recover_below: got 40, expected at most the threshold 35 (otherwise the alert resolves while still breaching)',
      'alerts.rules.3.recover_below: recover_below goes with op ">" or ">="; this rule\'s op is "<" (use recover_above)',
      'alerts.rules.4.message: unknown placeholder {valu}; expected one of {rule}, {indicator}, {subject}, {period}, {value}, {threshold}, {value_pct}, {threshold_pct}, {op}, {severity}, {measure}, {state}',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { undeclaredIndicatorProblems } from '../../src/alerts/known-indicators.js';
import { alertRuleSchema } from '../../src/alerts/rules.js';
import { editDistance, nearestNames } from '../../src/models/index.js';

const rule = (id: string, indicator: string) => alertRuleSchema.parse({ id, indicator, op: '>', threshold: 1 });

describe('known indicators', () => {
  it('measures edit distance with transpositions', () => {
    expect(editDistance('cape', 'cape')).toBe(0);
    expect(editDistance('capee', 'cape')).toBe(1);
    expect(editDistance('cpae', 'cape')).toBe(1);
    expect(editDistance('', 'hhi')).toBe(3);
  });

  it('names the nearest names first', () => {
    const names = ['cape', 'cape_shiller', 'capex', 'capex_ttm', 'hhi', 'top10_share'];
    expect(nearestNames('capee', names)).toEqual(['cape', 'capex', 'capex_ttm']);
    expect(nearestNames('top_10_share', names, 1)).toEqual(['top10_share']);
  });

  it('refuses a rule on an undeclared indicator, naming the rule id, its index and the nearest names', () => {
    const names = ['cape', 'cape_shiller', 'buffett_indicator_pct'];
    const known = { has: (n: string) => names.includes(n), names };
    expect(undeclaredIndicatorProblems([rule('cape_high', 'cape'), rule('typo', 'capee')], known)).toEqual([
      'alerts.rules.1 (id typo).indicator: "capee" is not a declared indicator, so the rule could never fire; expected a declared name, nearest: cape, cape_shiller, buffett_indicator_pct',
    ]);
    expect(undeclaredIndicatorProblems([rule('cape_high', 'cape')], known)).toEqual([]);
  });
});

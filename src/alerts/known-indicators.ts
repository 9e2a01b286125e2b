import type { AlertRule } from './rules.js';

/**
 * Which indicator names a rule may watch, and what to say when it names another: a rule on
 * `capee` parses, evaluates against no rows and never fires, so a typo would stay silent for
 * ever. `rules check` refuses it instead, naming the rule and the declared names nearest to it.
 */

/** Edit distance (insertions, deletions, substitutions, adjacent transpositions) between two names. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The `count` names closest to `name`: by edit distance, then names that contain it or that it
 * contains (`capex` → capex_ttm, capex_yoy …), then alphabetically.
 */
export function nearestNames(name: string, candidates: Iterable<string>, count = 3): string[] {
  const lower = name.toLowerCase();
  const scored = [...new Set(candidates)].map((c) => {
    const distance = editDistance(lower, c.toLowerCase());
    const related = c.includes(lower) || lower.includes(c) ? 0 : 1;
    return { c, distance, related };
  });
  scored.sort((x, y) => x.distance - y.distance || x.related - y.related || x.c.localeCompare(y.c));
  return scored.slice(0, count).map((s) => s.c);
}

/** One line per enabled or disabled rule whose indicator is not among `known`, naming the rule and the nearest names. */
export function undeclaredIndicatorProblems(rules: readonly AlertRule[], known: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  rules.forEach((rule, i) => {
    if (known.has(rule.indicator)) return;
    const nearest = nearestNames(rule.indicator, known);
    problems.push(
      `alerts.rules.${i} (id ${rule.id}).indicator: "${rule.indicator}" is not a declared indicator, so the rule could never fire; ` +
        `expected one of the declared names${nearest.length > 0 ? `, nearest: ${nearest.join(', ')}` : ' (none are declared)'}`,
    );
  });
  return problems;
}

import { nearestNames } from '../models/index.js';
import type { AppConfig } from '../config/load.js';
import type { AnyPipeline, ConfigIndicator } from '../engine/pipeline.js';
import type { AlertRule } from './rules.js';

/**
 * Which indicator names a rule may watch, and what to say when it names another: a rule on
 * `capee` parses, evaluates against no rows and never fires, so a typo would stay silent for
 * ever. `rules check` refuses it instead, naming the rule and the declared names nearest to it.
 */

export interface KnownIndicators {
  /** Whether a rule may name this indicator. */
  readonly has: (name: string) => boolean;
  /** The names to suggest from (fixed names, not patterns). */
  readonly names: readonly string[];
}

/** One line per rule (enabled or not) whose indicator is not known, naming the rule and the nearest names. */
export function undeclaredIndicatorProblems(rules: readonly AlertRule[], known: KnownIndicators): string[] {
  const problems: string[] = [];
  rules.forEach((rule, i) => {
    if (known.has(rule.indicator)) return;
    const nearest = nearestNames(rule.indicator, known.names);
    problems.push(
      `alerts.rules.${i} (id ${rule.id}).indicator: "${rule.indicator}" is not a declared indicator, so the rule could never fire; ` +
        `expected a declared name${nearest.length > 0 ? `, nearest: ${nearest.join(', ')}` : ' (none are declared)'}`,
    );
  });
  return problems;
}

/** The indicators the enabled pipelines' options declare (FRED series marked as indicators). */
export function configuredIndicators(registry: readonly AnyPipeline[], config: Pick<AppConfig, 'pipelines'>): ConfigIndicator[] {
  return registry.flatMap((pipeline) => {
    const entry = config.pipelines.get(pipeline.name);
    return pipeline.indicators && entry?.configured ? [...pipeline.indicators(entry.options)] : [];
  });
}

import { z } from 'zod';

/**
 * Alert rules, as analysts write them in the config file:
 *
 *   - id: cape_above_35
 *     indicator: cape          # any indicator of analytics.indicator_values
 *     subject: SP500           # one subject, a list, or "*" for all (optionally narrowed by family)
 *     op: ">"
 *     threshold: 35
 *     for: 1                   # consecutive periods the condition must hold before it fires
 *     recover_below: 33        # hysteresis: stays firing until the value drops below this
 *     severity: warning
 *     message: "CAPE {value} in {period} is above {threshold}"
 *
 * `measure` compares something other than the value itself: its change over `over` periods,
 * the relative change, or its z-score or percentile against the history up to that period.
 */

export const MEASURES = ['value', 'change', 'pct_change', 'zscore', 'percentile'] as const;
export const OPS = ['>', '>=', '<', '<='] as const;
export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export const PLACEHOLDERS = ['rule', 'indicator', 'subject', 'period', 'value', 'threshold', 'value_pct', 'threshold_pct', 'op', 'severity', 'measure', 'state'] as const;

export const alertRuleSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a snake_case id such as cape_above_35'),
    description: z.string().optional(),
    enabled: z.boolean().default(true),
    indicator: z.string().min(1),
    subject: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default('*'),
    family: z.string().min(1).optional(),
    measure: z.enum(MEASURES).default('value'),
    /** For change and pct_change: how many periods back to compare with. */
    over: z.number().int().min(1).max(1000).default(1),
    op: z.enum(OPS),
    threshold: z.number().refine(Number.isFinite, 'expected a finite number'),
    for: z.number().int().min(1).max(1000).default(1),
    recover_below: z.number().optional(),
    recover_above: z.number().optional(),
    severity: z.enum(SEVERITIES).default('warning'),
    message: z.string().min(1).default('{subject} {indicator} {measure} {value} {op} {threshold} in {period}'),
    /** When the indicator stops arriving: keep the last state, raise an alert, or resolve. */
    no_data: z
      .strictObject({
        after_days: z.number().int().min(1),
        action: z.enum(['keep_last', 'alert', 'resolve']),
      })
      .optional(),
  })
  .superRefine((rule, ctx) => {
    const rising = rule.op === '>' || rule.op === '>=';
    if (rule.recover_below !== undefined && !rising) {
      ctx.addIssue({ code: 'custom', path: ['recover_below'], message: `recover_below goes with op ">" or ">="; this rule's op is "${rule.op}" (use recover_above)` });
    }
    if (rule.recover_above !== undefined && rising) {
      ctx.addIssue({ code: 'custom', path: ['recover_above'], message: `recover_above goes with op "<" or "<="; this rule's op is "${rule.op}" (use recover_below)` });
    }
    if (rule.recover_below !== undefined && rule.recover_below > rule.threshold) {
      ctx.addIssue({ code: 'custom', path: ['recover_below'], message: `got ${rule.recover_below}, expected at most the threshold ${rule.threshold} (otherwise the alert resolves while still breaching)` });
    }
    if (rule.recover_above !== undefined && rule.recover_above < rule.threshold) {
      ctx.addIssue({ code: 'custom', path: ['recover_above'], message: `got ${rule.recover_above}, expected at least the threshold ${rule.threshold}` });
    }
    for (const m of rule.message.matchAll(/\{([a-z_]+)\}/g)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
        ctx.addIssue({ code: 'custom', path: ['message'], message: `unknown placeholder {${m[1]}}; expected one of ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}` });
      }
    }
  });

export const webhookSchema = z.strictObject({
  /** Name of the environment variable holding the webhook URL (it carries a token: never in the file). */
  url_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name such as BUBBLEWATCH_ALERT_WEBHOOK').default('BUBBLEWATCH_ALERT_WEBHOOK'),
  /** While an alert keeps firing, notify again after this long. */
  repeat_interval_hours: z.number().positive().default(24),
  /** Posts per delivery attempt, seconds apart, on network errors, 408, 429 and 5xx. */
  max_attempts: z.number().int().min(1).max(10).default(3),
  timeout_ms: z.number().int().positive().default(10_000),
  /** A notification not delivered is tried again after this long, then twice as long each time… */
  retry_base_seconds: z.number().positive().default(60),
  /** …up to this long between attempts. The scheduler also checks for due notifications every retry_base_seconds. */
  retry_max_seconds: z.number().positive().default(3600),
}).superRefine((w, ctx) => {
  if (w.retry_max_seconds < w.retry_base_seconds) {
    ctx.addIssue({ code: 'custom', path: ['retry_max_seconds'], message: `got ${w.retry_max_seconds}, expected at least retry_base_seconds (${w.retry_base_seconds})` });
  }
});

export const alertsSchema = z
  .strictObject({
    rules: z.array(alertRuleSchema).default([]),
    webhook: webhookSchema.default(webhookSchema.parse({})),
  })
  .superRefine((alerts, ctx) => {
    const seen = new Map<string, number>();
    alerts.rules.forEach((rule, i) => {
      if (seen.has(rule.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `"${rule.id}" is also rules.${seen.get(rule.id)}.id` });
      seen.set(rule.id, i);
    });
  });

export type AlertRule = z.infer<typeof alertRuleSchema>;
export type AlertsConfig = z.infer<typeof alertsSchema>;
export type AlertState = 'inactive' | 'pending' | 'firing';

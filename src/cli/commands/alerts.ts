import { existsSync } from 'node:fs';
import type { DatabaseHandle } from '../../db/connect.js';
import { FAILING_FILES_INDICATOR, replayRules, STALENESS_INDICATOR } from '../../alerts/engine.js';
import { configuredIndicators, undeclaredIndicatorProblems, type KnownIndicators } from '../../alerts/known-indicators.js';
import { ConfigError, errorMessage } from '../../errors.js';
import { declaredIndicators } from '../../models/index.js';
import { formatTable, formatValue } from '../format.js';
import { alertEnvironment, print, withDatabase, type CliContext } from '../context.js';

/** `bubblewatch alerts`, `bubblewatch rules check`, `bubblewatch rules test`. */

function isoDate(text: string | undefined, what: string): string | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(Date.parse(`${text}T00:00:00Z`))) throw new ConfigError(`${what}: got "${text}", expected a date like 2025-06-30`);
  return text;
}

const num = (v: unknown) => (v === null || v === undefined ? '' : formatValue(Number(Number(v).toPrecision(4))));

const minute = (v: unknown) => (v instanceof Date ? v.toISOString().slice(0, 16).replace('T', ' ') + 'Z' : '');

/** What the webhook was told, e.g. "undelivered: 3 attempts, last HTTP 500, next try 2026-11-30 12:04Z". */
export function deliveryText(r: Record<string, unknown>): string {
  const status = r.delivery as string | null | undefined;
  if (!status) return '';
  // The status or the error code; the whole error is in last_delivery_error (--json, the views).
  const full = typeof r.last_delivery_error === 'string' ? r.last_delivery_error : '';
  const error = /^HTTP \d{3}/.exec(full)?.[0] ?? /\bE[A-Z_]{3,}\b/.exec(full)?.[0] ?? (full.length > 30 ? `${full.slice(0, 29)}…` : full);
  if (status === 'undelivered') {
    const attempts = Number(r.delivery_attempts ?? 0);
    if (attempts === 0) return `undelivered: not tried yet, next try ${minute(r.next_attempt_at)}`;
    return `undelivered: ${attempts} attempt${attempts === 1 ? '' : 's'}, last ${error || 'error unknown'}, next try ${minute(r.next_attempt_at)}`;
  }
  if (status === 'refused') return `refused: ${error}`;
  if (status === 'delivered') return `delivered ${minute(r.last_attempt_at)}`;
  return status;
}

export async function alertsCommand(ctx: CliContext, options: { all?: boolean; since?: string; json?: boolean }): Promise<number> {
  const since = isoDate(options.since, '--since');
  return withDatabase(
    ctx,
    'bubblewatch alerts',
    async (handle) => {
      if (!options.all && !since) {
        const { rows } = await handle.withConnection((conn) =>
          conn.query<Record<string, unknown>>(`select * from analytics.alerts_open order by case severity when 'critical' then 0 when 'warning' then 1 else 2 end, rule_id, subject`),
        );
        if (options.json) {
          print(ctx, JSON.stringify(rows, null, 2));
          return 0;
        }
        if (rows.length === 0) {
          print(ctx, `no open alerts (${ctx.config.alerts.rules.filter((r) => r.enabled).length} rule(s) configured; history: bubblewatch alerts --all)`);
          return 0;
        }
        print(
          ctx,
          formatTable(rows, [
            { header: 'severity', value: (r) => String(r.severity) },
            { header: 'rule', value: (r) => String(r.rule_id) },
            { header: 'subject', value: (r) => String(r.subject) },
            { header: 'since', value: (r) => String(r.since_period ?? '') },
            { header: 'latest', value: (r) => String(r.last_period ?? '') },
            { header: 'value', value: (r) => num(r.value), align: 'right' },
            { header: 'threshold', value: (r) => num(r.threshold), align: 'right' },
            { header: 'webhook', value: deliveryText, max: 80 },
            { header: 'message', value: (r) => String(r.message ?? ''), max: 90 },
          ]),
        );
        return 0;
      }
      const { rows } = await handle.withConnection((conn) =>
        conn.query<Record<string, unknown>>(
          `select * from analytics.alert_history where ($1::date is null or period_end >= $1::date) order by period_end, rule_id, subject, event_id limit 2000`,
          [since ?? null],
        ),
      );
      if (options.json) {
        print(ctx, JSON.stringify(rows, null, 2));
        return 0;
      }
      print(
        ctx,
        formatTable(rows, [
          { header: 'period', value: (r) => String(r.period_end) },
          { header: 'rule', value: (r) => String(r.rule_id) },
          { header: 'subject', value: (r) => String(r.subject) },
          { header: 'transition', value: (r) => String(r.transition) },
          { header: 'value', value: (r) => num(r.value), align: 'right' },
          { header: 'threshold', value: (r) => num(r.threshold), align: 'right' },
          { header: 'severity', value: (r) => String(r.severity) },
          { header: 'backfill', value: (r) => (r.is_backfill ? 'yes' : '') },
          { header: 'webhook', value: deliveryText, max: 80 },
          { header: 'message', value: (r) => String(r.message), max: 80 },
        ]),
      );
      return 0;
    },
    { migrateFirst: true },
  );
}

/**
 * The indicators a rule may name: fixed names and narrow patterns (top{n}_share) declared in the
 * models' yml, indicators the pipelines' options declare (FRED series), the built-in source
 * health indicators, and — only when asked, because they come from loaded data — the names
 * analytics.indicators lists from the data (custom series).
 */
function knownIndicators(ctx: CliContext, fromData: readonly string[] = []): KnownIndicators {
  const declared = declaredIndicators();
  const fixed = declared.filter((d) => d.matches === undefined).map((d) => d.name);
  const narrow = declared.filter((d) => d.matches !== undefined && !d.open);
  const names = new Set([...fixed, ...configuredIndicators(ctx.registry, ctx.config).map((i) => i.name), STALENESS_INDICATOR, FAILING_FILES_INDICATOR, ...fromData]);
  return { has: (name) => names.has(name) || narrow.some((d) => d.matches!(name)), names: [...names] };
}

/** The indicator names analytics.indicators lists (those from the data included); undefined before the models are built. */
async function indicatorsInData(handle: DatabaseHandle): Promise<string[] | undefined> {
  return handle.withConnection(async (conn) => {
    const { rows: present } = await conn.query<{ ok: boolean }>(`select to_regclass('analytics.indicators') is not null as ok`);
    if (!present[0]?.ok) return undefined;
    return (await conn.query<{ indicator: string }>('select distinct indicator from analytics.indicators')).rows.map((r) => r.indicator);
  });
}

/**
 * Problems with rules whose indicator is not declared. Names only the loaded data can declare
 * (custom series) are looked up in the database when a rule needs them — through `handle` when
 * the caller has the database open, else by opening it (never creating one); when the database
 * cannot be read, the problem says so.
 */
export async function undeclaredRuleIndicators(ctx: CliContext, handle?: DatabaseHandle): Promise<string[]> {
  const rules = ctx.config.alerts.rules;
  const offline = undeclaredIndicatorProblems(rules, knownIndicators(ctx));
  if (offline.length === 0) return [];
  const unreadable = (reason: string) => offline.map((p) => `${p} (custom series names come from the loaded data, and ${reason})`);
  let fromData: string[] | undefined;
  if (handle) {
    fromData = await indicatorsInData(handle);
  } else {
    if (!ctx.config.databaseUrl && !existsSync(ctx.config.embeddedDir)) return unreadable(`there is no database at ${ctx.config.embeddedDir} yet`);
    try {
      fromData = await withDatabase(ctx, 'bubblewatch rules check', indicatorsInData);
    } catch (error) {
      return unreadable(`the database could not be read: ${errorMessage(error)}`);
    }
  }
  if (fromData === undefined) return unreadable('the database has not been migrated yet (bubblewatch migrate)');
  return undeclaredIndicatorProblems(rules, knownIndicators(ctx, fromData));
}

export async function rulesCheckCommand(ctx: CliContext, options: { json?: boolean }): Promise<number> {
  const rules = ctx.config.alerts.rules;
  const problems = await undeclaredRuleIndicators(ctx);
  if (problems.length > 0) {
    throw new ConfigError(`${ctx.config.file}: ${problems.length} alert rule(s) watch an indicator that is not declared`, problems);
  }
  if (options.json) {
    print(ctx, JSON.stringify(rules, null, 2));
    return 0;
  }
  print(ctx, `${ctx.config.file}: ${rules.length} alert rule(s) valid${ctx.config.alerts.rules.some((r) => !r.enabled) ? ` (${rules.filter((r) => !r.enabled).length} disabled)` : ''}`);
  print(
    ctx,
    formatTable(rules, [
      { header: 'rule', value: (r) => r.id },
      { header: 'on', value: (r) => (r.enabled ? 'yes' : 'no') },
      { header: 'indicator', value: (r) => r.indicator },
      { header: 'subject', value: (r) => (Array.isArray(r.subject) ? r.subject.join(', ') : r.subject) + (r.family ? ` (${r.family})` : '') },
      { header: 'condition', value: (r) => `${r.measure === 'value' ? '' : `${r.measure}${r.over > 1 ? `/${r.over}` : ''} `}${r.op} ${r.threshold}${r.for > 1 ? ` for ${r.for}` : ''}` },
      { header: 'recovers', value: (r) => (r.recover_below !== undefined ? `< ${r.recover_below}` : r.recover_above !== undefined ? `> ${r.recover_above}` : '') },
      { header: 'severity', value: (r) => r.severity },
    ]),
  );
  return 0;
}

export async function rulesTestCommand(ctx: CliContext, options: { rule?: string; from?: string; to?: string; json?: boolean }): Promise<number> {
  const from = isoDate(options.from, '--from');
  const to = isoDate(options.to, '--to');
  if (options.rule && !ctx.config.alerts.rules.some((r) => r.id === options.rule)) {
    throw new ConfigError(`--rule: no rule "${options.rule}" (rules: ${ctx.config.alerts.rules.map((r) => r.id).join(', ') || 'none'})`);
  }
  return withDatabase(
    ctx,
    'bubblewatch rules test',
    async (handle) => {
      const results = await replayRules(alertEnvironment(ctx, handle), { ruleId: options.rule, from, to });
      if (options.json) {
        print(ctx, JSON.stringify(results.map((r) => ({ rule: r.rule.id, subject: r.subject, state: r.state, last_period: r.lastPeriod, last_value: r.lastMeasure, transitions: r.transitions })), null, 2));
        return 0;
      }
      print(ctx, `Replaying ${new Set(results.map((r) => r.rule.id)).size} rule(s) over history${from ? ` from ${from}` : ''}${to ? ` to ${to}` : ''}; nothing is written.`);
      for (const rule of ctx.config.alerts.rules.filter((r) => (options.rule ? r.id === options.rule : r.enabled))) {
        const mine = results.filter((r) => r.rule.id === rule.id);
        print(ctx);
        print(ctx, `${rule.id} (${rule.severity}): ${rule.indicator} ${rule.measure === 'value' ? '' : rule.measure + ' '}${rule.op} ${rule.threshold}${rule.for > 1 ? ` for ${rule.for} periods` : ''}`);
        if (mine.length === 0) {
          print(ctx, '  no data for this indicator and subject yet');
          continue;
        }
        const events = mine.flatMap((r) => r.transitions.map((t) => ({ subject: r.subject, ...t })));
        if (events.length > 0) {
          print(
            ctx,
            formatTable(events, [
              { header: '  period', value: (e) => `  ${e.period}` },
              { header: 'subject', value: (e) => e.subject },
              { header: 'transition', value: (e) => (e.to === 'firing' ? 'fires' : e.from === 'firing' ? 'resolves' : e.to === 'pending' ? 'pending' : 'cleared') },
              { header: 'value', value: (e) => num(e.value), align: 'right' },
              { header: 'why', value: (e) => e.reason },
            ]),
          );
        } else print(ctx, '  never fired in this history');
        for (const r of mine) print(ctx, `  now: ${r.subject} ${r.state} (latest ${r.lastPeriod ?? '-'}: ${num(r.lastMeasure)})`);
      }
      return 0;
    },
    { migrateFirst: true },
  );
}

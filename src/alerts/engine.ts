import type { DatabaseHandle } from '../db/connect.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { measure, renderMessage, replay, type Observation, type Transition } from './evaluate.js';
import { deliverNotifications } from './delivery.js';
import type { Notifier } from './notify.js';
import type { AlertRule, AlertsConfig, AlertState } from './rules.js';

/**
 * Alert evaluation against analytics.indicator_values. Every rule is replayed over each
 * subject's whole history (cheap: a few thousand points), its transitions are stored in
 * etl.alert_events (a transition already stored is not stored again, so evaluating twice
 * changes nothing), and the final state goes to etl.alert_state: one row, one open alert, per
 * rule and subject. Transitions at a subject's latest period are the news: they are logged at
 * the rule's severity and queued for the webhook (never from a backfill; see delivery.ts): a
 * subject's last transition is its current state, news even if the data put it some periods back.
 * Earlier transitions in the history are recorded with one summary line per rule.
 */

export const STALENESS_INDICATOR = 'source_staleness';
/** Source files failing alone per pipeline (a partial pipeline), from etl.file_failures. */
export const FAILING_FILES_INDICATOR = 'source_files_failing';

export interface AlertEnvironment {
  readonly handle: DatabaseHandle;
  readonly logger: Logger;
  readonly config: AlertsConfig;
  readonly notifier?: Notifier | undefined;
  /** Age of each pipeline's newest data over its freshness limit (1 = at the limit), for the source_staleness indicator. */
  readonly staleness?: () => Promise<ReadonlyMap<string, number>>;
  /** Files failing alone per pipeline, for the source_files_failing indicator. */
  readonly failingFiles?: () => Promise<ReadonlyMap<string, number>>;
  readonly now?: () => Date;
}

export interface SubjectResult {
  readonly rule: AlertRule;
  readonly subject: string;
  readonly transitions: readonly Transition[];
  readonly state: AlertState;
  readonly lastPeriod: string | null;
  readonly lastMeasure: number | null;
}

async function loadSeries(env: AlertEnvironment, rule: AlertRule, today: string): Promise<Map<string, Observation[]>> {
  const series = new Map<string, Observation[]>();
  const subjects = rule.subject === '*' ? null : Array.isArray(rule.subject) ? rule.subject : [rule.subject];
  if (rule.indicator === STALENESS_INDICATOR || rule.indicator === FAILING_FILES_INDICATOR) {
    // Figures of the sources as they are today, one per pipeline.
    const now = (await (rule.indicator === STALENESS_INDICATOR ? env.staleness?.() : env.failingFiles?.())) ?? new Map<string, number>();
    for (const [pipeline, value] of now) {
      if (subjects && !subjects.includes(pipeline)) continue;
      series.set(pipeline, [{ period: today, value }]);
    }
    return series;
  }
  const params: unknown[] = [rule.indicator];
  let where = 'indicator = $1';
  if (subjects) {
    params.push(subjects);
    where += ` and subject = any($${params.length}::text[])`;
  }
  if (rule.family) {
    params.push(rule.family);
    where += ` and family = $${params.length}`;
  }
  const { rows } = await env.handle.withConnection((conn) =>
    conn.query<{ subject: string; period_end: string; value: number }>(
      `select subject, period_end, value from analytics.indicator_values where ${where} order by subject, period_end`,
      params,
    ),
  );
  for (const r of rows) {
    const list = series.get(r.subject) ?? [];
    list.push({ period: r.period_end, value: r.value });
    series.set(r.subject, list);
  }
  return series;
}

/** Replay rules over history without writing anything (`bubblewatch rules test`). */
export async function replayRules(env: AlertEnvironment, options: { ruleId?: string | undefined; from?: string | undefined; to?: string | undefined } = {}): Promise<SubjectResult[]> {
  const today = (env.now?.() ?? new Date()).toISOString().slice(0, 10);
  const results: SubjectResult[] = [];
  for (const rule of env.config.rules) {
    if (options.ruleId ? rule.id !== options.ruleId : !rule.enabled) continue;
    const series = await loadSeries(env, rule, today);
    for (const [subject, observations] of series) {
      const within = observations.filter((o) => (!options.to || o.period <= options.to));
      const replayed = replay(rule, measure(rule, within), options.to ? undefined : today);
      const transitions = replayed.transitions.filter((t) => !options.from || t.period >= options.from);
      results.push({ rule, subject, transitions, state: replayed.state, lastPeriod: replayed.lastPeriod, lastMeasure: replayed.lastMeasure });
    }
  }
  return results;
}

export interface EvaluationSummary {
  readonly rules: number;
  readonly newEvents: number;
  readonly firing: readonly { rule: string; subject: string; severity: string; message: string }[];
}

interface StoredEvent {
  event_id: number;
  rule_id: string;
  subject: string;
  period_end: string;
  from_state: AlertState;
  to_state: AlertState;
  value: number | null;
  message: string;
}

/** Evaluate every enabled rule and store what changed. `runId` is the run that triggered it. */
export async function evaluateAlerts(env: AlertEnvironment, trigger: { runId: number | null; isBackfill: boolean }): Promise<EvaluationSummary> {
  const results = await replayRules(env);
  const { handle, logger } = env;
  const fresh: { event: StoredEvent; result: SubjectResult; latest: boolean }[] = [];

  await handle.withTransaction(async (conn) => {
    for (const result of results) {
      const { rule, subject } = result;
      for (const t of result.transitions) {
        const message = t.reason === 'no_data'
          ? `${rule.indicator} for ${subject}: no data since ${result.lastPeriod ?? 'ever'} (${rule.id})`
          : renderMessage(rule, subject, t);
        const { rows } = await conn.query<StoredEvent>(
          `insert into etl.alert_events (rule_id, subject, period_end, from_state, to_state, value, threshold, severity, message, reason, run_id, is_backfill)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           on conflict (rule_id, subject, period_end, from_state, to_state) do nothing
           returning event_id, rule_id, subject, period_end, from_state, to_state, value, message`,
          [rule.id, subject, t.period, t.from, t.to, t.value, t.threshold, rule.severity, message, t.reason, trigger.runId, trigger.isBackfill],
        );
        // The last transition is the subject's current state: news, even when it happened a while ago in the data.
        if (rows[0]) fresh.push({ event: rows[0], result, latest: t === result.transitions.at(-1) });
      }
      const last = result.transitions.at(-1);
      await conn.query(
        `insert into etl.alert_state (rule_id, subject, state, since_period, last_period, value, threshold, severity, message, indicator, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
         on conflict (rule_id, subject) do update set
           indicator = excluded.indicator, state = excluded.state, since_period = excluded.since_period, last_period = excluded.last_period,
           value = excluded.value, threshold = excluded.threshold, severity = excluded.severity, message = excluded.message,
           last_notified_at = case when etl.alert_state.state = excluded.state then etl.alert_state.last_notified_at end,
           updated_at = now()
         where (etl.alert_state.indicator, etl.alert_state.state, etl.alert_state.since_period, etl.alert_state.last_period, etl.alert_state.value,
                etl.alert_state.threshold, etl.alert_state.severity, etl.alert_state.message)
               is distinct from
               (excluded.indicator, excluded.state, excluded.since_period, excluded.last_period, excluded.value,
                excluded.threshold, excluded.severity, excluded.message)`,
        [
          rule.id,
          subject,
          result.state,
          last?.period ?? null,
          result.lastPeriod,
          result.lastMeasure,
          rule.threshold,
          rule.severity,
          last?.reason === 'no_data'
            ? `${rule.indicator} for ${subject}: no data since ${result.lastPeriod ?? 'ever'}`
            : result.lastPeriod
              ? renderMessage(rule, subject, { period: result.lastPeriod, value: result.lastMeasure, to: result.state })
              : null,
          rule.indicator,
        ],
      );
    }
    // Rules taken out of the config leave no open alerts behind (their events stay as history).
    await conn.query(`delete from etl.alert_state where not (rule_id = any($1::text[]))`, [env.config.rules.filter((r) => r.enabled).map((r) => r.id)]);
  });

  // Logging: the latest transitions one line each at the rule's severity; history in one line per rule.
  const historical = new Map<string, number>();
  for (const { event, result, latest } of fresh) {
    // period and value are the transition's; latest_* what the indicator says now (a firing line's message quotes those).
    const fields = {
      rule: event.rule_id, subject: event.subject, period: event.period_end, from: event.from_state, to: event.to_state, value: event.value,
      latest_period: result.lastPeriod, latest_value: result.lastMeasure, threshold: result.rule.threshold, severity: result.rule.severity, backfill: trigger.isBackfill,
    };
    if (!latest) {
      historical.set(event.rule_id, (historical.get(event.rule_id) ?? 0) + 1);
      continue;
    }
    const current = event.to_state === 'firing' && result.lastPeriod && event.message.indexOf('no data since') < 0
      ? renderMessage(result.rule, event.subject, { period: result.lastPeriod, value: result.lastMeasure, to: 'firing' })
      : event.message;
    if (event.to_state === 'firing') {
      const level = result.rule.severity === 'critical' ? 'error' : result.rule.severity === 'warning' ? 'warn' : 'info';
      const since = event.period_end === result.lastPeriod ? '' : ` (since ${event.period_end}; latest ${result.lastPeriod})`;
      logger[level](fields, `ALERT ${result.rule.severity.toUpperCase()} ${event.rule_id} firing for ${event.subject}${since}: ${current}`);
    } else if (event.from_state === 'firing') {
      logger.info(fields, `alert ${event.rule_id} resolved for ${event.subject} (${event.period_end}): ${event.message}`);
    } else {
      logger.info(fields, `alert ${event.rule_id} ${event.to_state} for ${event.subject} (${event.period_end}): ${event.message}`);
    }
  }
  for (const [rule, n] of historical) logger.info({ rule, events: n }, `alert ${rule}: recorded ${n} transition(s) in earlier periods of the history`);

  // Notifications: the delivery pass queues the new transitions (and reminders that are due) and
  // sends what is due, including what earlier evaluations could not deliver. A backfill never notifies.
  if (env.notifier && !trigger.isBackfill) {
    await deliverNotifications(env).catch((e: unknown) => logger.error({ err: e }, `alert notifications: delivery pass failed: ${errorMessage(e)}`));
  }

  const firing = results
    .filter((r) => r.state === 'firing')
    .map((r) => ({ rule: r.rule.id, subject: r.subject, severity: r.rule.severity, message: renderMessage(r.rule, r.subject, { period: r.lastPeriod ?? '', value: r.lastMeasure, to: r.state }) }));
  return { rules: env.config.rules.filter((r) => r.enabled).length, newEvents: fresh.length, firing };
}

import { setTimeout as delay } from 'node:timers/promises';
import { rememberSecrets, urlForDisplay } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { backoffDelay } from '../engine/retry.js';
import type { AlertRule, AlertState } from './rules.js';

/**
 * A webhook: one JSON POST per notification with a Slack-compatible `text` field beside the
 * structured fields, retried with backoff on network errors, 429 and 5xx. The URL comes from
 * the environment because it usually carries a token; it never appears in a log line.
 */

export interface Notification {
  readonly rule: AlertRule;
  readonly subject: string;
  readonly state: AlertState;
  readonly period: string;
  readonly value: number | null;
  readonly message: string;
  /** A reminder that the alert is still firing. */
  readonly repeat: boolean;
}

export interface Notifier {
  /** True when delivered; false when the receiver refused it for good. */
  send(notification: Notification): Promise<boolean>;
}

export interface WebhookOptions {
  readonly url: string;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly baseDelayMs?: number;
}

const ICON: Record<string, string> = { critical: ':rotating_light:', warning: ':warning:', info: ':information_source:' };

export function webhookNotifier(options: WebhookOptions): Notifier {
  rememberSecrets({ url: options.url });
  const where = urlForDisplay(options.url);
  return {
    async send(n) {
      const headline =
        n.state === 'firing'
          ? `${ICON[n.rule.severity] ?? ''} ${n.repeat ? 'Still firing' : 'Firing'} [${n.rule.severity}] ${n.rule.id} — ${n.subject}`
          : `:white_check_mark: Resolved ${n.rule.id} — ${n.subject}`;
      const body = JSON.stringify({
        text: `${headline}: ${n.message}`,
        rule: n.rule.id,
        subject: n.subject,
        state: n.state,
        severity: n.rule.severity,
        indicator: n.rule.indicator,
        period: n.period,
        value: n.value,
        threshold: n.rule.threshold,
        message: n.message,
        repeat: n.repeat,
      });
      for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
        let status: number | null = null;
        try {
          const response = await fetch(options.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'user-agent': 'bubblewatch-alerts' },
            body,
            signal: AbortSignal.timeout(options.timeoutMs),
          });
          status = response.status;
          await response.arrayBuffer().catch(() => undefined);
          if (response.ok) return true;
          if (status !== 429 && status < 500) {
            options.logger.warn({ rule: n.rule.id, status }, `alert webhook at ${where} refused the notification with HTTP ${status}; not retrying`);
            return false;
          }
        } catch (error) {
          options.logger.debug({ err: error, attempt }, `alert webhook at ${where}: attempt ${attempt} failed`);
        }
        if (attempt < options.maxAttempts) await delay(backoffDelay({ maxAttempts: options.maxAttempts, baseMs: options.baseDelayMs ?? 500, maxMs: 10_000 }, attempt));
        else options.logger.warn({ rule: n.rule.id, status, attempts: attempt }, `alert webhook at ${where} failed after ${attempt} attempt(s)${status ? ` (last HTTP ${status})` : ''}`);
      }
      return false;
    },
  };
}

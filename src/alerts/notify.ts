import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage, redactSecrets, rememberSecrets, urlForDisplay } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { backoffDelay } from '../engine/retry.js';
import type { AlertRule, AlertState } from './rules.js';

/**
 * A webhook: one JSON POST per notification with a Slack-compatible `text` field beside the
 * structured fields. One delivery attempt posts up to `maxAttempts` times, seconds apart, on
 * network errors, 408, 429 and 5xx; what still fails is retried later from the queue (see
 * delivery.ts). The URL comes from the environment because it usually carries a token; it never
 * appears in a log line or a stored error.
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

export interface DeliveryResult {
  /** delivered: a 2xx. refused: a 4xx other than 408 and 429, which posting again would not change. failed: worth another try. */
  readonly outcome: 'delivered' | 'refused' | 'failed';
  /** HTTP status of the last post, if it got an answer. */
  readonly status: number | null;
  /** Why the last post failed: `HTTP 500: <start of the answer>` or the network error. */
  readonly error: string | null;
  readonly posts: number;
  /** The receiver's Retry-After (429, 503), in milliseconds. */
  readonly retryAfterMs?: number;
}

export interface Notifier {
  send(notification: Notification, signal?: AbortSignal): Promise<DeliveryResult>;
}

export interface WebhookOptions {
  readonly url: string;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly baseDelayMs?: number;
}

/**
 * At most this much of a receiver's answer is read. The answer only serves to explain a failure,
 * and a receiver that streams without end must not fill memory until the timeout.
 */
export const MAX_RESPONSE_BYTES = 64 * 1024;

const ICON: Record<string, string> = { critical: ':rotating_light:', warning: ':warning:', info: ':information_source:' };

/** Read at most `limit` bytes of a body, then cancel the rest (which closes the connection). */
export async function readCapped(body: ReadableStream<Uint8Array> | null, limit = MAX_RESPONSE_BYTES): Promise<{ text: string; bytes: number; truncated: boolean }> {
  if (!body) return { text: '', bytes: 0, truncated: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const room = limit - bytes;
      chunks.push(value.byteLength > room ? value.subarray(0, room) : value);
      bytes += Math.min(value.byteLength, room);
      if (value.byteLength >= room) {
        truncated = true;
        break;
      }
    }
  } finally {
    if (truncated) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return { text: Buffer.concat(chunks).toString('utf8'), bytes, truncated };
}

/** The start of a receiver's answer on one line, printable, for an error message. */
function excerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?').trim();
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A network error as its cause says it (fetch only says "fetch failed"). */
function networkError(error: unknown): string {
  const e = error as { name?: string; cause?: unknown };
  if (e?.name === 'TimeoutError') return 'no answer within the timeout';
  const cause = e?.cause as { code?: string; message?: string } | undefined;
  return redactSecrets(cause?.message ?? errorMessage(error));
}

export function webhookNotifier(options: WebhookOptions): Notifier {
  rememberSecrets({ url: options.url });
  const where = urlForDisplay(options.url);
  return {
    async send(n, signal) {
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
      let last: DeliveryResult = { outcome: 'failed', status: null, error: null, posts: 0 };
      for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
        if (signal?.aborted) break;
        try {
          const timeout = AbortSignal.timeout(options.timeoutMs);
          const response = await fetch(options.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'user-agent': 'bubblewatch-alerts' },
            body,
            signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
          });
          const status = response.status;
          // The answer is read with a cap: it only explains a failure, and must not fill memory.
          const answer = await readCapped(response.body).catch(() => ({ text: '', bytes: 0, truncated: false }));
          if (response.ok) return { outcome: 'delivered', status, error: null, posts: attempt };
          const error = `HTTP ${status}${answer.text.trim() ? `: ${excerpt(answer.text)}` : ''}`;
          const after = retryAfterMs(response.headers.get('retry-after'));
          last = { outcome: 'failed', status, error, posts: attempt, ...(after !== undefined ? { retryAfterMs: after } : {}) };
          if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
            options.logger.debug({ rule: n.rule.id, subject: n.subject, status }, `alert webhook at ${where} refused the notification with ${error}`);
            return { ...last, outcome: 'refused' };
          }
        } catch (error) {
          last = { outcome: 'failed', status: null, error: networkError(error), posts: attempt };
          options.logger.debug({ attempt, error: last.error }, `alert webhook at ${where}: attempt ${attempt} failed: ${last.error}`);
        }
        if (attempt < options.maxAttempts && !signal?.aborted) {
          await delay(backoffDelay({ maxAttempts: options.maxAttempts, baseMs: options.baseDelayMs ?? 500, maxMs: 10_000 }, attempt), undefined, signal ? { signal } : {}).catch(() => undefined);
        }
      }
      // The caller logs the outcome once, at warn (delivery.ts); this line says where.
      options.logger.debug(
        { rule: n.rule.id, subject: n.subject, status: last.status, posts: last.posts },
        `alert webhook at ${where} failed after ${last.posts} attempt(s): ${last.error ?? 'stopped'}`,
      );
      return last;
    },
  };
}

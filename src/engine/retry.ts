import { InputFileError, ConfigError, DataCheckError, MigrationError } from '../errors.js';

/**
 * Which failures are worth another attempt. Transient: the database connection was refused,
 * reset or dropped, a serialization failure or deadlock, an HTTP 429 or 5xx or a network
 * timeout. Everything else (bad input, bad config, a failed data check, a bug) is permanent:
 * retrying would fail the same way.
 */

const TRANSIENT_SQLSTATE = /^(08\d{3}|40001|40P01|53300|57P01|57P02|57P03)$/;
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

export function isTransient(error: unknown): boolean {
  if (error instanceof InputFileError || error instanceof ConfigError || error instanceof DataCheckError || error instanceof MigrationError) return false;
  if (!(error instanceof Error)) return false;
  const e = error as Error & { code?: unknown; transient?: unknown; cause?: unknown };
  if (typeof e.transient === 'boolean') return e.transient;
  if (typeof e.code === 'string' && (TRANSIENT_SQLSTATE.test(e.code) || TRANSIENT_NODE_CODES.has(e.code))) return true;
  if (/Connection terminated|connection (?:refused|reset)|server closed the connection|terminating connection/i.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== error ? isTransient(e.cause) : false;
}

const CONNECTION_SQLSTATE = /^(08\d{3}|57P01|57P02|57P03)$/;

/** The database connection itself failed or was lost (as opposed to a statement failing). */
export function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const e = error as Error & { code?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && (CONNECTION_SQLSTATE.test(e.code) || TRANSIENT_NODE_CODES.has(e.code))) return true;
  if (/Connection terminated|connection (?:refused|reset)|server closed the connection|terminating connection/i.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== error ? isConnectionLoss(e.cause) : false;
}

export interface BackoffPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Exponential backoff with full jitter: a random wait up to base × 2^(attempt-1), capped. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}

import type { HttpSettings, QuerySecret } from '../config/schema.js';
import type { Fetcher } from '../engine/discover.js';
import type { Logger } from '../log/logger.js';
import { fetchCached } from './fetch-cached.js';

/** The engine's Fetcher for URL sources, with the configured User-Agent, rate limit, cache, retries and size cap. */
export function createFetcher(http: HttpSettings, logger: Logger): Fetcher {
  return async (url, expect) => {
    const result = await fetchCached(withQuerySecrets(url, http.secrets ?? []), {
      userAgent: http.user_agent ?? '',
      cacheDir: http.cache_dir,
      maxRequestsPerSecond: http.max_requests_per_second,
      timeoutMs: http.timeout_ms,
      maxBytes: http.max_bytes,
      maxAttempts: http.max_attempts,
      backoffBaseMs: http.backoff_base_ms,
      expectContentType: expect,
    });
    logger.info(
      { url: result.url, status: result.status, bytes: result.bytes, attempts: result.attempts },
      `${result.url}: ${result.status === 'not-modified' ? 'not modified since the last download' : `downloaded ${result.bytes} bytes`}`,
    );
    return { path: result.path, status: result.status };
  };
}

/**
 * The URL to request: the query secrets of its host (an API key from the environment) added,
 * unless the URL sets the parameter itself. The URL without them is what the ledger keeps; the
 * values are known secrets (rememberSecrets), masked wherever a message would show them.
 */
export function withQuerySecrets(url: string, secrets: readonly QuerySecret[]): string {
  const mine = secrets.filter((s) => new URL(url).host.toLowerCase() === s.host.toLowerCase());
  if (mine.length === 0) return url;
  const parsed = new URL(url);
  for (const s of mine) if (!parsed.searchParams.has(s.param)) parsed.searchParams.set(s.param, s.value);
  return parsed.toString();
}

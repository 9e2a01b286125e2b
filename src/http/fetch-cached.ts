import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { basename, dirname, extname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { BubblewatchError, ConfigError, EXIT_RUN_FAILED, errorMessage, redactSecrets } from '../errors.js';

/**
 * Download a source file over HTTP(S) politely, into a local cache.
 *
 * Written for the SEC (data.sec.gov company facts, Financial Statement Data Set zips), whose
 * fair-access rules are strict: a User-Agent naming a contact, at most 10 requests a second,
 * and an IP that ignores them is blocked for a while. So every request names a contact, a
 * process-wide limiter spaces requests per host (retries included), failures back off with
 * jitter, and a file that has not changed is not downloaded again (ETag / Last-Modified).
 *
 * The cache holds, per URL, a body file and a small JSON metadata file, named from the
 * URL's SHA-256. Both are written to a temporary file and renamed into place, so a crash
 * never leaves a partial file under the final name.
 */

export interface FetchCachedOptions {
  /** Sent with every request; must name a contact (an e-mail address or a URL). */
  userAgent: string;
  /** Folder of the cache; created when missing. */
  cacheDir: string;
  /** Per host, shared by every call in the process and counting retries. SEC: 10. */
  maxRequestsPerSecond: number;
  /** Deadline of one attempt, from sending the request to the last byte of the body. */
  timeoutMs: number;
  /** Most (decoded) bytes a body may have. */
  maxBytes: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Backoff before retry k (1-based) is a random wait up to backoffBaseMs × 2^(k-1), at most 30 s. */
  backoffBaseMs: number;
  /** Refuse a body that is not of this kind (an HTML error page with status 200, typically). */
  expectContentType?: 'json' | 'zip' | 'csv' | undefined;
  /** Aborting rejects with the signal's reason, at once, without retrying. */
  signal?: AbortSignal;
  /** Wall clock in epoch milliseconds (default Date.now): rate limiting, Retry-After dates, metadata. */
  now?: () => number;
  /** Waits of the rate limiter and of backoff (not the per-attempt timeout, which uses real timers). */
  sleep?: (ms: number) => Promise<void>;
}

export interface FetchResult {
  /** The URL as requested, without credentials and with secret-looking query values masked: safe to log. */
  readonly url: string;
  /** File in cacheDir holding the body. */
  readonly path: string;
  readonly status: 'downloaded' | 'not-modified';
  readonly etag: string | null;
  readonly lastModified: string | null;
  /** Size of the (decoded) body in `path`. */
  readonly bytes: number;
  /** Requests made, retries included. */
  readonly attempts: number;
}

/**
 * A download failed. `transient` says whether trying again later may succeed (timeouts,
 * resets, 429, 5xx) or not (404, a body too large, HTML instead of JSON).
 */
export class FetchError extends BubblewatchError {
  readonly exitCode = EXIT_RUN_FAILED;
  constructor(
    message: string,
    /** The URL without credentials. */
    readonly url: string,
    /** HTTP status of the last response, or null when none arrived. */
    readonly status: number | null,
    readonly transient: boolean,
    readonly attempts: number,
  ) {
    super(message);
  }
}

/** The longest backoff between two attempts. */
export const MAX_BACKOFF_MS = 30_000;

/**
 * The longest Retry-After honoured. A server asking for more is unavailable for this run:
 * waiting would stall the schedule, and retrying sooner than asked is what gets an IP blocked.
 */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EPIPE',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  // undici's "other side closed": its name for a socket hang up.
  'UND_ERR_SOCKET',
]);

/** 408 is a 4xx that by definition may succeed on a new request. */
function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Bytes kept from the start of a body to check what it is and to quote it in errors. */
const HEAD_BYTES = 512;

const SECRET_QUERY_KEY = /(key|token|secret|passw|signature|^sig$|auth)/i;

export async function fetchCached(url: string, options: FetchCachedOptions): Promise<FetchResult> {
  checkOptions(options);
  const target = parseTarget(url);
  const now = options.now ?? Date.now;
  const pause = makePause(options.sleep, options.signal);
  options.signal?.throwIfAborted();

  await mkdir(options.cacheDir, { recursive: true });
  const files = cacheFiles(options.cacheDir, target.requestUrl);
  const cached = await readCache(files);

  for (let attempt = 1; ; attempt++) {
    await pause(reserveSlot(now, target.host, options.maxRequestsPerSecond));
    let outcome: FetchResult | Retry;
    try {
      outcome = await attemptOnce(target, files, cached, options, attempt, now);
    } catch (error) {
      if (error instanceof FetchError || options.signal?.aborted) throw error;
      // Our own bug or the file system (disk full, permissions): not worth retrying.
      throw new FetchError(`GET ${target.display}: ${errorMessage(error)}`, target.display, null, false, attempt);
    }
    if (!(outcome instanceof Retry)) return outcome;

    const what = `GET ${target.display}: ${outcome.problem}`;
    if (outcome.retryAfterMs !== null && outcome.retryAfterMs > MAX_RETRY_AFTER_MS) {
      throw new FetchError(
        `${what}; the server asked to wait ${Math.ceil(outcome.retryAfterMs / 1000)} s (Retry-After), ` +
          `more than the ${MAX_RETRY_AFTER_MS / 1000} s this run waits; try again later`,
        target.display,
        outcome.status,
        true,
        attempt,
      );
    }
    if (attempt >= options.maxAttempts) {
      const tries = attempt === 1 ? '1 attempt' : `${attempt} attempts`;
      throw new FetchError(`${what}; gave up after ${tries} (a transient failure: try again later)`, target.display, outcome.status, true, attempt);
    }
    const cap = Math.min(MAX_BACKOFF_MS, options.backoffBaseMs * 2 ** (attempt - 1));
    // Full jitter: clients that failed together do not come back together.
    await pause(Math.max(outcome.retryAfterMs ?? 0, Math.random() * cap));
  }
}

/** A failed attempt that may succeed if tried again. */
class Retry {
  constructor(
    readonly problem: string,
    readonly status: number | null,
    readonly retryAfterMs: number | null,
  ) {}
}

interface Target {
  /** Without credentials: fetch() refuses URLs that carry them. */
  readonly requestUrl: string;
  readonly display: string;
  /** Limiter key: host and port. */
  readonly host: string;
  readonly authorization: string | null;
}

interface CacheFiles {
  readonly body: string;
  readonly meta: string;
}

interface CacheMeta {
  readonly url: string;
  readonly etag: string | null;
  readonly lastModified: string | null;
  readonly contentType: string | null;
  readonly bytes: number;
  readonly sha256: string;
  readonly fetchedAt: string;
}

async function attemptOnce(
  target: Target,
  files: CacheFiles,
  cached: CacheMeta | null,
  options: FetchCachedOptions,
  attempt: number,
  now: () => number,
): Promise<FetchResult | Retry> {
  const headers: Record<string, string> = {
    'user-agent': options.userAgent,
    // undici decodes these transparently; the size cap counts decoded bytes.
    'accept-encoding': 'gzip, deflate',
  };
  if (target.authorization) headers.authorization = target.authorization;
  if (cached?.etag) headers['if-none-match'] = cached.etag;
  if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${options.timeoutMs} ms`));
  }, options.timeoutMs);
  const callerSignal = options.signal;
  const onCallerAbort = (): void => controller.abort(callerSignal?.reason);
  callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  let stage = 'waiting for the response';

  try {
    const response = await fetch(target.requestUrl, { headers, redirect: 'follow', signal: controller.signal });
    const status = response.status;
    const statusText = `HTTP ${status} ${STATUS_CODES[status] ?? response.statusText}`.trim();

    if (status === 304 && cached) {
      await response.body?.cancel();
      const etag = response.headers.get('etag') ?? cached.etag;
      const lastModified = response.headers.get('last-modified') ?? cached.lastModified;
      if (etag !== cached.etag || lastModified !== cached.lastModified) {
        await writeAtomically(files.meta, JSON.stringify({ ...cached, etag, lastModified }, null, 2) + '\n');
      }
      return { url: target.display, path: files.body, status: 'not-modified', etag, lastModified, bytes: cached.bytes, attempts: attempt };
    }
    if (status !== 200) {
      stage = 'reading the error response';
      const snippet = await bodySnippet(response);
      const got = snippet === '' ? statusText : `${statusText}, body "${snippet}"`;
      if (isTransientStatus(status)) return new Retry(got, status, retryAfterMs(response.headers.get('retry-after'), now));
      throw new FetchError(`GET ${target.display}: got ${got}; expected 200 OK${cached ? ' or 304 Not Modified' : ''}`, target.display, status, false, attempt);
    }

    const tooLarge = `expected at most ${options.maxBytes} (raise sources.max_bytes)`;
    const encoding = (response.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
    const declared = Number(response.headers.get('content-length') ?? NaN);
    // A Content-Length counts encoded bytes, so it only decides for an unencoded body.
    if (encoding === 'identity' && declared > options.maxBytes) {
      await response.body?.cancel();
      throw new FetchError(`GET ${target.display}: announced ${declared} bytes (Content-Length); ${tooLarge}`, target.display, status, false, attempt);
    }

    stage = 'reading the body';
    const temp = tempPathFor(files.body);
    let written: Written;
    try {
      written = await streamToFile(response.body, temp, options.maxBytes);
      if (written.bytes > options.maxBytes) {
        throw new FetchError(`GET ${target.display}: streamed more than ${options.maxBytes} bytes; ${tooLarge}`, target.display, status, false, attempt);
      }
      if (encoding === 'identity' && Number.isInteger(declared) && written.bytes !== declared) {
        return new Retry(`the body ended after ${written.bytes} of ${declared} bytes (Content-Length)`, status, null);
      }
      const wrongKind = checkContent(options.expectContentType, response.headers.get('content-type'), written.head);
      if (wrongKind) throw new FetchError(`GET ${target.display}: ${wrongKind}`, target.display, status, false, attempt);
      await rename(temp, files.body);
    } finally {
      await unlink(temp).catch(() => undefined);
    }

    const meta: CacheMeta = {
      url: target.display,
      etag: response.headers.get('etag'),
      lastModified: response.headers.get('last-modified'),
      contentType: response.headers.get('content-type'),
      bytes: written.bytes,
      sha256: written.sha256,
      fetchedAt: new Date(now()).toISOString(),
    };
    // Written after the body: a crash between the two leaves metadata whose size does not
    // match the body, and readCache() then ignores it (a full download, never a wrong 304).
    await writeAtomically(files.meta, JSON.stringify(meta, null, 2) + '\n');
    return {
      url: target.display,
      path: files.body,
      status: 'downloaded',
      etag: meta.etag,
      lastModified: meta.lastModified,
      bytes: meta.bytes,
      attempts: attempt,
    };
  } catch (error) {
    if (error instanceof FetchError) throw error;
    if (callerSignal?.aborted) throw callerSignal.reason;
    if (timedOut) return new Retry(`timed out after ${options.timeoutMs} ms ${stage}`, null, null);
    if (isTransientNetworkError(error)) return new Retry(`network error ${stage}: ${describeNetworkError(error)}`, null, null);
    // fetch() fails with a TypeError: DNS name not found, certificate rejected, too many
    // redirects, …: retrying cannot help. Anything else (the file system) is handled by the caller.
    if (error instanceof TypeError) {
      throw new FetchError(`GET ${target.display}: network error ${stage}: ${describeNetworkError(error)}`, target.display, null, false, attempt);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    callerSignal?.removeEventListener('abort', onCallerAbort);
    // Frees the connection of any response not read to the end.
    controller.abort();
  }
}

interface Written {
  readonly bytes: number;
  readonly sha256: string;
  readonly head: Buffer;
}

/**
 * Stream a body to `path`, stopping as soon as more than `maxBytes` arrived (bytes then
 * reports maxBytes + 1 or more). Chunks are written as they come, so memory stays small
 * whatever the size of the file.
 */
async function streamToFile(body: ReadableStream<Uint8Array> | null, path: string, maxBytes: number): Promise<Written> {
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let headBytes = 0;
  let bytes = 0;
  const handle = await open(path, 'wx');
  try {
    const reader = body?.getReader();
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > maxBytes) {
        await reader.cancel().catch(() => undefined);
        break;
      }
      hash.update(value);
      if (headBytes < HEAD_BYTES) {
        head.push(Buffer.from(value.subarray(0, HEAD_BYTES - headBytes)));
        headBytes += Math.min(value.byteLength, HEAD_BYTES - headBytes);
      }
      await handle.write(value);
    }
    // On disk before the rename, so a power cut cannot leave a complete name over missing data.
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { bytes, sha256: hash.digest('hex'), head: Buffer.concat(head) };
}

/** Why the start of a body is not what was expected, or null when it is. */
function checkContent(expect: FetchCachedOptions['expectContentType'], contentType: string | null, head: Buffer): string | null {
  if (!expect) return null;
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart();
  const type = contentType ?? 'none';
  const starts = `starts "${quote(text, 80)}"`;
  const wanted = { json: 'JSON', zip: 'a zip archive (starting PK\\x03\\x04)', csv: 'CSV' }[expect];
  // Gateways and the SEC answer some failures with an HTML page and status 200.
  if (/html/i.test(type) || text.startsWith('<')) return `got HTML (content-type ${type}, ${starts}); expected ${wanted}`;
  if (expect === 'json' && !/^[{[]/.test(text)) return `got content-type ${type}, ${starts}; expected JSON (an object or an array)`;
  if (expect === 'zip' && !head.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) {
    return `got content-type ${type}, first bytes ${head.subarray(0, 4).toString('hex') || '(empty body)'}; expected ${wanted}`;
  }
  return null;
}

/** The start of an error response, readable in one line: tags dropped, whitespace collapsed. */
async function bodySnippet(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    while (size < 4096) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ');
  return quote(text, 200);
}

function quote(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const cut = line.length > max ? `${line.slice(0, max)}…` : line;
  return cut.replace(/"/g, '\\"');
}

/** Retry-After in milliseconds from now: delta seconds or an HTTP date; null when absent or unreadable. */
function retryAfterMs(value: string | null, now: () => number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now());
}

// ---- rate limiting ----

/**
 * The next free request slot per host. Requests are spaced 1000/maxRequestsPerSecond ms apart
 * rather than sent in bursts, which is gentler on the server and never exceeds the rate in
 * any one-second window. Slots are reserved synchronously, so concurrent calls queue up.
 *
 * Keyed by clock first: a slot time only compares with times from the same clock, and tests
 * that inject a clock then get their own limiter. Every call that uses the default clock
 * (all production calls) shares one limiter per host.
 */
const nextSlots = new WeakMap<() => number, Map<string, number>>();

/** Reserve the next slot for `host`; returns how long to wait for it. */
function reserveSlot(now: () => number, host: string, perSecond: number): number {
  let hosts = nextSlots.get(now);
  if (!hosts) nextSlots.set(now, (hosts = new Map()));
  const t = now();
  const slot = Math.max(t, hosts.get(host) ?? t);
  hosts.set(host, slot + 1000 / perSecond);
  return slot - t;
}

function makePause(sleep: FetchCachedOptions['sleep'], signal: AbortSignal | undefined): (ms: number) => Promise<void> {
  return async (ms) => {
    if (ms <= 0) return;
    signal?.throwIfAborted();
    if (!sleep) {
      await delay(ms, undefined, { signal }).catch((error: unknown) => {
        throw signal?.aborted ? signal.reason : error;
      });
      return;
    }
    if (!signal) return sleep(ms);
    // An injected sleep knows nothing of the signal: race it, so aborting never waits.
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([sleep(ms), aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
}

// ---- network errors ----

/** Codes along an error's cause chain (fetch wraps the socket error in TypeError("fetch failed")). */
function errorCodes(error: unknown, depth = 0): string[] {
  if (depth > 5 || typeof error !== 'object' || error === null) return [];
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown; message?: unknown };
  const codes: string[] = [];
  if (typeof e.code === 'string') codes.push(e.code);
  if (typeof e.message === 'string' && /socket hang up/i.test(e.message)) codes.push('ECONNRESET');
  codes.push(...errorCodes(e.cause, depth + 1));
  // Connecting to several addresses (happy eyeballs) fails with an AggregateError.
  if (Array.isArray(e.errors)) for (const inner of e.errors) codes.push(...errorCodes(inner, depth + 1));
  return codes;
}

function isTransientNetworkError(error: unknown): boolean {
  return errorCodes(error).some((code) => TRANSIENT_CODES.has(code));
}

/** "fetch failed" says nothing; the innermost cause says what happened. */
function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let i = 0; i < 6 && current instanceof Error; i++) {
    const code = (current as { code?: unknown }).code;
    const text = typeof code === 'string' && !current.message.includes(code) ? `${current.message} (${code})` : current.message;
    if (text && text !== 'fetch failed' && text !== 'terminated') parts.push(text);
    current = current.cause;
  }
  return redactSecrets(parts.length > 0 ? parts.join(': ') : errorMessage(error));
}

// ---- the cache ----

function cacheFiles(cacheDir: string, requestUrl: string): CacheFiles {
  const key = createHash('sha256').update(requestUrl).digest('hex');
  // Keep the URL's extension, so the body can be recognised (and matched by a source pattern).
  const ext = extname(new URL(requestUrl).pathname).toLowerCase();
  const suffix = /^\.[a-z0-9]{1,10}$/.test(ext) && ext !== '.tmp' && ext !== '.part' ? ext : '.body';
  return { body: join(cacheDir, `${key}${suffix}`), meta: join(cacheDir, `${key}.meta.json`) };
}

/**
 * The metadata of the cached copy, or null when there is none to trust: missing, unreadable,
 * or not matching the body's size (a crash between writing the two). The cache is only an
 * optimisation, so a doubtful entry means a full download, not an error.
 */
async function readCache(files: CacheFiles): Promise<CacheMeta | null> {
  try {
    const meta = JSON.parse(await readFile(files.meta, 'utf8')) as Partial<CacheMeta>;
    const body = await stat(files.body);
    const ok =
      typeof meta.bytes === 'number' &&
      body.size === meta.bytes &&
      (typeof meta.etag === 'string' || typeof meta.lastModified === 'string');
    if (!ok) return null;
    return {
      url: String(meta.url),
      etag: typeof meta.etag === 'string' ? meta.etag : null,
      lastModified: typeof meta.lastModified === 'string' ? meta.lastModified : null,
      contentType: typeof meta.contentType === 'string' ? meta.contentType : null,
      bytes: meta.bytes as number,
      sha256: String(meta.sha256),
      fetchedAt: String(meta.fetchedAt),
    };
  } catch {
    return null;
  }
}

/** A hidden temporary name beside the target: same file system for the rename, and skipped by source discovery. */
function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

async function writeAtomically(path: string, content: string): Promise<void> {
  const temp = tempPathFor(path);
  try {
    await writeFile(temp, content, { flag: 'wx' });
    await rename(temp, path);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

// ---- arguments ----

/** Credentials move from the URL to an Authorization header and never appear in messages. */
function parseTarget(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`fetch URL: got "${redactSecrets(url)}"; expected an absolute http:// or https:// URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(`fetch URL: got "${displayUrl(parsed)}"; expected an http:// or https:// URL`);
  }
  let authorization: string | null = null;
  if (parsed.username || parsed.password) {
    const user = decodeURIComponent(parsed.username);
    const password = decodeURIComponent(parsed.password);
    authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  const bare = new URL(parsed.href);
  bare.username = '';
  bare.password = '';
  bare.hash = '';
  return { requestUrl: bare.href, display: displayUrl(parsed), host: parsed.host, authorization };
}

function displayUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  for (const key of new Set(copy.searchParams.keys())) {
    if (SECRET_QUERY_KEY.test(key)) copy.searchParams.set(key, '***');
  }
  return copy.href;
}

const EMAIL = /[\w.%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}/i;
const CONTACT_URL = /(\bhttps?:\/\/|\bwww\.)[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}/i;

function checkOptions(options: FetchCachedOptions): void {
  const ua = options.userAgent;
  // The SEC refuses requests whose User-Agent names no contact (403 "Undeclared Automated Tool").
  if (typeof ua !== 'string' || /[\x00-\x1f\x7f]/.test(ua) || !(EMAIL.test(ua) || CONTACT_URL.test(ua))) {
    throw new ConfigError(
      `fetch User-Agent: got ${JSON.stringify(ua)}; expected a name and a contact e-mail address or URL, ` +
        'e.g. "bubblewatch/0.1 (analyst@example.com)" (the SEC refuses requests without one)',
    );
  }
  const numbers: readonly [keyof FetchCachedOptions, number, boolean, string][] = [
    ['maxRequestsPerSecond', options.maxRequestsPerSecond, false, 'a number > 0 (the SEC allows 10)'],
    ['timeoutMs', options.timeoutMs, false, 'a number of milliseconds > 0'],
    ['maxBytes', options.maxBytes, true, 'a whole number of bytes ≥ 1'],
    ['maxAttempts', options.maxAttempts, true, 'a whole number ≥ 1'],
  ];
  for (const [name, value, integer, expected] of numbers) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      throw new ConfigError(`fetch option ${name}: got ${String(value)}; expected ${expected}`);
    }
  }
  const base = options.backoffBaseMs;
  if (typeof base !== 'number' || !Number.isFinite(base) || base < 0) {
    throw new ConfigError(`fetch option backoffBaseMs: got ${String(base)}; expected a number of milliseconds ≥ 0`);
  }
  if (typeof options.cacheDir !== 'string' || options.cacheDir === '') {
    throw new ConfigError(`fetch option cacheDir: got ${JSON.stringify(options.cacheDir)}; expected a folder path`);
  }
}

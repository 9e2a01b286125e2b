import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect, it, onTestFinished } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { FetchError, fetchCached, type FetchCachedOptions } from '../../src/http/fetch-cached.js';

/**
 * Every test runs a real HTTP server on 127.0.0.1 and a fake clock: waits (rate limiter,
 * backoff, Retry-After) are recorded instead of slept, and the assertions are on what was
 * recorded, never on elapsed time. Only the per-attempt timeout uses real (short) timers.
 */

const UA = 'bubblewatch/0.1 (analyst@example.com)';
const T0 = Date.UTC(2026, 0, 5, 6, 15, 0);

/** A temporary cache folder, removed after the test. */
function makeCacheDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bubblewatch-fetch-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Seen {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

async function serve(handler: Handler): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    handler(req, res, seen.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, seen };
}

/** A clock that only moves when something sleeps on it: sequential waits add up. */
function fakeClock(start = T0): { now: () => number; sleep: (ms: number) => Promise<void>; sleeps: number[] } {
  let t = start;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

function options(cacheDir: string, clock: ReturnType<typeof fakeClock>, overrides: Partial<FetchCachedOptions> = {}): FetchCachedOptions {
  return {
    userAgent: UA,
    cacheDir,
    // Not under test here: fast enough that it never makes anyone wait.
    maxRequestsPerSecond: 1_000_000,
    timeoutMs: 5_000,
    maxBytes: 1_000_000,
    maxAttempts: 3,
    backoffBaseMs: 100,
    now: clock.now,
    sleep: clock.sleep,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<FetchError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FetchError);
  return error as FetchError;
}

const FACTS = JSON.stringify({ cik: 789019, entityName: 'MICROSOFT CORPORATION', facts: {} });

/** A resource with an ETag and a Last-Modified that honours conditional requests. */
function versioned(state: { body: string; etag: string }): Handler {
  return (req, res) => {
    const headers = { etag: state.etag, 'last-modified': 'Mon, 05 Jan 2026 06:00:00 GMT', 'content-type': 'application/json' };
    if (req.headers['if-none-match'] === state.etag) {
      res.writeHead(304, headers).end();
    } else {
      res.writeHead(200, headers).end(state.body);
    }
  };
}

it('downloads into the cache: a body file and a metadata file, with the User-Agent sent', async () => {
  const cache = makeCacheDir();
  const { base, seen } = await serve(versioned({ body: FACTS, etag: '"v1"' }));
  const clock = fakeClock();

  const result = await fetchCached(`${base}/api/xbrl/companyfacts/CIK0000789019.json`, options(cache, clock, { expectContentType: 'json' }));

  expect(result).toEqual({
    url: `${base}/api/xbrl/companyfacts/CIK0000789019.json`,
    path: expect.stringMatching(/[0-9a-f]{64}\.json$/),
    status: 'downloaded',
    etag: '"v1"',
    lastModified: 'Mon, 05 Jan 2026 06:00:00 GMT',
    bytes: Buffer.byteLength(FACTS),
    attempts: 1,
  });
  expect(readFileSync(result.path, 'utf8')).toBe(FACTS);
  expect(readdirSync(cache).sort()).toEqual([basename(result.path), basename(result.path).replace(/\.json$/, '.meta.json')].sort());
  const meta = JSON.parse(readFileSync(result.path.replace(/\.json$/, '.meta.json'), 'utf8'));
  expect(meta).toMatchObject({ etag: '"v1"', lastModified: 'Mon, 05 Jan 2026 06:00:00 GMT', bytes: Buffer.byteLength(FACTS), fetchedAt: new Date(T0).toISOString() });
  expect(meta.sha256).toMatch(/^[0-9a-f]{64}$/);

  expect(seen).toHaveLength(1);
  expect(seen[0]!.headers['user-agent']).toBe(UA);
  expect(seen[0]!.headers['accept-encoding']).toBe('gzip, deflate');
  expect(seen[0]!.headers['if-none-match']).toBeUndefined();
  expect(clock.sleeps).toEqual([]);
});

it('asks again with If-None-Match and If-Modified-Since, and a 304 keeps the cached file', async () => {
  const cache = makeCacheDir();
  const { base, seen } = await serve(versioned({ body: FACTS, etag: '"v1"' }));
  const clock = fakeClock();
  const first = await fetchCached(`${base}/facts.json`, options(cache, clock));

  const second = await fetchCached(`${base}/facts.json`, options(cache, clock));

  expect(second).toEqual({ ...first, status: 'not-modified' });
  expect(seen[1]!.headers['if-none-match']).toBe('"v1"');
  expect(seen[1]!.headers['if-modified-since']).toBe('Mon, 05 Jan 2026 06:00:00 GMT');
  expect(readFileSync(second.path, 'utf8')).toBe(FACTS);
});

it('downloads a changed resource (new ETag) again, into the same path', async () => {
  const cache = makeCacheDir();
  const state = { body: FACTS, etag: '"v1"' };
  const { base, seen } = await serve(versioned(state));
  const clock = fakeClock();
  const first = await fetchCached(`${base}/facts.json`, options(cache, clock));

  state.body = JSON.stringify({ cik: 789019, facts: { changed: true } });
  state.etag = '"v2"';
  const second = await fetchCached(`${base}/facts.json`, options(cache, clock));

  expect(seen[1]!.headers['if-none-match']).toBe('"v1"');
  expect(second).toMatchObject({ status: 'downloaded', etag: '"v2"', path: first.path, bytes: Buffer.byteLength(state.body) });
  expect(readFileSync(second.path, 'utf8')).toBe(state.body);
  const third = await fetchCached(`${base}/facts.json`, options(cache, clock));
  expect(third).toMatchObject({ status: 'not-modified', etag: '"v2"' });
  expect(readdirSync(cache)).toHaveLength(2);
});

it('does not send conditional headers when the cached body is gone', async () => {
  const cache = makeCacheDir();
  const { base, seen } = await serve(versioned({ body: FACTS, etag: '"v1"' }));
  const clock = fakeClock();
  const first = await fetchCached(`${base}/facts.json`, options(cache, clock));
  rmSync(first.path);

  const second = await fetchCached(`${base}/facts.json`, options(cache, clock));

  expect(seen[1]!.headers['if-none-match']).toBeUndefined();
  expect(second.status).toBe('downloaded');
  expect(readFileSync(second.path, 'utf8')).toBe(FACTS);
});

it('retries 503 twice then succeeds, waiting as Retry-After asks (seconds, then an HTTP date)', async () => {
  const cache = makeCacheDir();
  const clock = fakeClock();
  const { base, seen } = await serve((_req, res, n) => {
    if (n === 1) res.writeHead(503, { 'retry-after': '2' }).end('busy');
    else if (n === 2) res.writeHead(503, { 'retry-after': new Date(clock.now() + 5_000).toUTCString() }).end('still busy');
    else res.writeHead(200, { 'content-type': 'application/json' }).end(FACTS);
  });

  const result = await fetchCached(`${base}/facts.json`, options(cache, clock, { backoffBaseMs: 100 }));

  expect(result).toMatchObject({ status: 'downloaded', attempts: 3 });
  expect(seen).toHaveLength(3);
  // The backoff (at most 100 and 200 ms here) is shorter than asked, so the server's wait wins.
  expect(clock.sleeps).toEqual([2_000, 5_000]);
});

it('backs off with full jitter, doubling up to 30 s, and gives up as transient', async () => {
  const cache = makeCacheDir();
  const clock = fakeClock();
  const { base, seen } = await serve((_req, res) => void res.writeHead(502).end('<html><body><h1>Bad gateway</h1></body></html>'));

  const error = await failure(fetchCached(`${base}/facts.json`, options(cache, clock, { maxAttempts: 5, backoffBaseMs: 10_000 })));

  expect(error).toMatchObject({ status: 502, transient: true, attempts: 5, url: `${base}/facts.json` });
  expect(error.message).toBe(`GET ${base}/facts.json: HTTP 502 Bad Gateway, body "Bad gateway"; gave up after 5 attempts (a transient failure: try again later)`);
  expect(seen).toHaveLength(5);
  expect(clock.sleeps).toHaveLength(4);
  const caps = [10_000, 20_000, 30_000, 30_000];
  clock.sleeps.forEach((ms, i) => {
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThanOrEqual(caps[i]!);
  });
  expect(readdirSync(cache)).toEqual([]);
});

it('gives up at once when Retry-After asks for more than it will wait', async () => {
  const cache = makeCacheDir();
  const clock = fakeClock();
  const { base, seen } = await serve((_req, res) => void res.writeHead(429, { 'retry-after': '3600' }).end());

  const error = await failure(fetchCached(`${base}/facts.json`, options(cache, clock)));

  expect(error).toMatchObject({ status: 429, transient: true, attempts: 1 });
  expect(error.message).toContain('the server asked to wait 3600 s (Retry-After)');
  expect(seen).toHaveLength(1);
  expect(clock.sleeps).toEqual([]);
});

it('fails at once on 404, naming the URL without its credentials, the status and the body', async () => {
  const cache = makeCacheDir();
  const { base, seen } = await serve((_req, res) => void res.writeHead(404, { 'content-type': 'text/plain' }).end('No such CIK\n'));
  const url = base.replace('http://', 'http://analyst:s3cret@');

  const error = await failure(fetchCached(`${url}/api/CIK0000000000.json`, options(makeCacheDir(), fakeClock())));

  expect(error).toMatchObject({ status: 404, transient: false, attempts: 1, url: `${base}/api/CIK0000000000.json` });
  expect(error.exitCode).toBe(1);
  expect(error.message).toBe(`GET ${base}/api/CIK0000000000.json: got HTTP 404 Not Found, body "No such CIK"; expected 200 OK`);
  expect(error.message).not.toContain('s3cret');
  expect(seen).toHaveLength(1);
  // The credentials still reach the server, as Basic authorization.
  expect(seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('analyst:s3cret').toString('base64')}`);
  expect(readdirSync(cache)).toEqual([]);
});

it('times out an attempt that gets no response, retries, then fails as transient', async () => {
  const cache = makeCacheDir();
  const clock = fakeClock();
  const { base, seen } = await serve(() => undefined);

  const error = await failure(fetchCached(`${base}/slow.json`, options(cache, clock, { timeoutMs: 100, maxAttempts: 2 })));

  expect(error).toMatchObject({ status: null, transient: true, attempts: 2 });
  expect(error.message).toBe(`GET ${base}/slow.json: timed out after 100 ms waiting for the response; gave up after 2 attempts (a transient failure: try again later)`);
  expect(seen).toHaveLength(2);
  expect(clock.sleeps).toHaveLength(1);
});

it('retries a connection the server drops', async () => {
  const cache = makeCacheDir();
  const { base, seen } = await serve((req, res, n) => {
    if (n === 1) req.socket.destroy();
    else res.writeHead(200).end('a,b\n1,2\n');
  });

  const result = await fetchCached(`${base}/data.csv`, options(cache, fakeClock(), { expectContentType: 'csv' }));

  expect(result).toMatchObject({ status: 'downloaded', attempts: 2, path: expect.stringMatching(/\.csv$/) });
  expect(seen).toHaveLength(2);
});

it('stops a body larger than maxBytes, leaving no file behind and the previous copy intact', async () => {
  const cache = makeCacheDir();
  let endless = false;
  const { base } = await serve((_req, res) => {
    if (!endless) return void res.writeHead(200, { etag: '"small"' }).end('small');
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(16_384, 'x');
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  });
  const first = await fetchCached(`${base}/big.zip`, options(cache, fakeClock()));
  const before = readdirSync(cache).sort();

  endless = true;
  const error = await failure(fetchCached(`${base}/big.zip`, options(cache, fakeClock(), { maxBytes: 100_000 })));

  expect(error).toMatchObject({ status: 200, transient: false, attempts: 1 });
  expect(error.message).toBe(`GET ${base}/big.zip: streamed more than 100000 bytes; expected at most 100000 (raise sources.max_bytes)`);
  expect(readdirSync(cache).sort()).toEqual(before);
  expect(readFileSync(first.path, 'utf8')).toBe('small');
});

it('refuses a body whose Content-Length is already too large, before reading it', async () => {
  const cache = makeCacheDir();
  const { base } = await serve((_req, res) => void res.writeHead(200, { 'content-length': '5000000' }).end(Buffer.alloc(5_000_000)));

  const error = await failure(fetchCached(`${base}/big.zip`, options(cache, fakeClock(), { maxBytes: 1_000 })));

  expect(error.message).toBe(`GET ${base}/big.zip: announced 5000000 bytes (Content-Length); expected at most 1000 (raise sources.max_bytes)`);
  expect(readdirSync(cache)).toEqual([]);
});

it('decodes gzip, and the size cap counts decoded bytes', async () => {
  const cache = makeCacheDir();
  const zeros = Buffer.alloc(2_000_000, '0');
  const { base, seen } = await serve((req, res) => {
    const body = req.url === '/small.json' ? Buffer.from(FACTS) : zeros;
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' }).end(gzipSync(body));
  });

  const small = await fetchCached(`${base}/small.json`, options(cache, fakeClock(), { expectContentType: 'json' }));
  expect(readFileSync(small.path, 'utf8')).toBe(FACTS);
  expect(small.bytes).toBe(Buffer.byteLength(FACTS));
  expect(seen[0]!.headers['accept-encoding']).toBe('gzip, deflate');

  // About 2 KB on the wire, 2 MB decoded.
  const error = await failure(fetchCached(`${base}/bomb.json`, options(cache, fakeClock(), { maxBytes: 1_000_000 })));
  expect(error.message).toContain('streamed more than 1000000 bytes');
  expect(readdirSync(cache)).toHaveLength(2);
});

it('refuses an HTML page when JSON is expected', async () => {
  const cache = makeCacheDir();
  const page = '<!DOCTYPE html>\n<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head><body>…</body></html>';
  const { base } = await serve((_req, res) => void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page));

  const error = await failure(fetchCached(`${base}/facts.json`, options(cache, fakeClock(), { expectContentType: 'json' })));

  expect(error).toMatchObject({ transient: false, status: 200, attempts: 1 });
  expect(error.message).toBe(
    `GET ${base}/facts.json: got HTML (content-type text/html; charset=utf-8, starts "<!DOCTYPE html> <html><head><title>SEC.gov | Request Rate Threshold Exceeded</ti…"); expected JSON`,
  );
  expect(readdirSync(cache)).toEqual([]);
});

it('refuses HTML served as JSON, and checks a zip by its first bytes', async () => {
  const cache = makeCacheDir();
  const { base } = await serve((req, res) => {
    if (req.url === '/html.json') res.writeHead(200, { 'content-type': 'application/json' }).end('  <html>oops</html>');
    else if (req.url === '/good.zip') res.writeHead(200).end(Buffer.from('PK\x03\x04rest-of-archive', 'latin1'));
    else res.writeHead(200, { 'content-type': 'application/zip' }).end('not a zip');
  });

  expect((await failure(fetchCached(`${base}/html.json`, options(cache, fakeClock(), { expectContentType: 'json' })))).message).toContain('got HTML');
  const good = await fetchCached(`${base}/good.zip`, options(cache, fakeClock(), { expectContentType: 'zip' }));
  expect(good).toMatchObject({ status: 'downloaded', path: expect.stringMatching(/\.zip$/) });
  expect((await failure(fetchCached(`${base}/bad.zip`, options(cache, fakeClock(), { expectContentType: 'zip' })))).message).toBe(
    `GET ${base}/bad.zip: got content-type application/zip, first bytes 6e6f7420; expected a zip archive (starting PK\\x03\\x04)`,
  );
});

it('refuses a User-Agent without a contact before making any request', async () => {
  const { base, seen } = await serve((_req, res) => void res.end('x'));
  const attempt = (userAgent: string): Promise<unknown> => fetchCached(`${base}/x.json`, options(makeCacheDir(), fakeClock(), { userAgent }));

  await expect(attempt('bubblewatch/0.1')).rejects.toThrow(ConfigError);
  await expect(attempt('bubblewatch/0.1')).rejects.toThrow(
    'fetch User-Agent: got "bubblewatch/0.1"; expected a name and a contact e-mail address or URL, e.g. "bubblewatch/0.1 (analyst@example.com)"',
  );
  await expect(attempt('')).rejects.toThrow(ConfigError);
  await expect(attempt('bubblewatch (analyst@example.com)\r\nX-Evil: 1')).rejects.toThrow(ConfigError);
  expect(seen).toHaveLength(0);

  await attempt('bubblewatch/0.1 (+https://bubblewatch.example.org/contact)');
  expect(seen[0]!.headers['user-agent']).toBe('bubblewatch/0.1 (+https://bubblewatch.example.org/contact)');
});

it('spaces 25 concurrent calls to one host at 10 per second over 2.4 s', async () => {
  const { base, seen } = await serve((_req, res) => void res.writeHead(200).end('{}'));
  // A clock that stands still: each wait is recorded as the time the request may start.
  const starts: number[] = [];
  const now = (): number => T0;
  const sleep = async (ms: number): Promise<void> => void starts.push(T0 + ms);
  const cache = makeCacheDir();

  const results = await Promise.all(
    Array.from({ length: 25 }, (_, i) =>
      fetchCached(`${base}/facts-${i}.json`, { ...options(cache, fakeClock()), maxRequestsPerSecond: 10, now, sleep }),
    ),
  );

  expect(results.every((r) => r.status === 'downloaded')).toBe(true);
  expect(seen).toHaveLength(25);
  const schedule = [T0, ...starts].sort((a, b) => a - b).map((t) => t - T0);
  expect(schedule).toHaveLength(25);
  expect(schedule.at(-1)).toBeGreaterThanOrEqual(2_000);
  // No window of one second holds more than 10 starts.
  for (let i = 0; i + 10 < schedule.length; i++) expect(schedule[i + 10]! - schedule[i]!).toBeGreaterThanOrEqual(1_000);
});

it('counts retries against the rate limit', async () => {
  const cache = makeCacheDir();
  const clock = fakeClock();
  const { base } = await serve((_req, res, n) => void (n === 1 ? res.writeHead(500).end() : res.writeHead(200).end('{}')));

  const result = await fetchCached(`${base}/facts.json`, options(cache, clock, { maxRequestsPerSecond: 1, backoffBaseMs: 10 }));

  expect(result.attempts).toBe(2);
  // A backoff of at most 10 ms, then the rest of the second the limiter keeps between requests.
  expect(clock.sleeps).toHaveLength(2);
  expect(clock.sleeps[0]!).toBeLessThanOrEqual(10);
  expect(clock.sleeps[0]! + clock.sleeps[1]!).toBeCloseTo(1_000, 3);
});

it('stops when the caller aborts, without retrying', async () => {
  const cache = makeCacheDir();
  const controller = new AbortController();
  const { base, seen } = await serve((_req, res) => {
    res.writeHead(503).end();
    controller.abort(new Error('shutting down'));
  });

  await expect(fetchCached(`${base}/facts.json`, options(cache, fakeClock(), { signal: controller.signal, maxAttempts: 5 }))).rejects.toThrow('shutting down');
  expect(seen).toHaveLength(1);
  await expect(fetchCached(`${base}/facts.json`, options(cache, fakeClock(), { signal: controller.signal }))).rejects.toThrow('shutting down');
  expect(seen).toHaveLength(1);
  expect(existsSync(cache) ? readdirSync(cache) : []).toEqual([]);
});

it('refuses options it cannot work with', async () => {
  const cache = makeCacheDir();
  await expect(fetchCached('ftp://example.com/x', options(cache, fakeClock()))).rejects.toThrow('fetch URL: got "ftp://example.com/x"; expected an http:// or https:// URL');
  await expect(fetchCached('https://data.sec.gov/x', options(cache, fakeClock(), { maxAttempts: 0 }))).rejects.toThrow(
    'fetch option maxAttempts: got 0; expected a whole number ≥ 1',
  );
  await expect(fetchCached('https://data.sec.gov/x', options(cache, fakeClock(), { maxRequestsPerSecond: Number.NaN }))).rejects.toThrow(ConfigError);
});

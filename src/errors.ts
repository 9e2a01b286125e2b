/**
 * A handful of error classes. Code below the CLI throws them; only the top level
 * (src/cli/main.ts) catches, logs once and picks the exit code.
 *
 * Every message says what went wrong, where, what was found and what was expected.
 */

export const EXIT_OK = 0;
export const EXIT_RUN_FAILED = 1;
export const EXIT_USAGE = 2;

export abstract class BubblewatchError extends Error {
  abstract readonly exitCode: number;
  override readonly name: string = this.constructor.name;
}

/** Configuration or command-line usage is wrong: fix the config or the command (exit 2). */
export class ConfigError extends BubblewatchError {
  readonly exitCode = EXIT_USAGE;
  constructor(
    message: string,
    readonly problems: readonly string[] = [],
  ) {
    super(problems.length > 0 ? `${message}\n${problems.map((p) => `  - ${p}`).join('\n')}` : message);
  }
}

/** Where in an input file a problem was found. Lines and columns are 1-based. */
export interface InputLocation {
  readonly file: string;
  readonly line?: number;
  readonly column?: number | string;
}

/**
 * A source file that cannot be read as a whole (wrong header, not a CSV, bad encoding,
 * truncated archive, invalid JSON). The run that meets it fails and loads nothing.
 */
export class InputFileError extends BubblewatchError {
  readonly exitCode = EXIT_RUN_FAILED;
  constructor(
    readonly location: InputLocation,
    readonly problem: string,
    readonly got?: string,
    readonly expected?: string,
  ) {
    super(formatInputProblem(location, problem, got, expected));
  }
}

export function formatInputProblem(
  location: InputLocation,
  problem: string,
  got?: string,
  expected?: string,
): string {
  let where = location.file;
  if (location.line !== undefined) where += `:${location.line}`;
  if (location.column !== undefined) where += ` column ${location.column}`;
  let text = `${where}: ${problem}`;
  if (got !== undefined) text += `; got ${got}`;
  if (expected !== undefined) text += `; expected ${expected}`;
  return text;
}

/** The embedded database folder is held by another process. */
export class LockError extends BubblewatchError {
  readonly exitCode = EXIT_USAGE;
}

/** Migration history in the database does not match sql/migrations. */
export class MigrationError extends BubblewatchError {
  readonly exitCode = EXIT_RUN_FAILED;
}

/** A pipeline run failed; the run row in etl.runs holds the cause. */
export class RunFailedError extends BubblewatchError {
  readonly exitCode = EXIT_RUN_FAILED;
  constructor(
    readonly pipeline: string,
    readonly runId: number,
    override readonly cause: unknown,
  ) {
    super(`run ${runId} of pipeline ${pipeline} failed: ${errorMessage(cause)}`);
  }
}

/** A data check of severity "error" found failing rows. */
export class DataCheckError extends BubblewatchError {
  readonly exitCode = EXIT_RUN_FAILED;
}

/** A run was asked to stop (shutdown); it rolls back and is recorded as interrupted. */
export class RunInterrupted extends BubblewatchError {
  readonly exitCode = EXIT_RUN_FAILED;
  constructor(reason: unknown) {
    super(`interrupted: ${reason instanceof Error ? reason.message : String(reason ?? 'stop requested')}`);
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RunInterrupted(signal.reason);
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return describeThrown(error);
}

/**
 * Words for a thrown value that is not an Error (WebAssembly file systems throw plain objects
 * such as `{ name: 'ErrnoError', errno: 44 }`, which String() prints as "[object Object]").
 */
export function describeThrown(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value !== 'object' || value === null) return String(value);
  const record = value as Record<string, unknown>;
  const name = typeof record.name === 'string' && record.name ? record.name : (value.constructor?.name ?? 'object');
  if (typeof record.message === 'string' && record.message) return `${name}: ${record.message}`;
  const fields = Object.entries(record).filter(([k, v]) => k !== 'name' && k !== 'stack' && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'));
  return fields.length > 0 ? `${name} (${fields.map(([k, v]) => `${k} ${String(v)}`).join(', ')})` : name;
}

/** A message PostgreSQL can store: text columns refuse NUL, so it is written \u0000 (as JSON would). */
export function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '\\u0000') : text;
}

// ---------------------------------------------------------------- secrets

/**
 * Remove credentials from a message, a log line or command output:
 *  1. every secret this process knows (rememberSecrets: the DATABASE_URL password, PGPASSWORD,
 *     the alert webhook's token), wherever it appears, as written, decoded or encoded;
 *  2. the password of any `scheme://user:password@host` in the text, up to the LAST `@` of the
 *     host part, as node-postgres parses it (a password may hold `@`; in a postgres:// string it
 *     may hold spaces too, which node-postgres encodes before parsing);
 *  3. `password=…` of a key=value DSN and PGPASSWORD=…, quoted values included;
 *  4. the values of query parameters named like secrets (`token`, `password`, `api_key`, `sig`…),
 *     also in a URL with no path (`http://host:port?token=…`).
 * Each pass is linear in the text (a message may quote 50 MB of a file back).
 */
export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) if (out.includes(secret)) out = out.split(secret).join('***');
  out = redactUserinfo(out);
  out = out.replace(DSN_PASSWORD, '$1***');
  return redactQuerySecrets(out);
}

/** Shorter secrets are removed only where a URL or DSN holds them, not wherever the letters appear. */
const MIN_KNOWN_SECRET = 4;
/** Longest first, so that a secret containing another is removed whole. */
let knownSecrets: string[] = [];

/**
 * Learn the secrets in these environment values, so that redactSecrets removes them wherever
 * they appear: a URL gives its password (as node-postgres parses it, and as written) and its
 * secret-named query values and long path segments (Slack and Discord put their token in the
 * path); any other value is a secret as a whole (PGPASSWORD).
 */
export function rememberSecrets(values: Readonly<Record<string, string | undefined>>): void {
  const found = new Set(knownSecrets);
  for (const value of Object.values(values)) {
    if (!value) continue;
    for (const secret of value.includes('://') ? secretsOfUrl(value) : [value]) {
      for (const form of [secret, safeDecode(secret), encodeURIComponent(secret)]) {
        if (form.length >= MIN_KNOWN_SECRET && form !== '***') found.add(form);
      }
    }
  }
  knownSecrets = [...found].sort((a, b) => b.length - a.length);
}

/** The secrets of a URL: pg-connection-string's parse (spaces and stray % encoded, then WHATWG URL), and the password as written. */
function secretsOfUrl(url: string): string[] {
  const found: string[] = [];
  let text = url;
  if (/ |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(text)) text = encodeURI(text).replace(/%25(\d\d)/g, '%$1');
  const parsed = parseUrl(text) ?? parseUrl(text.replace('@/', '@___DUMMY___/'));
  if (parsed) {
    if (parsed.password) found.push(parsed.password);
    for (const [name, value] of parsed.searchParams) if (value && SECRET_PARAM.test(name)) found.push(value);
    if (!/^postgres(ql)?:$/i.test(parsed.protocol)) {
      for (const segment of parsed.pathname.split('/')) if (segment.length >= 12) found.push(segment);
    }
  }
  // As written, whatever a parser makes of it: from the first ':' of the user info to the last
  // '@' before the query (a password holding '/' is no URL to a parser, but is still a secret).
  const rest = url.slice(url.indexOf('://') + 3);
  const queryAt = rest.search(/[?#]/);
  const at = rest.lastIndexOf('@', queryAt === -1 ? rest.length : queryAt);
  const colon = rest.indexOf(':');
  if (at > 0 && colon !== -1 && colon < at) found.push(rest.slice(colon + 1, at));
  return found;
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text, 'postgres://base');
  } catch {
    return undefined;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `scheme://user:password@host`: the password replaced by *** (see redactSecrets, 2). */
function redactUserinfo(text: string): string {
  let out = '';
  let copied = 0;
  for (let at = text.indexOf('://'); at !== -1; at = text.indexOf('://', at + 3)) {
    const scheme = schemeBefore(text, at);
    const start = at + 3;
    if (scheme === undefined || start < copied) continue;
    // The host part ends at the first / ? # (WHATWG URL), or at the end of the line.
    let end = start;
    while (end < text.length && !AUTHORITY_END.includes(text[end]!)) end++;
    let colon = start;
    while (colon < end && !USER_END.includes(text[colon]!)) colon++;
    if (colon >= end || text[colon] !== ':') continue;
    // The password runs to the last '@' of the host part, as node-postgres parses it; in a
    // postgres:// string it may hold spaces (node-postgres encodes them before parsing), so in a
    // sentence an '@' later on the line takes the words before it too: more is hidden, never less.
    // An http URL cannot hold a space: its host part ends at the first one.
    const spaces = /^postgres(ql)?$/i.test(scheme);
    let passwordEnd = -1;
    for (let i = colon + 1; i < end; i++) {
      const ch = text[i]!;
      if (ch === '@') passwordEnd = i;
      else if (!spaces && (ch === ' ' || ch === '\t')) break;
    }
    if (passwordEnd === -1) continue;
    out += text.slice(copied, colon + 1) + '***';
    copied = passwordEnd;
    at = passwordEnd - 2;
  }
  return out + text.slice(copied);
}

const AUTHORITY_END = '/?#\n\r';
const USER_END = ':@ \t';

/** The URL scheme that ends right before `at`: up to 32 of letters, digits, + . - holding a letter. */
function schemeBefore(text: string, at: number): string | undefined {
  let i = at;
  while (i > 0 && at - i < 32 && /[a-z0-9+.-]/i.test(text[i - 1]!)) i--;
  const scheme = text.slice(i, at);
  return /[a-z]/i.test(scheme) ? scheme : undefined;
}

/**
 * `password=…` in a key=value DSN (libpq quotes with '…' and escapes with \), sslpassword=…,
 * PGPASSWORD=…; not a query parameter (`?password=`, `&password=`), which redactQuerySecrets
 * ends at the next `&`.
 */
const DSN_PASSWORD = /(?<![\w?&;])((?:pg|ssl)?password\s*=\s*)('(?:[^'\\]|\\.){0,1024}'|\S+)/gi;

/** Query parameters whose value is a secret, by name. */
const SECRET_PARAM = /pass|pwd|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|auth|signature|sig|credential|session/i;

/** `?name=value` / `&name=value` with a secret name: the value replaced by *** (see redactSecrets, 4). */
function redactQuerySecrets(text: string): string {
  let out = '';
  let copied = 0;
  const starts = /[?&;]/g;
  for (let m = starts.exec(text); m !== null; m = starts.exec(text)) {
    const i = m.index;
    let j = i + 1;
    while (j < text.length && !NAME_END.includes(text[j]!) && !isSpace(text.charCodeAt(j))) j++;
    if (text[j] !== '=') {
      starts.lastIndex = j;
      continue;
    }
    let k = j + 1;
    while (k < text.length && !VALUE_END.includes(text[k]!) && !isSpace(text.charCodeAt(k))) k++;
    if (k > j + 1 && SECRET_PARAM.test(text.slice(i + 1, j))) {
      out += text.slice(copied, j + 1) + '***';
      copied = k;
    }
    starts.lastIndex = k;
  }
  return out + text.slice(copied);
}

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}

const NAME_END = '=?&;#';
const VALUE_END = '&;#"\'<>';

/** A URL as it may be shown: its origin, and `/…` or `?…` for a path or query that may hold a token. */
export function urlForDisplay(url: string): string {
  const parsed = parseUrl(url);
  if (!parsed || !/^https?:$/.test(parsed.protocol)) return redactSecrets(url);
  return `${parsed.origin}${parsed.pathname.length > 1 ? '/…' : ''}${parsed.search ? '?…' : ''}`;
}

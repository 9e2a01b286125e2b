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

/**
 * Remove the password from anything that looks like a connection string, so that
 * credentials never reach a log line or an error message.
 *
 * Linear in the text: each "://" is looked at once, with its scheme before it and
 * `user:password@` after it. (A single regular expression with an unbounded scheme took
 * hours over a message that quoted a 50 MB run of letters back.)
 */
export function redactSecrets(text: string): string {
  let out = '';
  let copied = 0;
  for (let at = text.indexOf('://'); at !== -1; at = text.indexOf('://', at + 3)) {
    if (!hasScheme(text, at)) continue;
    USERINFO.lastIndex = at + 3;
    const m = USERINFO.exec(text);
    if (!m) continue;
    const passwordStart = at + 3 + m[1]!.length;
    out += text.slice(copied, passwordStart) + '***@';
    copied = passwordStart + m[2]!.length + 1;
    at = copied - 3;
  }
  out += text.slice(copied);
  return out.replace(/(password\s*=\s*)('[^']*'|\S+)/gi, '$1***');
}

/** A message PostgreSQL can store: text columns refuse NUL, so it is written \u0000 (as JSON would). */
export function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '\\u0000') : text;
}

/** `user:` then the password up to `@`, right after "://". */
const USERINFO = /([^:/?#\s@]*:)([^@/\s]*)@/y;

/** A URL scheme ends right before `at`: up to 32 of letters, digits, + . - that hold a letter. */
function hasScheme(text: string, at: number): boolean {
  for (let i = at - 1; i >= 0 && at - i <= 32 && /[a-z0-9+.-]/i.test(text[i]!); i--) {
    if (/[a-z]/i.test(text[i]!)) return true;
  }
  return false;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { onTestFinished } from 'vitest';
import { main } from '../../src/cli/main.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

/**
 * V8 flags for the CLI processes tests start. A short-lived process spends much of its CPU
 * compiling PGlite's WebAssembly to optimised code it barely runs; Liftoff (V8's baseline WASM
 * compiler) alone cuts about a third of a process's CPU (`runs`: 3.3 s → 2.0 s, `start --once`
 * over the sample: 10.8 s → 8.3 s, measured here). It changes how fast the code runs, never
 * what it does.
 */
export const CHILD_NODE_FLAGS: readonly string[] = ['--liftoff-only'];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a `bubblewatch` run gets: a clean one (JSON log lines) plus `env`. */
function cliEnvironment(env: Readonly<Record<string, string>>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BUBBLEWATCH_LOG_FORMAT: 'json', ...env };
}

/** Run the built `bubblewatch` binary as a user would, with a clean environment plus `env`. */
export function cli(args: string[], env: Readonly<Record<string, string>> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CHILD_NODE_FLAGS, join(PACKAGE_ROOT, 'bin', 'bubblewatch.js'), ...args], {
      env: cliEnvironment(env),
      cwd: PACKAGE_ROOT,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Run the command line in this process: `main(args)` with the environment `cli` would give the
 * binary, its output captured. The same result as `cli` without a process start (node, the
 * modules and PGlite's WebAssembly, seconds each time), for cases that test a command, not the
 * process: signals, locks between processes, a closed stdout and the binary's own startup keep
 * using `cli`/`bubblewatch`. process.env is the run's environment for the duration of the call
 * (commander and some commands read it there) and is restored after; tests in a worker run one
 * at a time, so no other test sees it. Output written straight to process.stdout/stderr (not
 * through main's streams) is not captured: backfill's progress line, for one.
 */
export async function cliInProcess(args: string[], env: Readonly<Record<string, string>> = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      decodeStrings: false,
      write(chunk: Buffer | string, _encoding, callback) {
        append(chunk.toString());
        callback();
      },
    });
  const saved = replaceEnvironment(cliEnvironment(env));
  try {
    const code = await main(args, { stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)), env: process.env });
    return { code, stdout, stderr };
  } finally {
    replaceEnvironment(saved);
  }
}

/** Make process.env exactly `env`; returns what it was. */
function replaceEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const before = { ...process.env };
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return before;
}

/** A `bubblewatch` process still running: its output so far, and its exit code once it ends. */
export interface Proc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

/** Start the built binary like `cli`, without waiting; it is SIGKILLed if still running when the test ends. */
export function bubblewatch(args: string[], env: Readonly<Record<string, string>>): Proc {
  const child = spawn(process.execPath, [...CHILD_NODE_FLAGS, join(PACKAGE_ROOT, 'bin', 'bubblewatch.js'), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BUBBLEWATCH_LOG_FORMAT: 'json', ...env },
    cwd: PACKAGE_ROOT,
  });
  const proc: Proc = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  child.stdout!.on('data', (d) => (proc.stdout += d));
  child.stderr!.on('data', (d) => (proc.stderr += d));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return proc;
}

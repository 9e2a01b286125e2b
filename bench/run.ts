import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, freemem, platform, release, tmpdir, hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openDatabase } from '../src/db/connect.js';
import { migrate } from '../src/migrate/migrator.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { generate, type GeneratedData } from './generate.js';
import { findPostgresBinaries, findPsql, startLocalServer, type LocalServer } from './postgres-server.js';
import { RssSampler } from './rss.js';
import { STEP_NAMES, runStep, type DbTarget, type StepName, type StepResult, type StepSpec } from './steps.js';

/**
 * bubblewatch benchmark (not a test): generates synthetic data in the sources' real layouts,
 * then measures each step on PostgreSQL and on PGlite, each step in a child process of its
 * own, N times; reports medians, rows/s, ratios against bare baselines and peak RSS, writes
 * bench/results.json and prints a table with the performance targets marked PASS or MISS.
 *
 *   npm run bench -- [--scale 1] [--repeat 3] [--db both|postgres|pglite] [--steps a,b] [--out bench/results.json]
 *                    [--data-dir DIR] [--keep] [--cpu-prof STEP[,STEP]] [--step-timeout SECONDS]
 *
 * Exit code 1 when a step failed (a missed target is not a failure), 2 on bad usage.
 */

type DbKind = 'postgres' | 'pglite';

interface Args {
  scale: number;
  repeat: number;
  dbs: DbKind[];
  steps: Set<StepName>;
  out: string;
  dataDir: string | undefined;
  keep: boolean;
  cpuProf: Set<string>;
  cpuProfDir: string;
  stepTimeout: number;
  /** Run the steps in this process instead of one child process each (faster; peak RSS is then not per step). */
  inProcess: boolean;
  /** Repetitions of the two longest steps, caps-full-run and caps-recompute (default: --repeat). */
  heavyRepeat: number | undefined;
}

const USAGE = `usage: npm run bench -- [options]     (npm run bench:smoke for a quick check)

  --scale <fraction>      data size as a fraction of the full scale (default 1: 4.4M constituent rows,
                          3M num.txt rows, 50 companyfacts documents of 10k facts)
  --repeat <n>            repetitions of each step; the median is reported (default 3)
  --heavy-repeat <n>      repetitions of the two longest steps, caps-full-run and caps-recompute
                          (default: --repeat); at scale 1 each takes minutes
  --db <which>            both (default), postgres or pglite
  --steps <a,b,...>       only these steps (default all): ${STEP_NAMES.join(', ')}
  --out <file>            results file (default bench/results.json)
  --data-dir <dir>        generate the data there and keep it; a later run at the same scale reuses it
  --keep                  keep the temporary folders (data, PGlite databases) for inspection
  --cpu-prof <steps>      write a V8 CPU profile of these steps (comma-separated, or "all"), one file per
                          database and repetition, to bench/profiles/ (or --cpu-prof-dir <dir>)
  --step-timeout <s>      kill a step that runs longer (default 3600)
  --in-process            run every step in this process instead of a child process each: quicker to start
                          (bench:smoke uses it), but a step's peak RSS then includes what earlier steps left

PostgreSQL: BENCH_DATABASE_URL (a role that can create databases), else a throwaway cluster from local
binaries (/usr/lib/postgresql/*/bin, PG_BINDIR or pg_config), else the PostgreSQL half is skipped.`;

function parseArgs(argv: string[]): Args {
  const args: Args = {
    scale: 1,
    repeat: 3,
    dbs: ['postgres', 'pglite'],
    steps: new Set(STEP_NAMES),
    out: join(PACKAGE_ROOT, 'bench', 'results.json'),
    dataDir: undefined,
    keep: false,
    cpuProf: new Set(),
    cpuProfDir: join(PACKAGE_ROOT, 'bench', 'profiles'),
    stepTimeout: 3600,
    inProcess: false,
    heavyRepeat: undefined,
  };
  const value = (i: number, flag: string) => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) usage(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    switch (flag) {
      case '--scale': {
        args.scale = Number(value(i++, flag));
        if (!(args.scale > 0 && args.scale <= 10)) usage('--scale must be a number above 0 and at most 10');
        break;
      }
      case '--repeat': {
        args.repeat = Number(value(i++, flag));
        if (!Number.isInteger(args.repeat) || args.repeat < 1 || args.repeat > 50) usage('--repeat must be a whole number from 1 to 50');
        break;
      }
      case '--db': {
        const v = value(i++, flag);
        if (v === 'both') args.dbs = ['postgres', 'pglite'];
        else if (v === 'postgres' || v === 'pglite') args.dbs = [v];
        else usage('--db must be both, postgres or pglite');
        break;
      }
      case '--steps': {
        const names = value(i++, flag).split(',').map((s) => s.trim()).filter(Boolean);
        const unknown = names.filter((n) => !(STEP_NAMES as readonly string[]).includes(n));
        if (unknown.length > 0) usage(`unknown step(s) ${unknown.join(', ')}; steps are ${STEP_NAMES.join(', ')}`);
        args.steps = new Set(names as StepName[]);
        break;
      }
      case '--out':
        args.out = resolve(value(i++, flag));
        break;
      case '--data-dir':
        args.dataDir = resolve(value(i++, flag));
        break;
      case '--keep':
        args.keep = true;
        break;
      case '--cpu-prof': {
        const v = value(i++, flag);
        args.cpuProf = new Set(v === 'all' ? STEP_NAMES : v.split(',').map((s) => s.trim()));
        break;
      }
      case '--cpu-prof-dir':
        args.cpuProfDir = resolve(value(i++, flag));
        break;
      case '--step-timeout':
        args.stepTimeout = Number(value(i++, flag));
        if (!(args.stepTimeout > 0)) usage('--step-timeout must be a number of seconds');
        break;
      case '--heavy-repeat': {
        args.heavyRepeat = Number(value(i++, flag));
        if (!Number.isInteger(args.heavyRepeat) || args.heavyRepeat < 1 || args.heavyRepeat > 50) usage('--heavy-repeat must be a whole number from 1 to 50');
        break;
      }
      case '--in-process':
        args.inProcess = true;
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        usage(`unknown option ${flag}`);
    }
  }
  return args;
}

function usage(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ------------------------------------------------------------------ databases

interface DbProvider {
  readonly kind: DbKind;
  readonly label: string;
  /** A fresh, migrated database. */
  fresh(name: string): Promise<DbTarget>;
  drop(target: DbTarget): Promise<void>;
  close(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function postgresProvider(baseUrl: string, label: string, server: LocalServer | undefined): Promise<DbProvider> {
  const template = `bench_template_${process.pid}`;
  await adminQuery(baseUrl, `drop database if exists ${template}`);
  await adminQuery(baseUrl, `create database ${template}`);
  const handle = await openDatabase({ databaseUrl: withDatabase(baseUrl, template), embeddedDir: '', command: 'bench' });
  try {
    await migrate(handle);
  } finally {
    await handle.close();
  }
  const made = new Set<string>();
  return {
    kind: 'postgres',
    label,
    async fresh(name) {
      const db = `bench_${name.replace(/[^a-z0-9_]/g, '_')}_${process.pid}`;
      await adminQuery(baseUrl, `drop database if exists ${db} with (force)`);
      await adminQuery(baseUrl, `create database ${db} template ${template}`);
      made.add(db);
      return { kind: 'postgres', url: withDatabase(baseUrl, db) };
    },
    async drop(target) {
      if (target.kind !== 'postgres') return;
      const db = new URL(target.url).pathname.slice(1);
      await adminQuery(baseUrl, `drop database if exists ${db} with (force)`);
      made.delete(db);
    },
    async close() {
      for (const db of made) await adminQuery(baseUrl, `drop database if exists ${db} with (force)`).catch(() => {});
      await adminQuery(baseUrl, `drop database if exists ${template} with (force)`).catch(() => {});
      server?.stop();
    },
  };
}

async function pgliteProvider(workDir: string, keep: boolean): Promise<DbProvider> {
  const root = join(workDir, 'pglite');
  mkdirSync(root, { recursive: true });
  const template = join(root, 'template');
  const handle = await openDatabase({ embeddedDir: template, command: 'bench template' });
  try {
    await migrate(handle);
  } finally {
    await handle.close();
  }
  return {
    kind: 'pglite',
    label: 'PGlite (embedded, in the node process)',
    async fresh(name) {
      const dir = join(root, name);
      rmSync(dir, { recursive: true, force: true });
      cpSync(template, dir, { recursive: true });
      return { kind: 'pglite', dir };
    },
    async drop(target) {
      if (target.kind === 'pglite' && !keep) rmSync(target.dir, { recursive: true, force: true });
    },
    async close() {
      if (!keep) rmSync(root, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ running steps

interface RepOutcome {
  readonly ok: boolean;
  readonly result?: StepResult;
  readonly error?: string;
  readonly loadavg1: number;
}

const STEP_JS = join(dirname(fileURLToPath(import.meta.url)), 'step.js');

let inProcessRss: RssSampler | undefined;

async function runInProcess(spec: StepSpec): Promise<RepOutcome> {
  const load = loadavg()[0]!;
  inProcessRss ??= RssSampler.start(50);
  try {
    return { ok: true, result: await runStep(spec, inProcessRss), loadavg1: load };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    process.stderr.write(`[bench] step ${spec.step} failed: ${e.stack ?? e.message}\n`);
    return { ok: false, error: e.message, loadavg1: load };
  }
}

async function runChild(spec: StepSpec, args: Args, workDir: string, db: string): Promise<RepOutcome> {
  if (args.inProcess) return runInProcess(spec);
  const id = `${db}-${spec.step}-${spec.rep}`;
  const specFile = join(workDir, `spec-${id}.json`);
  const resultFile = join(workDir, `result-${id}.json`);
  writeFileSync(specFile, JSON.stringify(spec));
  rmSync(resultFile, { force: true });
  const nodeArgs: string[] = [];
  if (args.cpuProf.has(spec.step)) {
    mkdirSync(args.cpuProfDir, { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', args.cpuProfDir, '--cpu-prof-name', `${id}.cpuprofile`);
  }
  const load = loadavg()[0]!;
  const code = await new Promise<number | string>((resolveExit) => {
    const child = spawn(process.execPath, [...nodeArgs, STEP_JS, specFile, resultFile], { stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => {
      log(`${id}: still running after ${args.stepTimeout} s; killing it`);
      child.kill('SIGKILL');
    }, args.stepTimeout * 1000);
    child.on('error', (e) => resolveExit(String(e)));
    child.on('exit', (c, signal) => {
      clearTimeout(timer);
      resolveExit(c ?? `signal ${signal}`);
    });
  });
  rmSync(specFile, { force: true });
  if (!existsSync(resultFile)) return { ok: false, error: `the step process ended (${code}) without a result`, loadavg1: load };
  const out = JSON.parse(readFileSync(resultFile, 'utf8')) as { ok: boolean; result?: StepResult; error?: string };
  rmSync(resultFile, { force: true });
  return { ok: out.ok && code === 0, ...(out.result ? { result: out.result } : {}), ...(out.error ? { error: out.error } : {}), loadavg1: load };
}

interface StepSummary {
  readonly step: StepName;
  readonly label: string;
  readonly unit: string;
  readonly reps: RepOutcome[];
  readonly error?: string;
  median_seconds?: number;
  rows?: number;
  rows_per_second?: number;
  peak_rss_mb?: number;
  ratio?: number;
  ratio_of?: string;
  details?: Record<string, unknown>;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function summarise(step: StepName, label: string, unit: string, reps: RepOutcome[]): StepSummary {
  const ok = reps.filter((r) => r.ok && r.result).map((r) => r.result!);
  const failed = reps.find((r) => !r.ok);
  const summary: StepSummary = { step, label, unit, reps, ...(failed ? { error: failed.error ?? 'failed' } : {}) };
  if (ok.length === 0) return summary;
  const timed = (r: StepResult) => r.primarySeconds ?? r.seconds;
  const med = median(ok.map(timed));
  // The repetition closest to the median gives the details shown (a breakdown of one real run).
  const representative = ok.reduce((best, r) => (Math.abs(timed(r) - med) < Math.abs(timed(best) - med) ? r : best));
  summary.median_seconds = med;
  summary.rows = representative.rows;
  summary.rows_per_second = med > 0 ? representative.rows / med : undefined;
  summary.peak_rss_mb = Math.max(...ok.map((r) => r.peakRssBytes)) / 2 ** 20;
  summary.details = { ...representative.details, run_seconds_median: median(ok.map((r) => r.seconds)), start_rss_mb: representative.startRssBytes / 2 ** 20, rss_samples: representative.rssSamples };
  return summary;
}

// ------------------------------------------------------------------ the plan

const LABELS: Record<StepName, { label: (db: DbKind | 'none', psql: boolean) => string; unit: string }> = {
  'caps-ingest': { label: () => 'caps ingest: bubblewatch, one big CSV → raw', unit: 'rows' },
  'caps-copy-baseline': { label: () => 'caps COPY baseline: bare unindexed table', unit: 'rows' },
  'caps-copy-indexed': { label: () => 'caps COPY: table like raw (indexes, checks)', unit: 'rows' },
  'caps-copy-node': { label: () => 'caps COPY via pg-copy-streams, bare table', unit: 'rows' },
  'caps-full-run': { label: () => 'caps full run: yearly files, transforms+checks', unit: 'rows' },
  'caps-incremental': { label: () => 'caps incremental run: +1 trading day', unit: 'rows' },
  'caps-recompute': { label: () => 'caps full refresh: transforms, all dates', unit: 'dates' },
  'caps-bare-top10': { label: () => 'caps bare SQL: top-10 share per date', unit: 'dates' },
  'fsds-scan': { label: () => 'FSDS num.txt scan: reader only', unit: 'rows' },
  'fsds-load': { label: () => 'FSDS load: reader + validate + COPY', unit: 'rows' },
  'companyfacts-parse': { label: () => 'companyfacts parse: reader only', unit: 'facts' },
  'companyfacts-load': { label: () => 'companyfacts load: reader + validate + COPY', unit: 'facts' },
};

/** The readers measured alone; every other step runs on each database, in STEP_NAMES order. */
const NO_DB_STEPS: readonly StepName[] = ['fsds-scan', 'companyfacts-parse'];
const DB_STEPS: readonly StepName[] = STEP_NAMES.filter((s) => !NO_DB_STEPS.includes(s));
const HISTORY_STEPS: ReadonlySet<StepName> = new Set(['caps-incremental', 'caps-recompute', 'caps-bare-top10']);

interface DbReport {
  readonly kind: DbKind;
  readonly label: string;
  readonly steps: Partial<Record<StepName, StepSummary>>;
  skipped?: string;
}

async function runDatabase(
  provider: DbProvider,
  report: DbReport,
  args: Args,
  data: GeneratedData,
  workDir: string,
  psql: string | undefined,
  progress: () => void,
): Promise<void> {
  const usePsql = provider.kind === 'postgres' && psql !== undefined;
  const wanted = DB_STEPS.filter((s) => args.steps.has(s) && !(s === 'caps-copy-node' && (provider.kind !== 'postgres' || !usePsql)));
  const needsHistory = wanted.some((s) => HISTORY_STEPS.has(s));
  let history: DbTarget | undefined;
  const addedDays: string[] = [];

  const record = (step: StepName, reps: RepOutcome[]) => {
    report.steps[step] = summarise(step, LABELS[step].label(provider.kind, usePsql), LABELS[step].unit, reps);
    progress();
  };
  const heavy = args.heavyRepeat ?? args.repeat;

  let historyTried = false;
  /** Full runs from an empty database; the last one's database is the history the later steps work on. */
  const buildHistory = async (measured: boolean) => {
    historyTried = true;
    const reps: RepOutcome[] = [];
    const count = measured ? heavy : 1;
    for (let rep = 1; rep <= count; rep++) {
      const target = await provider.fresh(`history_${rep}`);
      log(`${provider.kind} caps-full-run ${rep}/${count}${measured ? '' : ' (builds the history; not reported)'} …`);
      const outcome = await runChild({ step: 'caps-full-run', db: target, data, rep, ...(usePsql ? { psql } : {}) }, args, workDir, provider.kind);
      reps.push(outcome);
      logOutcome(provider.kind, 'caps-full-run', rep, count, outcome);
      if (history) await provider.drop(history);
      history = outcome.ok && needsHistory ? target : undefined;
      if (!history) await provider.drop(target);
    }
    if (measured) record('caps-full-run', reps);
  };

  try {
    for (const step of wanted) {
      if (step === 'caps-full-run') {
        await buildHistory(true);
        continue;
      }
      if (HISTORY_STEPS.has(step) && !history && !historyTried) await buildHistory(false);

      const reps: RepOutcome[] = [];
      const count = step === 'caps-recompute' ? heavy : args.repeat;
      for (let rep = 1; rep <= count; rep++) {
        let target: DbTarget | undefined;
        let fresh = false;
        if (HISTORY_STEPS.has(step)) {
          if (!history) {
            reps.push({ ok: false, error: 'no history database: the full run failed or was not run', loadavg1: loadavg()[0]! });
            break;
          }
          target = history;
          if (step === 'caps-incremental') {
            const day = data.caps.newDayFiles[addedDays.length];
            if (!day) {
              reps.push({ ok: false, error: 'no new trading day file left', loadavg1: loadavg()[0]! });
              break;
            }
            const into = join(data.caps.inbox, basename(day));
            copyFileSync(day, into);
            addedDays.push(into);
          }
        } else {
          target = await provider.fresh(`${step}_${rep}`);
          fresh = true;
        }
        log(`${provider.kind} ${step} ${rep}/${count} …`);
        const outcome = await runChild({ step, db: target, data, rep, ...(usePsql ? { psql } : {}) }, args, workDir, provider.kind);
        reps.push(outcome);
        logOutcome(provider.kind, step, rep, count, outcome);
        if (fresh) await provider.drop(target);
      }
      record(step, reps);
    }
  } finally {
    for (const f of addedDays) rmSync(f, { force: true });
    if (history) await provider.drop(history);
  }
}

function logOutcome(db: string, step: string, rep: number, of: number, outcome: RepOutcome): void {
  if (outcome.ok && outcome.result) {
    const r = outcome.result;
    const extra = r.primarySeconds !== undefined ? ` (timed part ${r.primarySeconds.toFixed(2)} s)` : '';
    log(`${db} ${step} ${rep}/${of}: ${r.seconds.toFixed(2)} s${extra}, ${r.rows} rows, peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MB`);
  } else {
    log(`${db} ${step} ${rep}/${of}: FAILED: ${outcome.error}`);
  }
}

// ------------------------------------------------------------------ ratios, targets, output

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

function addRatios(report: DbReport): void {
  const s = report.steps;
  const ingest = s['caps-ingest'];
  const baseline = s['caps-copy-baseline'];
  if (ingest) {
    ingest.ratio = ratio(ingest.rows_per_second, baseline?.rows_per_second);
    ingest.ratio_of = 'rows/s ÷ rows/s of caps-copy-baseline';
  }
  for (const name of ['caps-copy-indexed', 'caps-copy-node'] as const) {
    const step = s[name];
    if (step) {
      step.ratio = ratio(step.rows_per_second, baseline?.rows_per_second);
      step.ratio_of = 'rows/s ÷ rows/s of caps-copy-baseline';
    }
  }
  const incremental = s['caps-incremental'];
  if (incremental) {
    incremental.ratio = ratio(incremental.median_seconds, s['caps-full-run']?.median_seconds);
    incremental.ratio_of = 'seconds ÷ seconds of caps-full-run';
  }
  const recompute = s['caps-recompute'];
  if (recompute) {
    recompute.ratio = ratio(recompute.median_seconds, s['caps-bare-top10']?.median_seconds);
    recompute.ratio_of = 'seconds of the transforms ÷ seconds of caps-bare-top10';
  }
}

interface TargetRow {
  readonly id: string;
  readonly description: string;
  readonly target: string;
  readonly value?: number;
  readonly display: string;
  readonly result: 'PASS' | 'MISS' | 'n/a';
  readonly pglite?: string;
}

function targets(pgReport: DbReport | undefined, liteReport: DbReport | undefined, noDb: Partial<Record<StepName, StepSummary>>): TargetRow[] {
  const rows: TargetRow[] = [];
  const fmt = (v: number | undefined, digits = 2) => (v === undefined ? '—' : v.toFixed(digits));
  const judge = (v: number | undefined, ok: (v: number) => boolean): 'PASS' | 'MISS' | 'n/a' => (v === undefined ? 'n/a' : ok(v) ? 'PASS' : 'MISS');
  const p = pgReport?.steps ?? {};
  const l = liteReport?.steps ?? {};

  const ingest = p['caps-ingest']?.ratio;
  rows.push({
    id: 'ingest_vs_copy',
    description: 'caps ingest throughput ÷ psql \\copy throughput',
    target: '≥ 0.60',
    value: ingest,
    display: ingest === undefined ? '—' : `${fmt(ingest)} (${(ingest * 100).toFixed(0)}%)`,
    result: judge(ingest, (v) => v >= 0.6),
    pglite: fmt(l['caps-ingest']?.ratio),
  });
  const incr = p['caps-incremental']?.ratio;
  rows.push({
    id: 'incremental_vs_full',
    description: 'incremental one-day run ÷ full run',
    target: '≤ 0.05',
    value: incr,
    display: incr === undefined ? '—' : `${fmt(incr, 3)} (${(incr * 100).toFixed(1)}%)`,
    result: judge(incr, (v) => v <= 0.05),
    pglite: fmt(l['caps-incremental']?.ratio, 3),
  });
  const rec = p['caps-recompute']?.ratio;
  rows.push({
    id: 'recompute_vs_bare',
    description: 'concentration recompute (transforms) ÷ bare top-10 query',
    target: '≤ 1.5',
    value: rec,
    display: rec === undefined ? '—' : `${fmt(rec, 1)}×`,
    result: judge(rec, (v) => v <= 1.5),
    pglite: l['caps-recompute']?.ratio === undefined ? '—' : `${fmt(l['caps-recompute']?.ratio, 1)}×`,
  });
  const ingestSteps: StepName[] = ['caps-ingest', 'caps-full-run', 'caps-incremental', 'fsds-load', 'companyfacts-load'];
  const peak = (steps: Partial<Record<StepName, StepSummary>>) => {
    const values = ingestSteps.map((s) => steps[s]?.peak_rss_mb).filter((v): v is number => v !== undefined);
    return values.length > 0 ? Math.max(...values) : undefined;
  };
  const pgPeak = peak(p);
  const litePeak = peak(l);
  rows.push({
    id: 'ingest_peak_rss',
    description: `peak RSS of the node process in any ingest (${ingestSteps.join(', ')})`,
    target: '≤ 300 MB',
    value: pgPeak,
    display: pgPeak === undefined ? '—' : `${pgPeak.toFixed(0)} MB`,
    result: judge(pgPeak, (v) => v <= 300),
    pglite: litePeak === undefined ? '—' : `${litePeak.toFixed(0)} MB (database in-process)`,
  });
  const scan = noDb['fsds-scan']?.rows_per_second;
  rows.push({
    id: 'fsds_scan_rate',
    description: 'FSDS num.txt scan through the sec-fsds reader',
    target: '≥ 500k rows/s',
    value: scan,
    display: scan === undefined ? '—' : `${(scan / 1000).toFixed(0)}k rows/s`,
    result: judge(scan, (v) => v >= 500_000),
    pglite: '(no database)',
  });
  return rows;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function num(v: number | undefined, digits = 2): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v.toFixed(digits);
}

function rate(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(0);
}

function thousands(v: number | undefined): string {
  return v === undefined ? '—' : Math.round(v).toLocaleString('en-US');
}

function renderTable(reports: DbReport[], noDb: Partial<Record<StepName, StepSummary>>, targetRows: TargetRow[], header: string): string {
  const out: string[] = [header, ''];
  const W = 35;
  const dbCols = (s: StepSummary | undefined) =>
    s === undefined
      ? pad('', W)
      : s.error && s.median_seconds === undefined
        ? pad('ERROR', W)
        : [pad(num(s.median_seconds), 10, true), pad(rate(s.rows_per_second), 9, true), pad(num(s.peak_rss_mb, 0), 6, true), pad(s.ratio === undefined ? '' : num(s.ratio, 3), 7, true)].join(' ');
  const labelWidth = 46;
  const top = pad('', labelWidth) + ' ' + pad('', 11) + reports.map((r) => ' | ' + pad(r.kind === 'postgres' ? 'PostgreSQL' : 'PGlite', W)).join('');
  const sub = pad('step', labelWidth) + ' ' + pad('rows', 11, true) + reports.map(() => ' | ' + ['  median s', '   rows/s', 'RSS MB', '  ratio'].join(' ')).join('');
  out.push(top, sub, '-'.repeat(sub.length));
  const ordered = DB_STEPS.filter((s) => reports.some((r) => r.steps[s]));
  for (const step of ordered) {
    const first = reports.map((r) => r.steps[step]).find((s) => s !== undefined)!;
    const rows = reports.map((r) => r.steps[step]?.rows).find((v) => v !== undefined);
    const line = pad(first.label.slice(0, labelWidth), labelWidth) + ' ' + pad(thousands(rows), 11, true) + reports.map((r) => ' | ' + dbCols(r.steps[step])).join('');
    out.push(line);
  }
  const noDbSteps = NO_DB_STEPS.filter((s) => noDb[s]);
  if (noDbSteps.length > 0) {
    out.push('', pad('no database', labelWidth) + ' ' + pad('rows', 11, true) + ' | ' + ['  median s', `   ${'rows/s'}`, 'RSS MB'].join(' '));
    for (const step of noDbSteps) {
      const s = noDb[step]!;
      const cols = s.error && s.median_seconds === undefined ? 'ERROR' : [pad(num(s.median_seconds), 10, true), pad(rate(s.rows_per_second), 9, true), pad(num(s.peak_rss_mb, 0), 6, true)].join(' ');
      out.push(pad(s.label, labelWidth) + ' ' + pad(thousands(s.rows), 11, true) + ' | ' + cols);
    }
  }
  out.push(
    '',
    'COPY baseline: PostgreSQL psql \\copy of the same file (pg-copy-streams when there is no psql); PGlite',
    "       COPY FROM '/dev/blob' in 8 MB chunks of whole lines (as bubblewatch feeds PGlite). Same columns as the file.",
    'ratio: caps ingest and COPY rows/s ÷ rows/s of the COPY baseline; incremental ÷ full run (seconds);',
    '       full refresh ÷ bare top-10 query (seconds; the full refresh row times the transforms only).',
    'RSS: peak resident set of the node process running the step, sampled every 50 ms (PostgreSQL runs in its own',
    '     processes and is not counted; psql is a separate process; PGlite runs inside the node process and is counted).',
  );

  out.push('', 'Targets (judged on PostgreSQL)', '');
  const tw = [58, 16, 24, 6];
  out.push([pad('target', tw[0]!), pad('goal', tw[1]!), pad('PostgreSQL', tw[2]!), pad('result', tw[3]!), 'PGlite (for information)'].join(' '));
  out.push('-'.repeat(tw.reduce((a, b) => a + b + 1, 0) + 24));
  for (const t of targetRows) {
    out.push([pad(t.description.slice(0, tw[0]!), tw[0]!), pad(t.target, tw[1]!), pad(t.display, tw[2]!), pad(t.result, tw[3]!), t.pglite ?? ''].join(' '));
  }

  // Where the time of the runs goes: load, each transform, and the rest (discover + hash, checks, ledger).
  const breakdown: string[] = [];
  for (const step of ['caps-full-run', 'caps-incremental', 'caps-recompute'] as const) {
    const per = reports.map((r) => r.steps[step]?.details).filter((d): d is Record<string, unknown> => d !== undefined);
    if (per.length === 0) continue;
    const names = new Set<string>();
    for (const d of per) for (const k of Object.keys((d.transforms as Record<string, number> | undefined) ?? {})) names.add(k);
    breakdown.push('', `${step} (the repetition nearest the median), ms:` + reports.map((r) => ` ${pad(r.kind, 10, true)}`).join(''));
    const rowOf = (label: string, get: (d: Record<string, unknown> | undefined) => unknown) =>
      breakdown.push(pad(`  ${label}`, 50) + reports.map((r) => ' ' + pad(String(get(r.steps[step]?.details) ?? '—'), 10, true)).join(''));
    rowOf('whole run', (d) => d?.run_ms);
    rowOf('load (parse + validate + COPY)', (d) => d?.load_ms);
    for (const n of names) rowOf(n.replace('market/', ''), (d) => (d?.transforms as Record<string, number> | undefined)?.[n]);
    rowOf('other (discover + hash, checks, ledger)', (d) => d?.other_ms);
    if (step === 'caps-incremental') {
      rowOf('  of which re-hashing the inbox (measured apart)', (d) => d?.discover_and_hash_ms);
      rowOf('dates recomputed (scope)', (d) => d?.dates_in_scope);
    }
  }
  if (breakdown.length > 0) out.push('', 'Where the time goes', ...breakdown);
  return out.join('\n');
}

function stepJson(s: StepSummary) {
  return {
    label: s.label,
    unit: s.unit,
    median_seconds: s.median_seconds ?? null,
    rows: s.rows ?? null,
    rows_per_second: s.rows_per_second ?? null,
    ratio: s.ratio ?? null,
    ratio_of: s.ratio_of ?? null,
    peak_rss_mb: s.peak_rss_mb === undefined ? null : Math.round(s.peak_rss_mb * 10) / 10,
    error: s.error ?? null,
    repetitions: s.reps.map((r) => ({
      ok: r.ok,
      seconds: r.result?.seconds ?? null,
      timed_seconds: r.result?.primarySeconds ?? r.result?.seconds ?? null,
      rows: r.result?.rows ?? null,
      peak_rss_mb: r.result ? Math.round((r.result.peakRssBytes / 2 ** 20) * 10) / 10 : null,
      loadavg_1m_at_start: Math.round(r.loadavg1 * 100) / 100,
      ...(r.error ? { error: r.error } : {}),
    })),
    details: s.details ?? null,
  };
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const freeAtStart = Math.round(freemem() / 2 ** 20);
  const workDir = mkdtempSync(join(tmpdir(), 'bubblewatch-bench-'));
  const dataDir = args.dataDir ?? join(workDir, 'data');
  const providers: DbProvider[] = [];
  let failed = false;

  const cleanup = async () => {
    for (const p of providers) await p.close().catch(() => {});
    if (!args.keep) {
      rmSync(workDir, { recursive: true, force: true });
    } else {
      log(`kept ${workDir}`);
    }
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted; cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    log(`scale ${args.scale}, ${args.repeat} repetition(s); generating data in ${dataDir} …`);
    const data = generate(dataDir, args.scale, Math.max(args.repeat, 1));
    log(
      data.reused
        ? `reusing the data generated earlier in ${dataDir}`
        : `generated in ${data.generatedSeconds.toFixed(1)} s: ${data.caps.rows.toLocaleString('en-US')} constituent rows (${data.caps.files} yearly files, ${data.caps.days} days), ` +
            `${data.fsds.numRows.toLocaleString('en-US')} num.txt rows, ${data.companyfacts.facts.toLocaleString('en-US')} companyfacts facts`,
    );

    // PostgreSQL: BENCH_DATABASE_URL, else a throwaway cluster from local binaries.
    let psql: string | undefined;
    let postgresInfo: Record<string, unknown> = { available: false };
    const reports: DbReport[] = [];
    if (args.dbs.includes('postgres')) {
      const url = process.env.BENCH_DATABASE_URL;
      const bindir = findPostgresBinaries();
      psql = findPsql(bindir);
      try {
        let server: LocalServer | undefined;
        let baseUrl = url;
        let label: string;
        if (baseUrl) {
          label = 'PostgreSQL (BENCH_DATABASE_URL)';
        } else if (bindir) {
          log(`starting a throwaway PostgreSQL from ${bindir} …`);
          server = await startLocalServer(bindir);
          baseUrl = server.url;
          label = `${server.version}, throwaway cluster (${server.settings.join(', ')})`;
        } else {
          throw new Error('no BENCH_DATABASE_URL and no local PostgreSQL binaries');
        }
        const version = await (async () => {
          const c = new pg.Client({ connectionString: baseUrl });
          await c.connect();
          try {
            return String((await c.query('select version()')).rows[0]?.version);
          } finally {
            await c.end();
          }
        })();
        const provider = await postgresProvider(baseUrl, label, server);
        providers.push(provider);
        postgresInfo = { available: true, source: url ? 'BENCH_DATABASE_URL' : 'throwaway cluster from local binaries', version, settings: server?.settings ?? null, psql: psql ?? null };
      } catch (error) {
        postgresInfo = { available: false, reason: (error as Error).message };
        log(`PostgreSQL half skipped: ${(error as Error).message}`);
      }
    }
    if (args.dbs.includes('pglite')) {
      log('creating the PGlite template database …');
      providers.push(await pgliteProvider(workDir, args.keep));
    }

    const noDb: Partial<Record<StepName, StepSummary>> = {};
    if (args.dbs.includes('postgres') && !providers.some((p) => p.kind === 'postgres')) {
      reports.push({ kind: 'postgres', label: 'PostgreSQL', steps: {}, skipped: String(postgresInfo.reason) });
    }

    // Written after every step, so that an interrupted run leaves what it measured.
    const writeResults = (complete: boolean) => {
      for (const r of reports) addRatios(r);
      const pgReport = reports.find((r) => r.kind === 'postgres' && !r.skipped);
      const liteReport = reports.find((r) => r.kind === 'pglite');
      const targetRows = targets(pgReport, liteReport, noDb);
      const errors: { database: string; step: string; error: string }[] = [];
      for (const r of reports) for (const s of Object.values(r.steps)) if (s?.error) errors.push({ database: r.kind, step: s.step, error: s.error });
      for (const s of Object.values(noDb)) if (s?.error) errors.push({ database: 'none', step: s.step, error: s.error });
      const machine = {
        hostname: hostname(),
        node: process.version,
        platform: `${platform()} ${release()}`,
        cpus: cpus().length,
        cpu_model: cpus()[0]?.model ?? 'unknown',
        total_memory_mb: Math.round(totalmem() / 2 ** 20),
        free_memory_mb_at_start: freeAtStart,
        loadavg_at_start: loadAtStart,
        loadavg_now: loadavg(),
        date: startedAt.toISOString(),
        duration_seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      };
      const results = {
        complete,
        machine,
        settings: {
          scale: args.scale,
          repeat: args.repeat,
          heavy_repeat: args.heavyRepeat ?? args.repeat,
          in_process: args.inProcess,
          steps: [...args.steps],
          data: {
            constituents: { rows: data.caps.rows, days: data.caps.days, yearly_files: data.caps.files, big_file_mb: Math.round(data.caps.bigFileBytes / 2 ** 20), first_day: data.caps.firstDay, last_day: data.caps.lastDay },
            fsds: { num_rows: data.fsds.numRows, sub_rows: data.fsds.subRows, configured_company_rows: data.fsds.configuredRows, num_mb: Math.round(data.fsds.numBytes / 2 ** 20) },
            companyfacts: { companies: data.companyfacts.companies.length, facts: data.companyfacts.facts, configured_tag_facts: data.companyfacts.configuredFacts, json_mb: Math.round(data.companyfacts.bytes / 2 ** 20) },
          },
          postgres: postgresInfo,
        },
        databases: Object.fromEntries(
          reports.map((r) => [r.kind, { label: r.label, ...(r.skipped ? { skipped: r.skipped } : {}), steps: Object.fromEntries(Object.entries(r.steps).map(([k, s]) => [k, stepJson(s!)])) }]),
        ),
        no_database: { steps: Object.fromEntries(Object.entries(noDb).map(([k, s]) => [k, stepJson(s!)])) },
        targets: targetRows.map((t) => ({ id: t.id, description: t.description, target: t.target, postgres: t.value ?? null, result: t.result, pglite: t.pglite ?? null })),
        errors,
      };
      mkdirSync(dirname(args.out), { recursive: true });
      writeFileSync(args.out, JSON.stringify(results, null, 2) + '\n');
      return { machine, targetRows, errors };
    };

    // The steps without a database first: they are quick.
    for (const step of NO_DB_STEPS.filter((s) => args.steps.has(s))) {
      const reps: RepOutcome[] = [];
      for (let rep = 1; rep <= args.repeat; rep++) {
        log(`${step} ${rep}/${args.repeat} …`);
        const outcome = await runChild({ step, data, rep }, args, workDir, 'nodb');
        reps.push(outcome);
        logOutcome('nodb', step, rep, args.repeat, outcome);
      }
      noDb[step] = summarise(step, LABELS[step].label('none', false), LABELS[step].unit, reps);
      writeResults(false);
    }

    for (const provider of providers) {
      const report: DbReport = { kind: provider.kind, label: provider.label, steps: {} };
      reports.push(report);
      await runDatabase(provider, report, args, data, workDir, provider.kind === 'postgres' ? psql : undefined, () => writeResults(false));
    }

    const { machine, targetRows, errors } = writeResults(true);
    failed = errors.length > 0;
    const header =
      `bubblewatch benchmark: scale ${args.scale} (${data.caps.rows.toLocaleString('en-US')} constituent rows over ${data.caps.days} days, ` +
      `${data.fsds.numRows.toLocaleString('en-US')} num.txt rows, ${data.companyfacts.facts.toLocaleString('en-US')} companyfacts facts); ` +
      `median of ${args.repeat}` +
      (args.heavyRepeat !== undefined && args.heavyRepeat !== args.repeat ? ` (full run and full refresh: ${args.heavyRepeat})` : '') +
      (args.inProcess ? '; steps run in one process (--in-process): RSS is not per step' : '') +
      `\n${machine.node}, ${machine.cpus} × ${machine.cpu_model}, ${machine.total_memory_mb} MB, ${machine.date}, ${Math.round(machine.duration_seconds / 60)} min; ` +
      `load average at start ${machine.loadavg_at_start.map((v) => v.toFixed(2)).join(' ')}, at end ${machine.loadavg_now.map((v) => v.toFixed(2)).join(' ')}\n` +
      reports.map((r) => `${r.kind}: ${r.skipped ? `SKIPPED (${r.skipped})` : r.label}`).join('\n');
    process.stdout.write(renderTable(reports.filter((r) => !r.skipped), noDb, targetRows, header) + '\n');
    if (errors.length > 0) {
      process.stdout.write(`\n${errors.length} step(s) FAILED:\n` + errors.map((e) => `  ${e.database} ${e.step}: ${e.error}`).join('\n') + '\n');
    }
    process.stdout.write(`\nresults written to ${args.out}\n`);
  } catch (error) {
    failed = true;
    process.stderr.write(`[bench] failed: ${(error as Error).stack ?? String(error)}\n`);
  } finally {
    await cleanup();
    await inProcessRss?.stop();
  }
  return failed ? 1 : 0;
}

process.exit(await main());

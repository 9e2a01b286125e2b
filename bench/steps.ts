import { spawn } from 'node:child_process';
import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline as pipe } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pino, type Logger } from 'pino';
import { indexConstituents } from '../pipelines/index-constituents/pipeline.js';
import { REGISTRY } from '../pipelines/registry.js';
import { secCompanyfacts } from '../pipelines/sec-companyfacts/pipeline.js';
import { companyfactsReader } from '../pipelines/sec-companyfacts/reader.js';
import { secFsds } from '../pipelines/sec-fsds/pipeline.js';
import { fsdsReader } from '../pipelines/sec-fsds/reader.js';
import { loadConfig, type ResolvedPipelineConfig } from '../src/config/load.js';
import { scheduleSchema } from '../src/config/schema.js';
import { openDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { discoverFiles } from '../src/engine/discover.js';
import type { AnyPipeline, PipelineRuntime } from '../src/engine/pipeline.js';
import { runPipeline, type RunOptions, type RunSummary } from '../src/engine/run-pipeline.js';
import type { GeneratedData } from './generate.js';
import type { RssSampler } from './rss.js';

/**
 * The measured steps. Each runs in a child process of its own (bench/step.ts), so that its
 * peak RSS is its own and not what earlier steps left behind. A step does its set-up first,
 * untimed (open the database, create a bare table), then the timed part, with the RSS
 * sampler reset at its start.
 */

export type DbTarget = { readonly kind: 'postgres'; readonly url: string } | { readonly kind: 'pglite'; readonly dir: string };

export const STEP_NAMES = [
  'caps-ingest',
  'caps-copy-baseline',
  'caps-copy-indexed',
  'caps-copy-node',
  'caps-full-run',
  'caps-incremental',
  'caps-recompute',
  'caps-bare-top10',
  'fsds-scan',
  'fsds-load',
  'companyfacts-parse',
  'companyfacts-load',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

export interface StepSpec {
  readonly step: StepName;
  readonly db?: DbTarget;
  readonly data: GeneratedData;
  readonly psql?: string;
  readonly rep: number;
}

export interface StepResult {
  readonly seconds: number;
  /** Rows (or facts) the step processed; rows/s = rows / seconds. */
  readonly rows: number;
  readonly peakRssBytes: number;
  readonly startRssBytes: number;
  readonly rssSamples: number;
  /** A second timing of the same step, e.g. the transforms alone within a run. */
  readonly details: Record<string, unknown>;
  /** The figure a ratio uses when it is not `seconds` (e.g. the transforms' time within a run). */
  readonly primarySeconds?: number;
}

interface Measured<T> {
  readonly value: T;
  readonly seconds: number;
  readonly peakRssBytes: number;
  readonly startRssBytes: number;
  readonly rssSamples: number;
}

async function measure<T>(rss: RssSampler, fn: () => Promise<T>): Promise<Measured<T>> {
  rss.reset();
  const startRssBytes = process.memoryUsage.rss();
  const started = performance.now();
  const value = await fn();
  const seconds = (performance.now() - started) / 1000;
  return { value, seconds, peakRssBytes: rss.peak(), startRssBytes, rssSamples: rss.samples() };
}

function result<T>(m: Measured<T>, rows: number, details: Record<string, unknown>, primarySeconds?: number): StepResult {
  return {
    seconds: m.seconds,
    rows,
    peakRssBytes: m.peakRssBytes,
    startRssBytes: m.startRssBytes,
    rssSamples: m.rssSamples,
    details,
    ...(primarySeconds !== undefined ? { primarySeconds } : {}),
  };
}

// ------------------------------------------------------------------ helpers

/** A logger that keeps every line (debug and up) in memory: transform and file timings are read from it. */
function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(text: string) {
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        if (typeof line.level === 'number' && line.level >= 50) process.stderr.write(`[bench] ${String(line.msg)}\n`);
      },
    },
  );
  return { logger, lines };
}

let sharedCache: Readonly<Record<string, unknown>> | undefined;

/** The shared config sections (companies, metrics, archive limits) of config/bubblewatch.yaml. */
function bundledShared(): Readonly<Record<string, unknown>> {
  if (!sharedCache) {
    const config = loadConfig({ registry: REGISTRY, env: {} });
    sharedCache = { ...config.shared, archives: config.archives };
  }
  return sharedCache;
}

/** The bundled config with the 50 generated companyfacts companies configured (and enabled). */
function fiftyCompanies(data: GeneratedData): Readonly<Record<string, unknown>> {
  const shared = bundledShared();
  const configured = (shared.companies ?? []) as Record<string, unknown>[];
  const companies = data.companyfacts.companies.map((c) => {
    const known = configured.find((k) => k.cik === c.cik);
    return known ? { ...known, enabled: true } : { ticker: c.ticker, cik: c.cik, name: c.name, fiscal_year_end: '12-31', groups: [], enabled: true, tags: {} };
  });
  return { ...shared, companies };
}

function inboxConfig(pipeline: AnyPipeline, inbox: string, options: Record<string, unknown> = {}): ResolvedPipelineConfig {
  return {
    name: pipeline.name,
    configured: true,
    enabled: true,
    schedule: scheduleSchema.parse(pipeline.defaults.schedule),
    sources: [{ kind: 'path', path: inbox, pattern: pipeline.source.pattern }],
    baseDir: inbox,
    options,
  };
}

/** The pipeline with its transforms, checks and row-count guards taken out: a run only loads. */
function loadOnly(pipeline: AnyPipeline): AnyPipeline {
  return { ...pipeline, transforms: [], checks: [], guardedTables: [] };
}

const INDEX = indexConstituents as unknown as AnyPipeline;

/** The index-constituents options for the generated files: canonical layout, one base date mid-history. */
function indexOptions(data: GeneratedData): Record<string, unknown> {
  const first = Date.parse(data.caps.firstDay);
  const last = Date.parse(data.caps.lastDay);
  const base = new Date(first + (last - first) / 2).toISOString().slice(0, 10);
  return { index: 'SP500', layout: 'canonical', share_class_caps: 'whole_company', top_n: [5, 10, 20], base_dates: [base], rolling_window_days: 365 };
}

async function open(db: DbTarget): Promise<DatabaseHandle> {
  return openDatabase(db.kind === 'postgres' ? { databaseUrl: db.url, embeddedDir: '', command: 'bench' } : { embeddedDir: db.dir, command: 'bench' });
}

interface RunTimings {
  readonly summary: RunSummary;
  /** Load phase: sum of the per-file `ms` the engine logs (hash excluded, COPY included). */
  readonly loadMs: number;
  readonly transformMs: number;
  readonly transforms: Record<string, number>;
}

async function timedRun(
  handle: DatabaseHandle,
  pipeline: AnyPipeline,
  config: ResolvedPipelineConfig,
  shared: Readonly<Record<string, unknown>>,
  options: Partial<RunOptions> = {},
): Promise<RunTimings> {
  const { logger, lines } = memoryLogger();
  const summary = await runPipeline({ handle, logger, shared }, pipeline, config, { trigger: 'manual', ...options });
  if (summary.status !== 'succeeded') throw new Error(`run ${summary.runId} of ${pipeline.name} ${summary.status}: ${summary.error ?? 'no error recorded'}`);
  let loadMs = 0;
  let transformMs = 0;
  const transforms: Record<string, number> = {};
  for (const line of lines) {
    if (typeof line.transform === 'string' && typeof line.ms === 'number') {
      transforms[line.transform] = (transforms[line.transform] ?? 0) + line.ms;
      transformMs += line.ms;
    } else if (typeof line.file_id === 'number' && typeof line.ms === 'number' && typeof line.read === 'number') {
      loadMs += line.ms;
    }
  }
  return { summary, loadMs, transformMs, transforms };
}

function runDetails(t: RunTimings): Record<string, unknown> {
  const c = t.summary.counts;
  return {
    run_ms: t.summary.durationMs,
    load_ms: t.loadMs,
    transforms_ms: t.transformMs,
    other_ms: t.summary.durationMs - t.loadMs - t.transformMs,
    transforms: t.transforms,
    files_loaded: c.filesLoaded,
    files_skipped: c.filesSkipped,
    rows_read: c.rowsRead,
    rows_loaded: c.rowsLoaded,
    rows_rejected: c.rowsRejected,
    rows_skipped: c.rowsSkipped,
  };
}

const CAPS_COLUMNS = '(as_of, ticker, market_cap, issuer_id, name, sector)';

/** A bare, unindexed table for the canonical file's columns; or one shaped like raw.index_constituents, with its keys and checks. */
function baselineTableSql(indexed: boolean): string {
  if (!indexed) {
    return `drop table if exists bench_caps_bare;
            create table bench_caps_bare (as_of date, ticker text, market_cap numeric, issuer_id text, name text, sector text);`;
  }
  return `drop table if exists bench_caps_indexed; drop sequence if exists bench_line_seq;
          create sequence bench_line_seq;
          create table bench_caps_indexed (like raw.index_constituents including all);
          alter table bench_caps_indexed
            alter column file_id set default 1, alter column line_no set default nextval('bench_line_seq'),
            alter column run_id set default 1, alter column record_kind set default 'cap', alter column index_code set default 'SP500';`;
}

/** Peak resident set of another process (VmHWM), read from /proc while it runs. */
function watchPeak(pid: number): { stop(): number } {
  let peak = 0;
  const read = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      /* gone, or no /proc */
    }
  };
  read();
  const timer = setInterval(read, 50);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

function runPsql(psql: string, url: string, command: string): Promise<{ output: string; peakRssBytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(psql, [url, '-X', '-v', 'ON_ERROR_STOP=1', '-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    const watch = watchPeak(child.pid!);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const peakRssBytes = watch.stop();
      if (code === 0) resolve({ output, peakRssBytes });
      else reject(new Error(`psql exited with ${code}: ${output.trim()}`));
    });
  });
}

/** COPY a CSV file into PGlite in chunks of whole lines, each chunk one COPY FROM '/dev/blob' (as bubblewatch feeds PGlite). */
async function pgliteCopyFile(handle: DatabaseHandle, table: string, file: string): Promise<number> {
  const pgl = handle.pglite!;
  const sql = `copy ${table} ${CAPS_COLUMNS} from '/dev/blob' with (format csv)`;
  let rows = 0;
  let carry = '';
  let header = true;
  const flush = async (text: string) => {
    if (text === '') return;
    const r = await pgl.query(sql, [], { blob: new Blob([text]) });
    rows += r.affectedRows ?? 0;
  };
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 8 * 1024 * 1024 })) {
    let text = carry + (chunk as string);
    if (header) {
      text = text.slice(text.indexOf('\n') + 1);
      header = false;
    }
    const cut = text.lastIndexOf('\n');
    carry = text.slice(cut + 1);
    await flush(text.slice(0, cut + 1));
  }
  await flush(carry);
  return rows;
}

// ------------------------------------------------------------------ the steps

export async function runStep(spec: StepSpec, rss: RssSampler): Promise<StepResult> {
  const { data } = spec;
  // For checking the harness itself: BENCH_FAIL_STEP=<step> makes that step fail (the run must then exit 1).
  if (process.env.BENCH_FAIL_STEP === spec.step) throw new Error(`BENCH_FAIL_STEP=${spec.step}: failing on purpose`);
  const needDb = () => {
    if (!spec.db) throw new Error(`step ${spec.step} needs a database`);
    return spec.db;
  };

  switch (spec.step) {
    case 'caps-ingest': {
      // bubblewatch: discover + hash + parse + validate + COPY into raw.index_constituents, one run, no transforms.
      const handle = await open(needDb());
      try {
        const inbox = join(data.caps.bigFile, '..');
        const m = await measure(rss, () => timedRun(handle, loadOnly(INDEX), inboxConfig(INDEX, inbox, indexOptions(data)), bundledShared()));
        return result(m, m.value.summary.counts.rowsLoaded, runDetails(m.value));
      } finally {
        await handle.close();
      }
    }

    case 'caps-copy-baseline':
    case 'caps-copy-indexed': {
      const indexed = spec.step === 'caps-copy-indexed';
      const table = indexed ? 'bench_caps_indexed' : 'bench_caps_bare';
      const db = needDb();
      const handle = await open(db);
      await handle.withConnection((conn) => conn.script(baselineTableSql(indexed)));
      if (db.kind === 'pglite') {
        try {
          const m = await measure(rss, () => pgliteCopyFile(handle, table, data.caps.bigFile));
          return result(m, m.value, { method: "COPY FROM '/dev/blob' in 8 MB chunks of whole lines", table });
        } finally {
          await handle.close();
        }
      }
      await handle.close();
      if (spec.psql) {
        const psql = spec.psql;
        const m = await measure(rss, () => runPsql(psql, db.url, `\\copy ${table} ${CAPS_COLUMNS} from '${data.caps.bigFile}' with (format csv, header true)`));
        const copied = Number(/COPY (\d+)/.exec(m.value.output)?.[1] ?? NaN);
        return result(m, copied, {
          method: 'psql \\copy',
          table,
          psql_peak_rss_mb: Math.round(m.value.peakRssBytes / 2 ** 20),
          note: 'peak RSS is the node process; psql is a separate process (psql_peak_rss_mb)',
        });
      }
      const m = await measure(rss, () => nodeCopy(db.url, table, data.caps.bigFile));
      return result(m, m.value, { method: 'COPY FROM STDIN through pg-copy-streams (no psql found)', table });
    }

    case 'caps-copy-node': {
      const db = needDb();
      if (db.kind !== 'postgres') throw new Error('caps-copy-node is for PostgreSQL');
      const handle = await open(db);
      await handle.withConnection((conn) => conn.script(baselineTableSql(false)));
      await handle.close();
      const m = await measure(rss, () => nodeCopy(db.url, 'bench_caps_bare', data.caps.bigFile));
      return result(m, m.value, { method: 'COPY FROM STDIN through pg-copy-streams, the file piped in', table: 'bench_caps_bare' });
    }

    case 'caps-full-run': {
      // The first run over the whole history: every yearly file, transforms and checks included.
      const handle = await open(needDb());
      try {
        const m = await measure(rss, () => timedRun(handle, INDEX, inboxConfig(INDEX, data.caps.inbox, indexOptions(data)), bundledShared()));
        return result(m, m.value.summary.counts.rowsLoaded, runDetails(m.value));
      } finally {
        await handle.close();
      }
    }

    case 'caps-incremental': {
      // One new trading day's file in the inbox beside the whole history (the caller put it there).
      const handle = await open(needDb());
      try {
        const config = inboxConfig(INDEX, data.caps.inbox, indexOptions(data));
        const m = await measure(rss, () => timedRun(handle, INDEX, config, bundledShared()));
        // Untimed: how much of it was hashing the inbox again.
        const hashStarted = performance.now();
        const files = await discoverFiles({ sources: config.sources, baseDir: config.baseDir, spec: INDEX.source, runtime: { pipeline: INDEX.name, options: config.options, shared: {} } });
        const hashMs = Math.round(performance.now() - hashStarted);
        const scope = await handle.withConnection((conn) =>
          conn.query<{ n: number }>('select count(*)::int as n from core.index_refresh_scope where run_id = $1', [m.value.summary.runId]),
        );
        return result(m, m.value.summary.counts.rowsLoaded, {
          ...runDetails(m.value),
          discover_and_hash_ms: hashMs,
          inbox_files: files.length,
          dates_in_scope: scope.rows[0]?.n,
        });
      } finally {
        await handle.close();
      }
    }

    case 'caps-recompute': {
      // Full refresh: every transform over every date; the ratio uses the transforms' time.
      const handle = await open(needDb());
      try {
        const m = await measure(rss, () =>
          timedRun(handle, INDEX, inboxConfig(INDEX, data.caps.inbox, indexOptions(data)), bundledShared(), { fullRefresh: true }),
        );
        const dates = await handle.withConnection((conn) => conn.query<{ n: number }>('select count(*)::int as n from core.index_concentration'));
        return result(m, dates.rows[0]?.n ?? 0, { ...runDetails(m.value), unit: 'dates' }, m.value.transformMs / 1000);
      } finally {
        await handle.close();
      }
    }

    case 'caps-bare-top10': {
      const handle = await open(needDb());
      try {
        const sql = `
          with issuer_caps as (
            select r.index_code, r.as_of, coalesce(r.issuer_id, r.ticker) as issuer, max(r.market_cap) as cap
            from raw.index_constituents r
            where r.record_kind = 'cap' and r.market_cap > 0
            group by 1, 2, 3
          ),
          ranked as (
            select index_code, as_of, cap, row_number() over (partition by index_code, as_of order by cap desc) as rn
            from issuer_caps
          ),
          top10 as (
            select index_code, as_of, sum(cap) filter (where rn <= 10) / sum(cap) as top10_share
            from ranked group by 1, 2
          )
          select count(*)::int as dates, avg(top10_share)::float8 as mean_share from top10`;
        const m = await measure(rss, () => handle.withConnection((conn) => conn.query<{ dates: number; mean_share: number }>(sql)));
        // Untimed: the bare query agrees with what the pipeline computed.
        const check = await handle.withConnection((conn) =>
          conn.query<{ mean_share: number }>('select avg(top10_share)::float8 as mean_share from core.index_concentration'),
        );
        const row = m.value.rows[0]!;
        return result(m, row.dates, { unit: 'dates', mean_top10_share: row.mean_share, pipeline_mean_top10_share: check.rows[0]?.mean_share });
      } finally {
        await handle.close();
      }
    }

    case 'fsds-scan': {
      // The sec-fsds reader alone: sub.txt, then num.txt streamed and filtered to configured companies and tags.
      const runtime: PipelineRuntime = { pipeline: 'sec-fsds', options: {}, shared: bundledShared() };
      const { logger } = memoryLogger();
      let records = 0;
      const m = await measure(rss, () =>
        fsdsReader(runtime, logger).read(data.fsds.dataset, async (batch) => {
          records += batch.length;
        }),
      );
      return result(m, m.value.read, { records_yielded: records, rows_skipped: m.value.skipped, num_mb: Math.round(data.fsds.numBytes / 2 ** 20) });
    }

    case 'fsds-load': {
      const handle = await open(needDb());
      try {
        const pipeline = loadOnly(secFsds as unknown as AnyPipeline);
        const m = await measure(rss, () => timedRun(handle, pipeline, inboxConfig(pipeline, data.fsds.inbox), bundledShared()));
        return result(m, m.value.summary.counts.rowsRead, runDetails(m.value));
      } finally {
        await handle.close();
      }
    }

    case 'companyfacts-parse': {
      // The companyfacts reader alone, with all 50 companies configured so that each file is parsed.
      const runtime: PipelineRuntime = { pipeline: 'sec-companyfacts', options: {}, shared: fiftyCompanies(data) };
      const { logger } = memoryLogger();
      const files = readdirSync(data.companyfacts.inbox).filter((f) => f.endsWith('.json')).sort();
      let records = 0;
      const m = await measure(rss, async () => {
        const reader = companyfactsReader(runtime, logger);
        let read = 0;
        let skipped = 0;
        for (const f of files) {
          const s = await reader.read(join(data.companyfacts.inbox, f), async (batch) => {
            records += batch.length;
          });
          read += s.read;
          skipped += s.skipped;
        }
        return { read, skipped };
      });
      return result(m, m.value.read, { files: files.length, records_yielded: records, facts_skipped: m.value.skipped, json_mb: Math.round(data.companyfacts.bytes / 2 ** 20) });
    }

    case 'companyfacts-load': {
      const handle = await open(needDb());
      try {
        const pipeline = loadOnly(secCompanyfacts as unknown as AnyPipeline);
        const m = await measure(rss, () => timedRun(handle, pipeline, inboxConfig(pipeline, data.companyfacts.inbox), fiftyCompanies(data)));
        return result(m, m.value.summary.counts.rowsRead, runDetails(m.value));
      } finally {
        await handle.close();
      }
    }
  }
}

async function nodeCopy(url: string, table: string, file: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const stream = client.query(copyFrom(`copy ${table} ${CAPS_COLUMNS} from stdin with (format csv, header true)`));
    await pipe(createReadStream(file, { highWaterMark: 1024 * 1024 }), stream);
    return Number(stream.rowCount ?? 0);
  } finally {
    await client.end();
  }
}

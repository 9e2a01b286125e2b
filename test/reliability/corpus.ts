import { appendFileSync, cpSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { REGISTRY } from '../../pipelines/registry.js';
import type { ResolvedPipelineConfig } from '../../src/config/load.js';
import { httpSchema, scheduleSchema } from '../../src/config/schema.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { discoverFiles, type DiscoveredFile } from '../../src/engine/discover.js';
import { runPipeline, type RunSummary } from '../../src/engine/run-pipeline.js';
import { createFetcher } from '../../src/http/fetcher.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, type DbKind } from '../helpers/databases.js';
import { caseDatabase, releasePoolAfterAll } from './db-pool.js';
import { bundledShared, inboxConfig, makeInbox, memoryLogger } from '../helpers/pipelines.js';
import { BAD_DIR, loadCorpus, type BadCase, type RunStep, type Step } from './cases.js';
import { contents, diffContents, fingerprint, listRelations } from './db-state.js';
import { generate } from './generators.js';
import { record } from './outcomes.js';

/**
 * Runs the cases of test/fixtures/bad/cases.yaml and checks, for every one of them, on PGlite
 * and on PostgreSQL:
 *   - the run neither throws nor hangs (a per-case time limit);
 *   - the outcome (loads, rejects, fails) and the message or reject reasons are as listed;
 *   - rows read = loaded + rejected + skipped, in etl.runs and in each etl.source_files row,
 *     and the rows in the raw table and in etl.rejects are those counts;
 *   - a failed run changes nothing: raw and core tables, etl.source_files and etl.rejects
 *     are as before (a good file loaded in the same run is rolled back too);
 *   - no table or view disappears (inputs that look like SQL stay data);
 *   - the raw and core tables hold exactly what a clean load of the good rows would hold.
 * Each case records its outcome for the summary line (test/reliability/summary.ts).
 */

const REGISTERED = new Map(REGISTRY.pipelines.map((p) => [p.name, p as AnyPipeline]));
const USER_AGENT = 'bubblewatch-reliability/0.1 (tests@example.com)';
/** An error message is for people: it quotes what it found, but not 50 MB of it. */
const MAX_MESSAGE_CHARS = 2000;

function trace(text: string): void {
  if (process.env.RELIABILITY_TRACE) process.stderr.write(`[reliability ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

function pipelineOf(c: BadCase): AnyPipeline {
  const p = REGISTERED.get(c.pipeline);
  if (!p) throw new Error(`${c.id}: no pipeline ${c.pipeline} in the registry`);
  return p;
}

function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no outcome after ${ms / 1000} s (hung)`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function query<R = Record<string, unknown>>(handle: DatabaseHandle, sql: string, params: unknown[] = []): Promise<R[]> {
  return handle.withConnection(async (conn) => (await conn.query<R>(sql, params)).rows);
}

function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Copy a fixture file or dataset folder into the inbox under `name`. */
function place(from: string, inbox: string, name: string): string {
  const target = join(inbox, name);
  cpSync(from, target, { recursive: statSync(from).isDirectory() });
  return target;
}

/** The case's input in `inbox`: a copied fixture or a generated file. */
function materialise(c: BadCase, inbox: string): string {
  if (c.generate) return generate(c.generate, inbox);
  const from = join(BAD_DIR, c.input!);
  return place(from, inbox, basename(from));
}

/** The good rows only, named like the input: `clean`, or the input without its reject lines. */
function materialiseClean(c: BadCase, inbox: string): string {
  const name = c.generate ? c.generate.name : c.http ? (c.pipeline === 'fred' ? 'GDP.csv' : 'CIK0001341439.json') : basename(c.input!);
  if (c.clean) return place(join(BAD_DIR, c.clean), inbox, name);
  const drop = new Set(c.reject_lines ?? []);
  const lines = readFileSync(join(BAD_DIR, c.input!), 'utf8').split('\n');
  const target = join(inbox, name);
  writeFileSync(target, lines.filter((_, i) => !drop.has(i + 1)).join('\n'));
  return target;
}

function httpFile(c: BadCase): string {
  return c.pipeline === 'fred' ? 'GDP.csv' : 'CIK0001341439.json';
}

interface CaseContext {
  readonly kind: DbKind;
  readonly httpBase?: () => string;
}

function config(c: BadCase, pipeline: AnyPipeline, inbox: string, ctx: CaseContext): ResolvedPipelineConfig {
  if (c.http) {
    if (!ctx.httpBase) throw new Error(`${c.id}: an HTTP case needs the local server`);
    return {
      name: pipeline.name,
      configured: true,
      enabled: true,
      schedule: scheduleSchema.parse(pipeline.defaults.schedule),
      sources: [{ kind: 'url', url: `${ctx.httpBase()}/${c.http}/${httpFile(c)}` }],
      baseDir: inbox,
      options: c.options,
    };
  }
  return { ...inboxConfig(pipeline, inbox), options: c.options };
}

async function run(c: BadCase, handle: DatabaseHandle, inbox: string, ctx: CaseContext, step: RunStep = {}): Promise<RunSummary> {
  let pipeline = pipelineOf(c);
  const { logger } = memoryLogger();
  const base = bundledShared();
  const shared = c.archives ? { ...base, archives: { ...(base.archives as object), ...c.archives } } : base;
  const fetch = createFetcher(
    httpSchema.parse({ user_agent: USER_AGENT, timeout_ms: 500, max_bytes: 262_144, max_attempts: 2, backoff_base_ms: 10, ...c.fetch, cache_dir: makeInbox() }),
    logger,
  );
  const cfg = { ...config(c, pipeline, inbox, ctx), ...(c.on_missing ? { onMissing: c.on_missing } : {}) };
  const append = step.append_while_reading;
  if (append) {
    // A writer at work: it appends to the file as the reader opens it.
    const inner = pipeline;
    pipeline = {
      ...inner,
      reader: (runtime, log) => {
        const reader = inner.reader(runtime, log);
        return {
          read: (path, sink) => {
            if (basename(path) === append.name) appendFileSync(path, append.text);
            return reader.read(path, sink);
          },
        };
      },
    };
  }
  let units: DiscoveredFile[] | undefined;
  if (step.delete_after_listing) {
    units = await discoverFiles({ sources: cfg.sources, baseDir: cfg.baseDir, spec: pipeline.source, runtime: { pipeline: pipeline.name, options: cfg.options, shared } });
    rmSync(join(inbox, step.delete_after_listing), { recursive: true, force: true });
  }
  return within(
    c.timeout_s * 1000,
    runPipeline({ handle, logger, shared, fetch }, pipeline, cfg, {
      trigger: 'manual',
      ...(step.full_refresh ? { fullRefresh: true } : {}),
      ...(step.retry_failed ? { retryFailed: true } : {}),
      ...(units ? { units } : {}),
    }),
    `${c.id} on ${ctx.kind}`,
  );
}

/** Apply one step of a sequence to the inbox (a run among the steps must end as it says). */
async function applyStep(c: BadCase, s: Step, db: DatabaseHandle, inbox: string, ctx: CaseContext): Promise<void> {
  if ('write' in s) {
    const target = join(inbox, s.write.name);
    if (s.write.from !== undefined) cpSync(join(BAD_DIR, s.write.from), target, { recursive: true });
    else writeFileSync(target, s.write.text ?? '');
  } else if ('delete' in s) {
    rmSync(join(inbox, s.delete), { recursive: true });
  } else if ('rename' in s) {
    renameSync(join(inbox, s.rename.from), join(inbox, s.rename.to));
  } else {
    const summary = await run(c, db, inbox, ctx, s.run);
    if (s.run.status) expect(summary.status, `a run among the steps of ${c.id}: ${summary.error ?? ''}`).toBe(s.run.status);
  }
}

/**
 * A sequence case: the steps, then the checked run. Besides the counts and outcome, the database
 * must equal a clean load of the inbox as it stands (raw: the current versions' rows; core).
 */
async function checkSteps(c: BadCase, ctx: CaseContext, outcome: { lost: number; detail: string }): Promise<void> {
  const db = await caseDatabase(ctx.kind);
  const inbox = makeInbox();
  for (const s of c.steps!) await applyStep(c, s, db.handle, inbox, ctx);
  const relationsBefore = await listRelations(db.handle);
  const summary = await run(c, db.handle, inbox, ctx, c.final);
  trace(`${c.id} [${ctx.kind}]: ${summary.status} in ${summary.durationMs} ms`);
  outcome.detail = summary.error?.slice(0, 1000) ?? `read ${summary.counts.rowsRead}, loaded ${summary.counts.rowsLoaded}, rejected ${summary.counts.rowsRejected}, skipped ${summary.counts.rowsSkipped}`;

  const [runRow] = await query<RunRow>(db.handle, 'select status, error, rows_read, rows_loaded, rows_rejected, rows_skipped from etl.runs where run_id = $1', [summary.runId]);
  const unaccounted = runRow!.rows_read - (runRow!.rows_loaded + runRow!.rows_rejected + runRow!.rows_skipped);
  outcome.lost += Math.abs(unaccounted);
  expect(unaccounted, 'etl.runs: read = loaded + rejected + skipped').toBe(0);
  const files = await query<{ rows_read: number; rows_loaded: number; rows_rejected: number; rows_skipped: number }>(
    db.handle,
    'select rows_read, rows_loaded, rows_rejected, rows_skipped from etl.source_files where run_id = $1',
    [summary.runId],
  );
  for (const f of files) outcome.lost += Math.abs(f.rows_read - (f.rows_loaded + f.rows_rejected + f.rows_skipped));
  const [raw] = await query<{ n: number }>(db.handle, `select count(*)::int as n from ${pipelineOf(c).load.table} where run_id = $1`, [summary.runId]);
  outcome.lost += Math.abs(raw!.n - runRow!.rows_loaded);
  expect(raw!.n, 'rows in the raw table = rows loaded').toBe(runRow!.rows_loaded);
  expect(await listRelations(db.handle), 'no table or view went missing').toEqual(relationsBefore);

  if (c.outcome === 'fails') {
    expect(['partial', 'failed'], `expected a file to fail; ${outcome.detail}`).toContain(summary.status);
    expect(summary.error).toMatch(c.message!);
  } else {
    expect(summary.status, `expected the run to succeed; ${outcome.detail}`).toBe('succeeded');
    expect(runRow!.rows_rejected > 0, 'rows rejected').toBe(c.outcome === 'rejects');
  }
  if (c.counts) {
    expect({ read: runRow!.rows_read, loaded: runRow!.rows_loaded, rejected: runRow!.rows_rejected, skipped: runRow!.rows_skipped }).toEqual(c.counts);
  }
  if (c.reject_lines) {
    const rejects = await query<{ line_no: number; reason: string }>(db.handle, 'select line_no, reason from etl.rejects where run_id = $1 order by line_no', [summary.runId]);
    expect(rejects.map((r) => r.line_no)).toEqual(c.reject_lines);
    if (c.message) for (const r of rejects) expect(r.reason).toMatch(c.message);
  }
  for (const [name, action] of Object.entries(c.actions ?? {})) {
    const f = summary.files.find((x) => basename(x.file.uri) === name);
    expect(f?.action, `the checked run's action on ${name}`).toBe(action);
  }
  for (const a of c.assert) {
    const result = await query(db.handle, a.sql);
    expect(result.map((row) => Object.values(row).map(asText)), a.sql).toEqual(a.rows);
  }
  if (c.compare === 'inbox') {
    const reference = await caseDatabase(ctx.kind);
    const cleanInbox = makeInbox();
    cpSync(inbox, cleanInbox, { recursive: true });
    const clean = await run({ ...c, http: undefined }, reference.handle, cleanInbox, ctx);
    expect(['succeeded', 'partial', 'failed'], clean.error).toContain(clean.status);
    // The refresh-scope tables are each run's scratch (which dates it recomputed), not data.
    const data = (m: Map<string, string[]>) => new Map([...m].filter(([t]) => !t.endsWith('_refresh_scope')));
    const diffs = diffContents(data(await contents(reference.handle, { currentOnly: true })), data(await contents(db.handle, { currentOnly: true })));
    outcome.lost += diffs.filter((d) => d.table.startsWith('raw.')).reduce((n, d) => n + d.missing.length, 0);
    expect(diffs, 'raw (current versions) and core equal a clean load of the inbox as it stands').toEqual([]);
  }
}

function companionName(from: string): string {
  return `000-companion-${basename(from)}`;
}

/** Raw and core after a clean load of a pipeline's companion file alone, once per database kind and worker. */
const companionLoads = new Map<string, Promise<Map<string, string[]>>>();

function companionContents(ctx: CaseContext, c: BadCase, companion: string): Promise<Map<string, string[]>> {
  const key = `${ctx.kind}:${c.pipeline}:${companion}:${JSON.stringify(c.options)}:${JSON.stringify(c.archives ?? null)}`;
  let loaded = companionLoads.get(key);
  if (!loaded) {
    loaded = (async () => {
      const db = await caseDatabase(ctx.kind);
      const inbox = makeInbox();
      const from = join(PACKAGE_ROOT, companion);
      place(from, inbox, companionName(from));
      const summary = await run({ ...c, http: undefined }, db.handle, inbox, ctx);
      if (summary.status !== 'succeeded') throw new Error(`the companion ${companion} alone did not load: ${summary.error ?? summary.status}`);
      return contents(db.handle);
    })();
    companionLoads.set(key, loaded);
    loaded.catch(() => companionLoads.delete(key));
  }
  return loaded;
}

interface RunRow {
  status: string;
  error: string | null;
  rows_read: number;
  rows_loaded: number;
  rows_rejected: number;
  rows_skipped: number;
}

async function checkCase(c: BadCase, ctx: CaseContext, outcome: { lost: number; detail: string }): Promise<void> {
  const pipeline = pipelineOf(c);
  const db = await caseDatabase(ctx.kind);
  const inbox = makeInbox();

  // A failing file shares its run with a good one, loaded first: the bad file must fail alone,
  // keep nothing, and leave the good one loaded in full.
  const companion = c.companion === undefined ? loadCorpus().companions[c.pipeline] : c.companion;
  const placed = c.outcome === 'fails' && !c.http && !!companion;
  const withCompanion = placed && c.scope === 'file';
  if (placed) {
    const from = join(PACKAGE_ROOT, companion!);
    place(from, inbox, companionName(from));
  }
  const input = c.http ? `${ctx.httpBase!()}/${c.http}/${httpFile(c)}` : materialise(c, inbox);

  const relationsBefore = await listRelations(db.handle);
  const before = await fingerprint(db.handle);

  const summary = await run(c, db.handle, inbox, ctx);
  trace(`${c.id} [${ctx.kind}]: ${summary.status} in ${summary.durationMs} ms`);
  outcome.detail = summary.error?.slice(0, 1000) ?? `read ${summary.counts.rowsRead}, loaded ${summary.counts.rowsLoaded}, rejected ${summary.counts.rowsRejected}, skipped ${summary.counts.rowsSkipped}`;

  // The ledger: the run's own counts reconcile, and so does every file it loaded.
  const [runRow] = await query<RunRow>(
    db.handle,
    'select status, error, rows_read, rows_loaded, rows_rejected, rows_skipped from etl.runs where run_id = $1',
    [summary.runId],
  );
  expect(runRow, 'the run is in etl.runs').toBeDefined();
  const unaccounted = runRow!.rows_read - (runRow!.rows_loaded + runRow!.rows_rejected + runRow!.rows_skipped);
  outcome.lost += Math.abs(unaccounted);
  const files = await query<{ uri: string; rows_read: number; rows_loaded: number; rows_rejected: number; rows_skipped: number }>(
    db.handle,
    'select uri, rows_read, rows_loaded, rows_rejected, rows_skipped from etl.source_files where run_id = $1 order by uri',
    [summary.runId],
  );
  for (const f of files) {
    const gap = f.rows_read - (f.rows_loaded + f.rows_rejected + f.rows_skipped);
    outcome.lost += Math.abs(gap);
    expect(gap, `${f.uri}: read = loaded + rejected + skipped`).toBe(0);
  }
  expect(unaccounted, 'etl.runs: read = loaded + rejected + skipped').toBe(0);
  const sum = (k: 'rows_read' | 'rows_loaded' | 'rows_rejected' | 'rows_skipped') => files.reduce((n, f) => n + f[k], 0);
  expect([sum('rows_read'), sum('rows_loaded'), sum('rows_rejected'), sum('rows_skipped')], 'the files add up to the run').toEqual([
    runRow!.rows_read,
    runRow!.rows_loaded,
    runRow!.rows_rejected,
    runRow!.rows_skipped,
  ]);
  expect(await listRelations(db.handle), 'no table or view went missing').toEqual(relationsBefore);

  if (c.outcome === 'fails') {
    const expected = withCompanion ? 'partial' : 'failed';
    expect(summary.status, `expected the file to fail${withCompanion ? ' alone' : ''}; ${outcome.detail}`).toBe(expected);
    // Checked before any regex runs over it: a message holding 50 MB is itself the bug.
    const failed = summary.files.filter((f): f is Extract<typeof f, { action: 'failed' }> => f.action === 'failed');
    for (const f of failed) {
      expect(f.message.length, `the message is short enough to read: ${f.message.slice(0, 300)}…`).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
      expect(f.message).toMatch(c.message!);
    }
    expect(summary.error!.length, `the run's error is short enough to read: ${summary.error!.slice(0, 300)}…`).toBeLessThanOrEqual(MAX_MESSAGE_CHARS + 500);
    expect(summary.error).toMatch(c.message!);
    expect(runRow!.status).toBe(expected);
    expect(runRow!.error).toMatch(c.message!);
    // Nothing of the bad file was kept: no version, no raw row, no reject.
    expect(failed.map((f) => f.file.uri).filter((u) => u !== input), 'only the bad input failed').toEqual([]);
    const kept = await query<{ n: number }>(
      db.handle,
      `select (select count(*) from etl.source_files where uri = $1)::int + (select count(*) from etl.rejects where uri = $1)::int as n`,
      [input],
    );
    expect(kept[0]!.n, 'nothing of the bad file is in etl.source_files or etl.rejects').toBe(0);
    if (withCompanion) {
      // The good file beside it loaded in full: raw and core equal a clean load of the good file alone.
      expect(files.map((f) => basename(f.uri))).toEqual([companionName(join(PACKAGE_ROOT, companion!))]);
      const reference = await companionContents(ctx, c, companion!);
      const diffs = diffContents(reference, await contents(db.handle));
      outcome.lost += diffs.filter((d) => d.table.startsWith('raw.')).reduce((n, d) => n + d.missing.length, 0);
      expect(diffs, 'raw and core tables equal a clean load of the good file alone').toEqual([]);
    } else {
      // No companion, or the failure is the run's: nothing changed, the companion included.
      expect(runRow).toMatchObject({ rows_read: 0, rows_loaded: 0, rows_rejected: 0, rows_skipped: 0 });
      // Nothing changed: not the raw and core tables, not the loaded files, not the rejects.
      expect(await fingerprint(db.handle), 'a failed run changes nothing').toEqual(before);
      expect(files).toEqual([]);
    }
  } else {
    expect(summary.status, `expected the run to succeed; ${outcome.detail}`).toBe('succeeded');
    const expected = c.counts!;
    expect({ read: runRow!.rows_read, loaded: runRow!.rows_loaded, rejected: runRow!.rows_rejected, skipped: runRow!.rows_skipped }).toEqual(expected);
    expect(files.map((f) => f.uri)).toEqual([input]);
    const [raw] = await query<{ n: number }>(db.handle, `select count(*)::int as n from ${pipeline.load.table} where run_id = $1`, [summary.runId]);
    outcome.lost += Math.abs(raw!.n - runRow!.rows_loaded);
    expect(raw!.n, `rows in ${pipeline.load.table} = rows loaded`).toBe(runRow!.rows_loaded);
    const rejects = await query<{ uri: string; line_no: number; reason: string; raw_text: string | null }>(
      db.handle,
      'select uri, line_no, reason, raw_text from etl.rejects where run_id = $1 order by line_no',
      [summary.runId],
    );
    outcome.lost += Math.abs(rejects.length - runRow!.rows_rejected);
    expect(rejects.length, 'rows in etl.rejects = rows rejected').toBe(runRow!.rows_rejected);
    expect(rejects.map((r) => r.line_no)).toEqual(c.reject_lines ?? []);
    for (const r of rejects) {
      expect(r.uri).toBe(input);
      expect(r.reason.length, `reject reason of line ${r.line_no} is short enough to read`).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
      expect(r.reason).toMatch(c.message!);
      expect(r.raw_text).not.toBeNull();
    }
  }

  for (const a of c.assert) {
    const result = await query(db.handle, a.sql);
    expect(result.map((row) => Object.values(row).map(asText)), a.sql).toEqual(a.rows);
  }

  // The database holds exactly what a clean load of the good rows holds.
  if (c.outcome !== 'fails' && (c.clean || c.outcome === 'rejects')) {
    const reference = await caseDatabase(ctx.kind);
    const cleanInbox = makeInbox();
    materialiseClean(c, cleanInbox);
    const clean = await run({ ...c, http: undefined }, reference.handle, cleanInbox, ctx);
    expect(clean.status, clean.error).toBe('succeeded');
    expect(clean.counts.rowsRejected, 'the clean input has no bad rows').toBe(0);
    trace(`${c.id} [${ctx.kind}]: clean load ${clean.status} in ${clean.durationMs} ms; comparing`);
    const diffs = diffContents(await contents(reference.handle), await contents(db.handle));
    trace(`${c.id} [${ctx.kind}]: compared`);
    outcome.lost += diffs.filter((d) => d.table.startsWith('raw.')).reduce((n, d) => n + d.missing.length, 0);
    expect(diffs, 'raw and core tables equal a clean load of the good rows').toEqual([]);
  }
}

/** One test per case and database kind, for the cases `select` picks. */
export function defineCorpusTests(name: string, select: (c: BadCase) => boolean, options: { httpBase?: () => string } = {}): void {
  const cases = loadCorpus().cases.filter(select);
  describeEachDatabase(name, (kind) => {
    releasePoolAfterAll(kind);
    for (const c of cases) {
      it(
        `${c.id}: ${c.outcome}`,
        async () => {
          const outcome = { lost: 0, detail: '' };
          onTestFinished((test) => {
            const handled = test.task.result?.state !== 'fail';
            const error = test.task.result?.errors?.[0]?.message;
            record({ type: 'case', id: c.id, database: kind, handled, lost: outcome.lost, detail: handled ? outcome.detail : `${error ?? ''} (${outcome.detail})`.slice(0, 2000) });
          });
          const ctx = { kind, ...(options.httpBase ? { httpBase: options.httpBase } : {}) };
          await (c.steps ? checkSteps(c, ctx, outcome) : checkCase(c, ctx, outcome));
        },
        (c.timeout_s * 2 + 60) * 1000,
      );
    }
  });
}

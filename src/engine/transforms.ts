import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqlConnection } from '../db/connect.js';
import type { Logger } from '../log/logger.js';
import { SQL_DIR } from '../paths.js';
import type { PartitionGrain, PartitionSpec } from './pipeline.js';

/**
 * SQL transforms are plain files under sql/transforms/. The comment lines each starts with (its
 * title line, then the header) say what it reads and writes:
 *
 *   -- core.custom_series: the current value of each (series, subject, observation_date).
 *   -- reads: raw.custom_series, etl.source_files, run_scope
 *   -- reads previous: core.index_concentration
 *   -- writes: core.custom_series
 *
 * `reads` runs the transform after every other transform of the pipeline that writes one of
 * those relations; `reads previous` (the relation as it stood before this run rewrote it) runs it
 * before them. The engine checks the header against the statements (every insert, update,
 * delete, merge, truncate, create, alter or drop target must be declared, except temporary tables
 * the file creates for itself), orders a pipeline's transforms by the graph (ties by file name),
 * and runs them inside the run's transaction.
 *
 * A name with a schema is a table or view of the database. A name without one is a relation of
 * the run, gone at commit: `run_scope`, which the engine fills, or a temporary table one
 * transform declares in `writes` and creates, for later ones to read.
 *
 * run_scope holds the file versions whose rows this run made count or stop counting:
 *   file_id, source_key, uri
 *   change        added | changed | restored (loaded for a path whose version had been retired) | retired
 *   is_current    its rows count after this run (false: the version an edit replaced, or one retired)
 *   rows_loaded   the rows this run loaded from it (versions it loaded)
 *   partition_key, period_start, period_end   the period its name says, where the pipeline has partitions
 *
 * Settings, for what is not a file:
 *   current_setting('bubblewatch.run_id')::bigint      the run
 *   current_setting('bubblewatch.full_refresh') = 'on' recompute everything, not just run_scope
 */

export interface TransformSettings {
  readonly runId: number;
  readonly pipeline: string;
  readonly fullRefresh: boolean;
  /** How the pipeline's file names map to periods, for run_scope's partition columns. */
  readonly partitions?: PartitionSpec;
}

export interface TransformOutcome {
  readonly file: string;
  readonly ms: number;
}

/** A transform file with its declarations, as parsed and checked. */
export interface Transform {
  /** Relative to the transforms folder, e.g. 'market/constituents_20_rows.sql'. */
  readonly file: string;
  readonly text: string;
  readonly reads: readonly string[];
  readonly readsPrevious: readonly string[];
  readonly writes: readonly string[];
}

export const TRANSFORMS_DIR = join(SQL_DIR, 'transforms');

/** The relation the engine fills with the run's scope. */
export const RUN_SCOPE = 'run_scope';

/** A transform's header is missing, disagrees with its statements, or the transforms cannot be ordered. */
export class TransformDeclarationError extends Error {}

const where = (file: string) => `sql/transforms/${file}`;

// ---------------------------------------------------------------------------------------------
// Header and statements
// ---------------------------------------------------------------------------------------------

const HEADER_LINE = /^--\s*(reads previous|reads|writes)\s*:(.*)$/;
const IDENT = String.raw`(?:"[^"]+"|[a-z_][a-z0-9_$]*)`;
const NAME = String.raw`${IDENT}(?:\s*\.\s*${IDENT})?`;
const NAME_RE = new RegExp(String.raw`^${NAME}$`);

/** 'Core . "Custom_Series"' → 'core.Custom_Series'; pg_temp.x → x (a relation of the run). */
function normalName(raw: string): string {
  const parts = raw.split('.').map((p) => {
    const t = p.trim();
    return t.startsWith('"') ? t.slice(1, -1) : t.toLowerCase();
  });
  if (parts.length === 2 && parts[0] === 'pg_temp') return parts[1]!;
  return parts.join('.');
}

function parseHeader(file: string, text: string): { reads: string[]; readsPrevious: string[]; writes: string[] } {
  const lists = { reads: [] as string[], 'reads previous': [] as string[], writes: [] as string[] };
  let found = false;
  // The header is in the comment lines the file starts with.
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (!trimmed.startsWith('--')) break;
    const m = HEADER_LINE.exec(trimmed);
    if (!m) continue;
    found = true;
    const key = m[1] as keyof typeof lists;
    for (const item of m[2]!.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      if (!NAME_RE.test(item.toLowerCase())) {
        throw new TransformDeclarationError(`${where(file)}: its header's "${key}:" names "${item}", expected relation names like core.custom_series or run_scope, separated by commas`);
      }
      lists[key].push(normalName(item));
    }
  }
  if (!found || lists.writes.length === 0) {
    throw new TransformDeclarationError(
      `${where(file)}: no "-- writes:" header line naming what it writes; expected the file to start with comment lines like ` +
        `"-- reads: raw.x, run_scope" and "-- writes: core.y"`,
    );
  }
  const reads = [...new Set(lists.reads)];
  const readsPrevious = [...new Set(lists['reads previous'])];
  const both = reads.filter((r) => readsPrevious.includes(r));
  if (both.length > 0) {
    throw new TransformDeclarationError(`${where(file)}: its header lists ${both.join(', ')} under both "reads" and "reads previous"; expected one of them`);
  }
  return { reads, readsPrevious, writes: [...new Set(lists.writes)] };
}

/** The text with comments and quoted strings blanked out, in lower case: only statements remain. */
function statementsOnly(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
      out += ' ';
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      out += ' ';
    } else if (c === "'") {
      // '' inside a literal is an escaped quote: the loop reads it as two adjacent literals.
      const end = text.indexOf("'", i + 1);
      i = end < 0 ? text.length : end + 1;
      out += "''";
    } else if (c === '"') {
      // Quoted identifiers keep their case and spelling.
      const end = text.indexOf('"', i + 1);
      const stop = end < 0 ? text.length : end + 1;
      out += text.slice(i, stop);
      i = stop;
    } else {
      out += c.toLowerCase();
      i++;
    }
  }
  return out;
}

/** What the statements write, found by their targets: a cheap text check, not a parser. */
interface FoundWrites {
  /** Relation → the statement kind that writes it first (insert, update, …). */
  readonly targets: ReadonlyMap<string, string>;
  /** Temporary relations the file creates itself (its scratch, unless it declares them). */
  readonly temporary: ReadonlySet<string>;
}

const WRITE_PATTERNS: readonly { kind: string; re: RegExp; list?: boolean }[] = [
  { kind: 'insert', re: new RegExp(String.raw`\binsert\s+into\s+(${NAME})`, 'g') },
  // Not the `do update` of an upsert, nor a `for update` row lock.
  { kind: 'update', re: new RegExp(String.raw`(?<!\b(?:do|for|key)\s+)\bupdate\s+(?:only\s+)?(${NAME})`, 'g') },
  { kind: 'delete', re: new RegExp(String.raw`\bdelete\s+from\s+(?:only\s+)?(${NAME})`, 'g') },
  { kind: 'merge', re: new RegExp(String.raw`\bmerge\s+into\s+(${NAME})`, 'g') },
  { kind: 'truncate', re: new RegExp(String.raw`\btruncate\s+(?:table\s+)?(?:only\s+)?(${NAME}(?:\s*,\s*${NAME})*)`, 'g'), list: true },
  { kind: 'alter', re: new RegExp(String.raw`\balter\s+(?:table|view|materialized\s+view)\s+(?:if\s+exists\s+)?(?:only\s+)?(${NAME})`, 'g') },
  { kind: 'drop', re: new RegExp(String.raw`\bdrop\s+(?:table|view|materialized\s+view)\s+(?:if\s+exists\s+)?(${NAME}(?:\s*,\s*${NAME})*)`, 'g'), list: true },
  { kind: 'copy', re: new RegExp(String.raw`\bcopy\s+(${NAME})\s*(?:\([^)]*\)\s*)?from\b`, 'g') },
];
const CREATE = new RegExp(
  String.raw`\bcreate\s+(?:or\s+replace\s+)?(?:(?:global|local)\s+)?(temp|temporary|unlogged)?\s*(?:table|view|materialized\s+view)\s+(?:if\s+not\s+exists\s+)?(${NAME})`,
  'g',
);

function findWrites(text: string): FoundWrites {
  const sql = statementsOnly(text);
  const targets = new Map<string, string>();
  const temporary = new Set<string>();
  for (const m of sql.matchAll(CREATE)) {
    const name = normalName(m[2]!);
    if (m[1] === 'temp' || m[1] === 'temporary') temporary.add(name);
    if (!targets.has(name)) targets.set(name, 'create');
  }
  for (const { kind, re, list } of WRITE_PATTERNS) {
    for (const m of sql.matchAll(re)) {
      const names = list ? m[1]!.split(',') : [m[1]!];
      for (const n of names) {
        const name = normalName(n);
        if (!targets.has(name)) targets.set(name, kind);
      }
    }
  }
  return { targets, temporary };
}

/** Parse one transform and check its statements against its header. */
export function parseTransform(file: string, text: string): Transform {
  const header = parseHeader(file, text);
  const found = findWrites(text);
  for (const [table, kind] of found.targets) {
    if (header.writes.includes(table) || found.temporary.has(table)) continue;
    throw new TransformDeclarationError(
      `${where(file)}: writes ${table} (${kind}) but its header does not declare it; got "-- writes: ${header.writes.join(', ')}", expected ${table} among them`,
    );
  }
  for (const name of header.writes) {
    if (name === RUN_SCOPE) {
      throw new TransformDeclarationError(`${where(file)}: its header declares it writes ${RUN_SCOPE}, which the engine fills for each run; expected it among "reads"`);
    }
    if (!name.includes('.') && !found.temporary.has(name)) {
      throw new TransformDeclarationError(
        `${where(file)}: its header declares it writes ${name}, a name without a schema, but it creates no temporary table of that name; ` +
          'expected schema.table, or a "create temp table" of it in the file',
      );
    }
  }
  return { file, text, ...header };
}

// ---------------------------------------------------------------------------------------------
// Order
// ---------------------------------------------------------------------------------------------

interface Edge {
  readonly from: Transform;
  readonly to: Transform;
  readonly relation: string;
  /** to reads what from writes, or from reads the previous state of what to writes. */
  readonly why: 'reads' | 'reads previous';
}

function describeEdge(e: Edge): string {
  return e.why === 'reads'
    ? `${where(e.to.file)} reads ${e.relation}, which ${where(e.from.file)} writes`
    : `${where(e.from.file)} reads the previous ${e.relation}, which ${where(e.to.file)} writes`;
}

/**
 * The order to run a pipeline's transforms in: a transform that reads X after every other one
 * that writes X, one that reads the previous X before them; among those free to run, by file name.
 * A relation without a schema must be run_scope or declared in another transform's `writes`.
 */
export function orderTransforms(transforms: readonly Transform[]): Transform[] {
  const byFile = new Map<string, Transform>();
  for (const t of transforms) {
    if (byFile.has(t.file)) throw new TransformDeclarationError(`${where(t.file)} is listed twice among the pipeline's transforms; expected each once`);
    byFile.set(t.file, t);
  }
  const writers = new Map<string, Transform[]>();
  for (const t of transforms) for (const w of t.writes) writers.set(w, [...(writers.get(w) ?? []), t]);

  for (const t of transforms) {
    for (const name of [...t.reads, ...t.readsPrevious]) {
      if (name.includes('.') || name === RUN_SCOPE) continue;
      const others = (writers.get(name) ?? []).filter((w) => w !== t);
      if (others.length === 0) {
        throw new TransformDeclarationError(
          `${where(t.file)}: its header reads ${name}, which is no relation of the run: expected ${RUN_SCOPE}, schema.table, ` +
            `or a temporary table another transform of the pipeline declares in "-- writes:" (got none that does)`,
        );
      }
    }
  }

  const edges: Edge[] = [];
  for (const t of transforms) {
    for (const r of t.reads) for (const w of writers.get(r) ?? []) if (w !== t) edges.push({ from: w, to: t, relation: r, why: 'reads' });
    for (const r of t.readsPrevious) for (const w of writers.get(r) ?? []) if (w !== t) edges.push({ from: t, to: w, relation: r, why: 'reads previous' });
  }

  const waitingOn = new Map<Transform, number>(transforms.map((t) => [t, 0]));
  for (const e of edges) waitingOn.set(e.to, waitingOn.get(e.to)! + 1);
  const ordered: Transform[] = [];
  const ready = transforms.filter((t) => waitingOn.get(t) === 0);
  while (ready.length > 0) {
    ready.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const next = ready.shift()!;
    ordered.push(next);
    for (const e of edges) {
      if (e.from !== next) continue;
      const left = waitingOn.get(e.to)! - 1;
      waitingOn.set(e.to, left);
      if (left === 0) ready.push(e.to);
    }
  }
  if (ordered.length < transforms.length) {
    const rest = new Set(transforms.filter((t) => !ordered.includes(t)));
    throw new TransformDeclarationError(`the transforms cannot be ordered, their reads and writes form a cycle: ${describeCycle(rest, edges)}`);
  }
  return ordered;
}

/** One cycle among the transforms left unordered, as the chain of reads and writes that closes it. */
function describeCycle(rest: ReadonlySet<Transform>, edges: readonly Edge[]): string {
  // Every transform left waits on another one left, so walking back along edges must repeat.
  const path: Edge[] = [];
  const seen = new Map<Transform, number>();
  let at = [...rest].sort((a, b) => (a.file < b.file ? -1 : 1))[0]!;
  while (!seen.has(at)) {
    seen.set(at, path.length);
    const e = edges.find((x) => x.to === at && rest.has(x.from))!;
    path.push(e);
    at = e.from;
  }
  const cycle = path.slice(seen.get(at)).reverse();
  const files = [...cycle.map((e) => where(e.from.file)), where(cycle[0]!.from.file)].join(' → ');
  return `${files} (${cycle.map(describeEdge).join('; ')})`;
}

/** Read, parse, check and order the transforms a pipeline lists (relative to `dir`). */
export function planTransforms(files: readonly string[], dir: string = TRANSFORMS_DIR): Transform[] {
  const parsed = files.map((file) => {
    let text: string;
    try {
      text = readFileSync(join(dir, file), 'utf8');
    } catch (error) {
      throw new TransformDeclarationError(`${where(file)}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)}); expected a SQL file under ${dir}`);
    }
    return parseTransform(file, text);
  });
  return orderTransforms(parsed);
}

/** Every schema-qualified relation a header names must be a table or view of the database. */
export async function checkRelations(conn: SqlConnection, transforms: readonly Transform[]): Promise<void> {
  const named = new Map<string, { file: string; key: string }>();
  for (const t of transforms) {
    for (const [key, names] of [['reads', t.reads], ['reads previous', t.readsPrevious], ['writes', t.writes]] as const) {
      for (const n of names) if (n.includes('.') && !named.has(n)) named.set(n, { file: t.file, key });
    }
  }
  if (named.size === 0) return;
  const { rows } = await conn.query<{ name: string }>(
    `select n.name from jsonb_array_elements_text($1::jsonb) as n(name) where to_regclass(quote_ident(split_part(n.name, '.', 1)) || '.' || quote_ident(split_part(n.name, '.', 2))) is null`,
    [JSON.stringify([...named.keys()])],
  );
  if (rows.length === 0) return;
  const problems = rows.map((r) => {
    const n = named.get(r.name)!;
    return `${where(n.file)}: its header's "${n.key}:" names ${r.name}, which is no table or view in the database`;
  });
  throw new TransformDeclarationError(`${problems.join('; ')} (expected relations the migrations create)`);
}

// ---------------------------------------------------------------------------------------------
// The run's scope
// ---------------------------------------------------------------------------------------------

export type ScopeChange = 'added' | 'changed' | 'restored' | 'retired';

export interface ScopeRow {
  readonly file_id: number;
  readonly source_key: string;
  readonly uri: string;
  readonly change: ScopeChange;
  readonly is_current: boolean;
  readonly rows_loaded: number | null;
  readonly partition_key: string | null;
  readonly period_start: string | null;
  readonly period_end: string | null;
}

/** The first and last day of a partition key ('2025-06-30', '2025-06', '2025Q2'). */
export function partitionPeriod(key: string, grain: PartitionGrain): { start: string; end: string } | undefined {
  const iso = (d: Date) => d.toISOString().slice(0, 10);
  if (grain === 'day') return /^\d{4}-\d{2}-\d{2}$/.test(key) ? { start: key, end: key } : undefined;
  const m = grain === 'month' ? /^(\d{4})-(\d{2})$/.exec(key) : /^(\d{4})Q([1-4])$/.exec(key);
  if (!m) return undefined;
  const year = Number(m[1]);
  const firstMonth = grain === 'month' ? Number(m[2]) - 1 : (Number(m[2]) - 1) * 3;
  const months = grain === 'month' ? 1 : 3;
  return { start: iso(new Date(Date.UTC(year, firstMonth, 1))), end: iso(new Date(Date.UTC(year, firstMonth + months, 0))) };
}

/**
 * Create and fill run_scope for this run (temporary, dropped at commit) from the ledger: the
 * versions this run loaded, and those it replaced or retired.
 */
export async function createRunScope(conn: SqlConnection, settings: TransformSettings): Promise<ScopeRow[]> {
  const { rows } = await conn.query<{
    file_id: number | string;
    source_key: string;
    uri: string;
    change: string;
    is_current: boolean;
    rows_loaded: number | string | null;
  }>(
    `select f.file_id, f.source_key, f.uri,
            case
              when f.run_id <> $2 then f.superseded_reason
              when exists (select 1 from etl.source_files p where p.superseded_by = f.file_id) then 'changed'
              when exists (select 1 from etl.source_files p
                           where p.pipeline = f.pipeline and p.source_key = f.source_key and p.file_id < f.file_id) then 'restored'
              else 'added'
            end as change,
            f.superseded_at is null as is_current,
            case when f.run_id = $2 then f.rows_loaded end as rows_loaded
     from etl.source_files f
     where f.pipeline = $1 and (f.run_id = $2 or f.superseded_run_id = $2)
     order by f.file_id`,
    [settings.pipeline, settings.runId],
  );
  const scope: ScopeRow[] = rows.map((r) => {
    // The version an edit replaced shares the change of the version that replaced it.
    const change = (r.change === 'replaced' ? 'changed' : r.change) as ScopeChange;
    const key = settings.partitions?.keyOf({ sourceKey: r.source_key, path: r.uri, uri: r.uri }) ?? null;
    const period = key && settings.partitions ? partitionPeriod(key, settings.partitions.grain) : undefined;
    return {
      file_id: Number(r.file_id),
      source_key: r.source_key,
      uri: r.uri,
      change,
      is_current: r.is_current,
      rows_loaded: r.rows_loaded === null ? null : Number(r.rows_loaded),
      partition_key: key,
      period_start: period?.start ?? null,
      period_end: period?.end ?? null,
    };
  });
  await conn.script(`
    drop table if exists pg_temp.${RUN_SCOPE};
    create temp table ${RUN_SCOPE} (
      file_id       bigint primary key,
      source_key    text not null,
      uri           text not null,
      change        text not null check (change in ('added', 'changed', 'restored', 'retired')),
      is_current    boolean not null,
      rows_loaded   bigint,
      partition_key text,
      period_start  date,
      period_end    date
    ) on commit drop;`);
  if (scope.length > 0) {
    await conn.query(
      `insert into ${RUN_SCOPE} (file_id, source_key, uri, change, is_current, rows_loaded, partition_key, period_start, period_end)
       select file_id, source_key, uri, change, is_current, rows_loaded, partition_key, period_start, period_end
       from jsonb_to_recordset($1::jsonb) as x(file_id bigint, source_key text, uri text, change text, is_current boolean,
                                               rows_loaded bigint, partition_key text, period_start date, period_end date)`,
      [JSON.stringify(scope)],
    );
  }
  // Transforms join it with large tables: the planner needs its size, which a new temporary table lacks.
  await conn.query(`analyze ${RUN_SCOPE}`);
  return scope;
}

export async function applyRunSettings(conn: SqlConnection, settings: TransformSettings): Promise<void> {
  await conn.query(
    `select set_config('bubblewatch.run_id', $1, true), set_config('bubblewatch.full_refresh', $2, true), set_config('bubblewatch.pipeline', $3, true)`,
    [String(settings.runId), settings.fullRefresh ? 'on' : 'off', settings.pipeline],
  );
}

/** Plan the pipeline's transforms, set up the run's scope, and run them in order. */
export async function runTransforms(
  conn: SqlConnection,
  files: readonly string[],
  settings: TransformSettings,
  logger: Logger,
  dir: string = TRANSFORMS_DIR,
): Promise<TransformOutcome[]> {
  const plan = planTransforms(files, dir);
  await applyRunSettings(conn, settings);
  // A pipeline that only loads (the benchmark's load-only runs) has no scope to build.
  if (plan.length === 0) return [];
  await checkRelations(conn, plan);
  await createRunScope(conn, settings);
  const outcomes: TransformOutcome[] = [];
  for (const { file, text } of plan) {
    const started = performance.now();
    try {
      await conn.script(text);
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      e.message = `transform ${where(file)} failed: ${e.message}`;
      throw e;
    }
    const ms = Math.round(performance.now() - started);
    logger.debug({ transform: file, ms }, `transform ${file} done in ${ms} ms`);
    outcomes.push({ file, ms });
  }
  return outcomes;
}

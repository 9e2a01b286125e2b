import type { DatabaseHandle } from '../../src/db/connect.js';

/**
 * What the reliability tests compare between databases and over time: which tables exist,
 * a fingerprint of everything a load writes, and the contents of the raw and core tables
 * without provenance (file ids, line numbers, run ids, JSON paths, timestamps), so that a
 * load with rejected rows can be compared with a clean load of only the good rows.
 */

async function query<R>(handle: DatabaseHandle, sql: string, params: unknown[] = []): Promise<R[]> {
  return handle.withConnection(async (conn) => (await conn.query<R>(sql, params)).rows);
}

function quote(name: string): string {
  return name
    .split('.')
    .map((p) => `"${p.replace(/"/g, '""')}"`)
    .join('.');
}

/** Every table and view of the bubblewatch schemas: a dropped table shows here. */
export async function listRelations(handle: DatabaseHandle): Promise<string[]> {
  const rows = await query<{ name: string }>(
    handle,
    `select table_schema || '.' || table_name as name from information_schema.tables
     where table_schema in ('raw', 'core', 'etl', 'analytics') order by 1`,
  );
  return rows.map((r) => r.name);
}

async function baseTables(handle: DatabaseHandle, schemas: readonly string[]): Promise<string[]> {
  const rows = await query<{ name: string }>(
    handle,
    `select table_schema || '.' || table_name as name from information_schema.tables
     where table_schema = any($1::text[]) and table_type = 'BASE TABLE' order by 1`,
    [schemas],
  );
  return rows.map((r) => r.name);
}

/**
 * Row count and an md5 over the rows of every raw and core table, and of etl.source_files and
 * etl.rejects: equal fingerprints before and after a run mean the run changed none of them.
 */
export async function fingerprint(handle: DatabaseHandle): Promise<Record<string, string>> {
  const tables = [...(await baseTables(handle, ['raw', 'core'])), 'etl.source_files', 'etl.rejects'];
  const out: Record<string, string> = {};
  for (const t of tables) {
    const [row] = await query<{ n: string; h: string | null }>(
      handle,
      `select count(*)::text as n, md5(coalesce(string_agg(x.t, E'\\n' order by x.t), '')) as h
       from (select s::text as t from ${quote(t)} s) x`,
    );
    out[t] = `${row!.n} rows, md5 ${row!.h}`;
  }
  return out;
}

/** Columns that say where a row came from or when it was written, not what it holds. */
const PROVENANCE = new Set(['file_id', 'line_no', 'run_id', 'locator', 'inputs']);

/**
 * Each raw and core table as a sorted list of rows (jsonb text, canonical), without provenance.
 * `inputs` (the evidence behind a derived quarter) is kept without its file ids and lines.
 */
export async function contents(handle: DatabaseHandle, options: { readonly currentOnly?: boolean } = {}): Promise<Map<string, string[]>> {
  const columns = await query<{ table_name: string; column_name: string; data_type: string }>(
    handle,
    `select table_schema || '.' || table_name as table_name, column_name, data_type
     from information_schema.columns c
     where table_schema in ('raw', 'core')
       and exists (select 1 from information_schema.tables t
                   where t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE')
     order by table_schema, table_name, ordinal_position`,
  );
  const byTable = new Map<string, { name: string; type: string }[]>();
  for (const c of columns) {
    const list = byTable.get(c.table_name) ?? [];
    list.push({ name: c.column_name, type: c.data_type });
    byTable.set(c.table_name, list);
  }
  const out = new Map<string, string[]>();
  for (const [table, cols] of byTable) {
    const drop = cols.filter((c) => PROVENANCE.has(c.name) || c.type.startsWith('timestamp')).map((c) => c.name);
    let expr = `to_jsonb(t) - $1::text[]`;
    if (cols.some((c) => c.name === 'inputs')) {
      expr += ` || jsonb_build_object('inputs', (select coalesce(jsonb_agg((e.v - 'file_id' - 'line') order by e.i), '[]'::jsonb)
                                                 from jsonb_array_elements(t.inputs) with ordinality as e(v, i)))`;
    }
    // Raw keeps every version of a file; what counts is the current one's rows.
    const where =
      options.currentOnly && table.startsWith('raw.') && cols.some((c) => c.name === 'file_id')
        ? ' where t.file_id in (select file_id from etl.source_files where superseded_at is null)'
        : '';
    const rows = await query<{ r: string }>(handle, `select (${expr})::text as r from ${quote(table)} t${where}`, [drop]);
    out.set(table, rows.map((r) => r.r).sort());
  }
  return out;
}

export interface ContentDiff {
  readonly table: string;
  /** Rows the reference has and the other database lacks. */
  readonly missing: string[];
  /** Rows the other database has and the reference lacks. */
  readonly extra: string[];
}

/** Differences of `actual` from `reference`, table by table (multisets of rows). */
export function diffContents(reference: Map<string, string[]>, actual: Map<string, string[]>): ContentDiff[] {
  const diffs: ContentDiff[] = [];
  for (const table of new Set([...reference.keys(), ...actual.keys()])) {
    const counts = new Map<string, number>();
    for (const r of reference.get(table) ?? []) counts.set(r, (counts.get(r) ?? 0) + 1);
    const extra: string[] = [];
    for (const r of actual.get(table) ?? []) {
      const n = counts.get(r) ?? 0;
      if (n > 0) counts.set(r, n - 1);
      else extra.push(r);
    }
    const missing = [...counts].flatMap(([r, n]) => Array.from({ length: n }, () => r));
    if (missing.length > 0 || extra.length > 0) diffs.push({ table, missing, extra });
  }
  return diffs;
}

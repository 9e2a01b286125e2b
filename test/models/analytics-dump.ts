import type { DatabaseHandle } from '../../src/db/connect.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

/**
 * Every analytics view as text, for comparing the figures the product shows before and after a
 * change to how the views are built (issue 15: "Must not change — every figure"). One entry per
 * view: a header of its columns, then its rows, each a tab-separated line, sorted.
 *
 * Left out, because they record when or in which order something happened rather than a
 * figure: columns of a time-stamp or interval type, run ids and alert event ids (they follow the
 * order the pipelines and rules ran in); and the alerts of rules that compare data with today's
 * date (`stale_source`: how old the newest data is), which change from day to day. Every other
 * column is compared as PostgreSQL writes it as text, so numeric scale, NULL against empty and the
 * last digit of a double all count. Paths of the bundled sample are written relative to the
 * checkout, wherever it is.
 */
/** Identifiers that number things in the order they happened. */
const ORDER_IDS = new Set(['run_id', 'event_id']);
/** Alert rules whose value depends on today's date. */
const TODAY_RELATIVE_RULES = ['stale_source'];

export async function dumpAnalytics(handle: DatabaseHandle): Promise<Map<string, string>> {
  return handle.withConnection(async (conn) => {
    const { rows: columns } = await conn.query<{ view: string; column: string; type: string }>(
      `select c.relname as view, a.attname as column, format_type(a.atttypid, a.atttypmod) as type
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       where n.nspname = 'analytics' and c.relkind in ('v', 'm')
       order by c.relname, a.attnum`,
    );
    const byView = new Map<string, string[]>();
    for (const c of columns) {
      if (/^(timestamp|interval|time )/.test(c.type) || ORDER_IDS.has(c.column)) continue;
      byView.set(c.view, [...(byView.get(c.view) ?? []), c.column]);
    }
    const out = new Map<string, string>();
    for (const [view, cols] of byView) {
      const list = cols.map((c) => `coalesce(${quoteIdent(c)}::text, '∅')`).join(` || E'\\t' || `);
      const dated = columns.some((c) => c.view === view && c.column === 'rule_id') ? ` where rule_id <> all($1::text[])` : '';
      const { rows } = await conn.query<{ line: string }>(`select ${list} as line from analytics.${quoteIdent(view)}${dated}`, dated ? [TODAY_RELATIVE_RULES] : []);
      const lines = rows.map((r) => r.line.replaceAll(`${PACKAGE_ROOT}/`, '').replace(/\n/g, '\\n')).sort();
      out.set(view, [cols.join('\t'), ...lines].join('\n') + '\n');
    }
    return out;
  });
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

import { expect, it } from 'vitest';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { rows } from '../helpers/pipelines.js';

describeEachDatabase('analytics views', (kind) => {
  it('document every view and every column with COMMENT ON', async () => {
    const db = await useDatabase(kind);
    const views = await rows<{ view: string; comment: string | null }>(
      db.handle,
      `select c.relname as view, obj_description(c.oid, 'pg_class') as comment
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'analytics' and c.relkind in ('v', 'm') order by 1`,
    );
    expect(views.map((v) => v.view)).toEqual(
      expect.arrayContaining(['company_facts', 'custom_series', 'hyperscaler_facts_as_first_reported', 'hyperscaler_quarterly', 'hyperscaler_totals_quarterly', 'indicator_values']),
    );
    for (const v of views) expect(v.comment, `analytics.${v.view}`).toBeTruthy();
    const undocumented = await rows<{ column: string }>(
      db.handle,
      `select c.relname || '.' || a.attname as column
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       where n.nspname = 'analytics' and c.relkind in ('v', 'm') and col_description(c.oid, a.attnum) is null
       order by 1`,
    );
    expect(undocumented).toEqual([]);
  });
});

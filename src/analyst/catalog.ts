import type { SqlConnection } from '../db/connect.js';

/**
 * The analytics views as the database describes them: COMMENT ON text (pg_description),
 * column types, and the tables each view reads. Generated documentation comes from here, so
 * it can only say what the migrations say.
 */

export interface CatalogColumn {
  readonly name: string;
  readonly type: string;
  readonly comment: string | null;
}

export interface CatalogView {
  readonly schema: string;
  readonly name: string;
  readonly comment: string | null;
  readonly columns: readonly CatalogColumn[];
  /** Tables and views the view reads directly, schema-qualified, sorted. */
  readonly reads: readonly string[];
}

export async function readViews(conn: SqlConnection, schema = 'analytics'): Promise<CatalogView[]> {
  const { rows: views } = await conn.query<{ oid: string; name: string; comment: string | null }>(
    `select c.oid::text as oid, c.relname::text as name, obj_description(c.oid, 'pg_class') as comment
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relkind in ('v', 'm')
     order by c.relname`,
    [schema],
  );
  const { rows: columns } = await conn.query<{ oid: string; name: string; type: string; comment: string | null }>(
    `select a.attrelid::text as oid, a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type,
            col_description(a.attrelid, a.attnum) as comment
     from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relkind in ('v', 'm') and a.attnum > 0 and not a.attisdropped
     order by a.attrelid, a.attnum`,
    [schema],
  );
  const { rows: reads } = await conn.query<{ oid: string; source: string }>(
    `select distinct r.ev_class::text as oid, dn.nspname || '.' || dc.relname as source
     from pg_rewrite r
     join pg_class v on v.oid = r.ev_class
     join pg_namespace vn on vn.oid = v.relnamespace
     join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid and d.refclassid = 'pg_class'::regclass
     join pg_class dc on dc.oid = d.refobjid
     join pg_namespace dn on dn.oid = dc.relnamespace
     where vn.nspname = $1 and d.refobjid <> r.ev_class
     order by 1, 2`,
    [schema],
  );
  return views.map((v) => ({
    schema,
    name: v.name,
    comment: v.comment,
    columns: columns.filter((c) => c.oid === v.oid).map(({ name, type, comment }) => ({ name, type, comment })),
    reads: reads.filter((r) => r.oid === v.oid).map((r) => r.source),
  }));
}

import type { SqlConnection } from '../db/connect.js';
import { quoteIdent } from '../db/connect.js';
import { MigrationError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { withDependents, type Model } from './load-models.js';

/**
 * Building models inside the migrator's transaction, under its lock (dbt's view
 * materialization, graphile-migrate's idempotent current.sql): etl.model_builds records each
 * model's checksum; a model whose checksum changed (or whose view is gone) is rebuilt with
 * every model that reads it, dependents dropped first, all in dependency order. A view is
 * dropped and created rather than replaced, so a model may change its columns. Grants on a
 * rebuilt view are kept. A view made outside the models that reads one being rebuilt stops
 * the build, naming it: dropping it silently would lose someone's work.
 */

export interface BuildRecord {
  readonly name: string;
  readonly checksum: string;
  /** The view exists. */
  readonly present: boolean;
}

export interface BuildResult {
  /** Models (re)built, in the order they were built. */
  readonly built: readonly string[];
  /** Views of models that are no longer defined, dropped. */
  readonly dropped: readonly string[];
}

const RECORDS = `select name, checksum, to_regclass(name) is not null as present from etl.model_builds order by name`;

export async function modelBuildsPresent(conn: SqlConnection): Promise<boolean> {
  const { rows } = await conn.query<{ present: boolean }>(`select to_regclass('etl.model_builds') is not null as present`);
  return rows[0]?.present ?? false;
}

export async function readBuildRecords(conn: SqlConnection): Promise<BuildRecord[]> {
  return (await conn.query<BuildRecord>(RECORDS)).rows;
}

/** Models to rebuild given what the database recorded: changed or missing ones and everything that reads them. */
export function modelsToBuild(models: readonly Model[], records: readonly BuildRecord[]): Model[] {
  const recorded = new Map(records.map((r) => [r.name, r]));
  const changed = new Set(models.filter((m) => recorded.get(m.name)?.checksum !== m.checksum || !recorded.get(m.name)!.present).map((m) => m.name));
  return withDependents(models, changed);
}

/** Recorded views whose model no longer exists. */
export function modelsRemoved(models: readonly Model[], records: readonly BuildRecord[]): string[] {
  const names = new Set(models.map((m) => m.name));
  return records.filter((r) => !names.has(r.name)).map((r) => r.name);
}

/** GRANT statements per view, to give back after it is created again. */
export type SavedGrants = ReadonlyMap<string, readonly string[]>;

/**
 * Drop every recorded model view (before migrations run, so no migration is blocked by a view
 * on the table it alters). Returns the grants they had; buildModels then rebuilds them all.
 */
export async function dropBuiltModels(conn: SqlConnection): Promise<SavedGrants> {
  if (!(await modelBuildsPresent(conn))) return new Map();
  const present = (await readBuildRecords(conn)).filter((r) => r.present).map((r) => r.name);
  const grants = await readGrants(conn, present);
  await dropViews(conn, present, 'migrations are pending');
  return grants;
}

export async function buildModels(
  conn: SqlConnection,
  models: readonly Model[],
  options: { readonly all: boolean; readonly grants?: SavedGrants | undefined; readonly logger?: Logger | undefined },
): Promise<BuildResult> {
  // The model layer starts with migration 0017; a database migrated only that far back has none.
  if (!(await modelBuildsPresent(conn))) return { built: [], dropped: [] };
  const records = await readBuildRecords(conn);
  const plan = options.all ? [...models] : modelsToBuild(models, records);
  const removed = modelsRemoved(models, records);
  if (plan.length === 0 && removed.length === 0) return { built: [], dropped: [] };

  // Views of the plan may exist unrecorded (made by the migrations before 0017): drop those too.
  const { rows: present } = await conn.query<{ name: string }>(`select u.n as name from unnest($1::text[]) as u(n) where to_regclass(u.n) is not null`, [
    [...plan.map((m) => m.name), ...removed],
  ]);
  const existing = present.map((r) => r.name);
  const grants = new Map([...(options.grants ?? []), ...(await readGrants(conn, existing))]);
  await dropViews(conn, existing, 'they are rebuilt');

  for (const model of plan) {
    options.logger?.debug({ model: model.name }, `building model ${model.name}`);
    await createModel(conn, model);
    for (const grant of grants.get(model.name) ?? []) await conn.script(grant);
    await conn.query(
      `insert into etl.model_builds (name, checksum, built_at) values ($1, $2, now())
       on conflict (name) do update set checksum = excluded.checksum, built_at = excluded.built_at`,
      [model.name, model.checksum],
    );
  }
  if (removed.length > 0) {
    options.logger?.info(`dropped the views of models no longer defined: ${removed.join(', ')}`);
    await conn.query(`delete from etl.model_builds where name = any($1::text[])`, [removed]);
  }
  return { built: plan.map((m) => m.name), dropped: removed };
}

async function createModel(conn: SqlConnection, model: Model): Promise<void> {
  try {
    await conn.script(model.create);
  } catch (error) {
    throw new MigrationError(`model ${model.name} (${model.sqlFile ?? `generated from the indicator declarations; ${model.file}`}) failed to build, nothing was applied: ${(error as Error).message}`);
  }
  await checkColumns(conn, model);
  await checkDependencies(conn, model);
  try {
    await conn.script(model.comments);
  } catch (error) {
    throw new MigrationError(`model ${model.name}: the comments of ${model.file} failed, nothing was applied: ${(error as Error).message}`);
  }
}

/** The yml must list exactly the view's columns, in order: the documentation is of this view, not of an older one. */
async function checkColumns(conn: SqlConnection, model: Model): Promise<void> {
  const { rows } = await conn.query<{ name: string }>(
    `select a.attname::text as name from pg_attribute a where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    [model.name],
  );
  const actual = rows.map((r) => r.name);
  const listed = model.doc.columns.map((c) => c.name);
  const missing = actual.filter((c) => !listed.includes(c));
  const extra = listed.filter((c) => !actual.includes(c));
  if (missing.length > 0) {
    throw new MigrationError(`${model.file}: the view ${model.name} has column ${missing.map((c) => `"${c}"`).join(', ')}, which the yml does not list; expected the yml's columns to be the view's: ${actual.join(', ')}`);
  }
  if (extra.length > 0) {
    throw new MigrationError(`${model.file}: lists column ${extra.map((c) => `"${c}"`).join(', ')}, which the view ${model.name} does not have; the view's columns are: ${actual.join(', ')}`);
  }
  const at = listed.findIndex((c, i) => c !== actual[i]);
  if (at >= 0) {
    throw new MigrationError(`${model.file}: column ${at + 1} of ${model.name} is "${actual[at]}", but the yml lists "${listed[at]}" there; expected the yml to list the columns in the view's order: ${actual.join(', ')}`);
  }
}

/** The models a view reads according to the catalog, against those its SQL names. */
async function checkDependencies(conn: SqlConnection, model: Model): Promise<void> {
  const { rows } = await conn.query<{ name: string }>(
    `select distinct dn.nspname || '.' || dc.relname as name
     from pg_rewrite r
     join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid and d.refclassid = 'pg_class'::regclass
     join pg_class dc on dc.oid = d.refobjid
     join pg_namespace dn on dn.oid = dc.relnamespace
     where r.ev_class = $1::regclass and d.refobjid <> r.ev_class and dn.nspname = any($2::text[])
     order by 1`,
    [model.name, [model.schema]],
  );
  const actual = rows.map((r) => r.name);
  const declared = model.dependsOn.filter((d) => d.startsWith(`${model.schema}.`));
  if (actual.join(',') !== declared.join(',')) {
    throw new MigrationError(
      `${model.sqlFile ?? model.file}: ${model.name} reads ${actual.join(', ') || 'no model'} according to the database catalog, ` +
        `but its SQL names ${declared.join(', ') || 'no model'}; write every model it reads schema-qualified (analytics.x) so the build order follows them`,
    );
  }
}

/** GRANT statements that give back what roles other than the owner hold on each view. */
async function readGrants(conn: SqlConnection, views: readonly string[]): Promise<Map<string, string[]>> {
  if (views.length === 0) return new Map();
  const { rows } = await conn.query<{ view: string; grantee: string | null; privilege: string; grantable: boolean }>(
    `select v.n as view, case when a.grantee = 0 then null else pg_get_userbyid(a.grantee)::text end as grantee,
            a.privilege_type as privilege, a.is_grantable as grantable
     from unnest($1::text[]) v(n)
     join pg_class c on c.oid = to_regclass(v.n)
     cross join lateral aclexplode(c.relacl) a
     where a.grantee <> c.relowner
     order by 1, 2, 3`,
    [views],
  );
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const to = r.grantee === null ? 'public' : quoteIdent(r.grantee);
    out.set(r.view, [...(out.get(r.view) ?? []), `grant ${r.privilege.toLowerCase()} on ${r.view} to ${to}${r.grantable ? ' with grant option' : ''}`]);
  }
  return out;
}

/**
 * Drop the views in one statement, which PostgreSQL orders among themselves; anything else
 * that reads one of them is refused first with its name, instead of PostgreSQL's generic
 * "other objects depend on it" or a CASCADE that would take it silently.
 */
async function dropViews(conn: SqlConnection, views: readonly string[], why: string): Promise<void> {
  if (views.length === 0) return;
  const { rows } = await conn.query<{ dependent: string; kind: string; model: string }>(
    `select distinct vn.nspname || '.' || v.relname as dependent,
            case v.relkind when 'm' then 'materialized view' else 'view' end as kind,
            dn.nspname || '.' || dc.relname as model
     from pg_depend d
     join pg_rewrite r on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
     join pg_class v on v.oid = r.ev_class
     join pg_namespace vn on vn.oid = v.relnamespace
     join pg_class dc on d.refclassid = 'pg_class'::regclass and dc.oid = d.refobjid
     join pg_namespace dn on dn.oid = dc.relnamespace
     where dc.oid = any(select to_regclass(n) from unnest($1::text[]) n)
       and v.oid <> dc.oid
       and not v.oid = any(select to_regclass(n) from unnest($1::text[]) n)
     order by 1, 3`,
    [views],
  );
  if (rows.length > 0) {
    const list = rows.map((r) => `${r.kind} ${r.dependent} (reads ${r.model})`).join(', ');
    throw new MigrationError(
      `cannot rebuild the models because ${list} is not a model: the model views are dropped and created again when ${why}, and it would be lost; ` +
        `nothing was applied. Drop it and create it again after migrating, or make it a model (sql/models/<schema>/<view>.sql and .yml)`,
    );
  }
  await conn.script(`drop view ${views.join(', ')}`);
}

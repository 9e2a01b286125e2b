import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { MigrationError } from '../errors.js';
import { PACKAGE_ROOT, SQL_DIR } from '../paths.js';
import { checkIndicatorsUnique, indicatorCatalogSql, indicatorsOf, indicatorValuesSql, type DeclaredIndicator } from './indicators.js';
import { readModelFile, type ModelFile } from './model-file.js';
import { literal, referencedRelations } from './sql-text.js';

/**
 * Models: one view per pair of files, `sql/models/<schema>/<view>.sql` (its SELECT) and
 * `<view>.yml` (its documentation and indicator declarations). The migrator builds them after
 * the migrations (src/models/build.ts). A model's dependencies are the schema-qualified names of
 * other models in its SQL; the build checks them against the catalog (pg_depend), so a reference
 * the text hides (an unqualified name) fails loudly instead of leaving a dependent stale.
 */

export const MODELS_DIR = join(SQL_DIR, 'models');

export interface Model {
  /** Qualified view name, e.g. analytics.cape. */
  readonly name: string;
  readonly schema: string;
  readonly view: string;
  /** The yml file, relative to the bubblewatch folder when inside it (for messages). */
  readonly file: string;
  /** The .sql file, or undefined for a generated model. */
  readonly sqlFile: string | undefined;
  readonly doc: ModelFile;
  /** The SELECT the view is made of (generated for analytics.indicator_values and analytics.indicators). */
  readonly select: string;
  /** Models this one reads, qualified, sorted. */
  readonly dependsOn: readonly string[];
  /** The statement that creates the view. */
  readonly create: string;
  /** COMMENT ON the view and each column, from the yml. */
  readonly comments: string;
  /** SHA-256 of create and comments: a model is rebuilt when either changes. */
  readonly checksum: string;
}

interface ModelSource {
  readonly name: string;
  readonly schema: string;
  readonly view: string;
  readonly file: string;
  readonly sqlFile: string | undefined;
  readonly sqlText: string | undefined;
  readonly doc: ModelFile;
}

const NAME = /^[a-z_][a-z0-9_]*$/;

function shown(path: string): string {
  const r = relative(PACKAGE_ROOT, path);
  return r.startsWith('..') ? path : r;
}

/** Read and validate the yml (and .sql) of every model under `dir`, without deriving anything from them. */
function readSources(dir: string): ModelSource[] {
  if (!existsSync(dir)) throw new MigrationError(`${dir}: the models folder does not exist; expected sql/models/<schema>/<view>.sql and .yml`);
  const sources: ModelSource[] = [];
  for (const schema of readdirSync(dir).sort()) {
    const schemaDir = join(dir, schema);
    if (!statSync(schemaDir).isDirectory()) continue;
    if (!NAME.test(schema)) throw new MigrationError(`${shown(schemaDir)}: a models folder is named after its schema in snake_case; got "${schema}"`);
    const files = readdirSync(schemaDir).sort();
    for (const file of files) {
      const m = /^(.*)\.(sql|yml)$/.exec(file);
      if (!m) throw new MigrationError(`${shown(join(schemaDir, file))}: a models folder holds only <view>.sql and <view>.yml files; got "${file}"`);
      if (!NAME.test(m[1]!)) throw new MigrationError(`${shown(join(schemaDir, file))}: a model is named after its view in snake_case; got "${m[1]}"`);
      if (m[2] === 'sql' && !files.includes(`${m[1]}.yml`)) {
        throw new MigrationError(`${shown(join(schemaDir, file))}: model ${schema}.${m[1]} has no documentation; expected ${shown(join(schemaDir, `${m[1]}.yml`))} beside it`);
      }
    }
    for (const file of files.filter((f) => f.endsWith('.yml'))) {
      const view = file.slice(0, -4);
      const ymlPath = join(schemaDir, file);
      const doc = readModelFile(ymlPath, shown(ymlPath));
      const sqlPath = join(schemaDir, `${view}.sql`);
      const hasSql = existsSync(sqlPath);
      if (doc.generated && hasSql) {
        throw new MigrationError(`${shown(sqlPath)}: ${schema}.${view} is generated (generated: ${doc.generated} in ${file}); remove the .sql file or the generated key`);
      }
      if (!doc.generated && !hasSql) throw new MigrationError(`${shown(ymlPath)}: model ${schema}.${view} has no SQL; expected ${shown(sqlPath)}`);
      if (doc.generated && doc.generated !== view) {
        throw new MigrationError(`${shown(ymlPath)}: generated: ${doc.generated} belongs in ${doc.generated}.yml, not in ${file}`);
      }
      sources.push({
        name: `${schema}.${view}`,
        schema,
        view,
        file: shown(ymlPath),
        sqlFile: hasSql ? shown(sqlPath) : undefined,
        sqlText: hasSql ? readFileSync(sqlPath, 'utf8') : undefined,
        doc,
      });
    }
  }
  return sources;
}

/** The statements that make a model's view: the view, then COMMENT ON it and each column. */
export function modelDdl(name: string, select: string, doc: ModelFile): { readonly create: string; readonly comments: string } {
  const comments = [`comment on view ${name} is ${literal(doc.description)};`];
  for (const column of doc.columns) comments.push(`comment on column ${name}.${column.name} is ${literal(column.description)};`);
  return { create: `create view ${name} as\n${select.trim().replace(/;\s*$/, '')};\n`, comments: comments.join('\n') + '\n' };
}

/**
 * Every model under `dir` (sql/models by default), parsed and validated, in dependency order
 * (a model after every model it reads; otherwise by name). Refuses a reference to a model that
 * does not exist and a dependency cycle, naming the files.
 */
export function loadModels(dir: string = MODELS_DIR): readonly Model[] {
  const sources = readSources(dir);
  const schemas = new Set(sources.map((s) => s.schema));
  const byName = new Map(sources.map((s) => [s.name, s]));
  const declaring = sources.map((s) => ({ name: s.name, file: s.file, doc: s.doc }));
  const duplicates = checkIndicatorsUnique(declaring);
  if (duplicates.length > 0) throw new MigrationError(`indicators are declared more than once:\n${duplicates.map((p) => `  - ${p}`).join('\n')}`);

  const selects = new Map<string, string>();
  for (const s of sources) {
    if (s.doc.generated === 'indicator_values') selects.set(s.name, indicatorValuesSql(declaring));
    else if (s.doc.generated === 'indicators') selects.set(s.name, indicatorCatalogSql(declaring));
    else selects.set(s.name, s.sqlText!);
  }

  const deps = new Map<string, string[]>();
  for (const s of sources) {
    const refs = referencedRelations(selects.get(s.name)!, schemas);
    for (const ref of refs) {
      if (ref === s.name) throw new MigrationError(`${s.sqlFile ?? s.file}: ${s.name} reads itself; a view cannot`);
      if (!byName.has(ref)) {
        const where = s.sqlFile ?? `the indicator declarations that generate ${s.name}`;
        throw new MigrationError(
          `${where}: ${s.name} reads ${ref}, which is not a model (no ${shown(join(dir, ...ref.split('.')))}.sql or .yml); ` +
            `expected one of ${[...byName.keys()].filter((n) => n.startsWith(ref.split('.')[0]! + '.')).join(', ')}`,
        );
      }
    }
    deps.set(s.name, refs);
  }

  const order = dependencyOrder(deps, byName);
  return order.map((name) => {
    const s = byName.get(name)!;
    const select = selects.get(name)!;
    const { create, comments } = modelDdl(name, select, s.doc);
    return {
      name,
      schema: s.schema,
      view: s.view,
      file: s.file,
      sqlFile: s.sqlFile,
      doc: s.doc,
      select,
      dependsOn: deps.get(name)!,
      create,
      comments,
      checksum: createHash('sha256').update(create).update(comments).digest('hex'),
    };
  });
}

/** Kahn's algorithm, taking ready models by name so the order is stable; a cycle is named edge by edge. */
function dependencyOrder(deps: ReadonlyMap<string, readonly string[]>, sources: ReadonlyMap<string, ModelSource>): string[] {
  const done = new Set<string>();
  const order: string[] = [];
  const names = [...deps.keys()].sort();
  while (order.length < names.length) {
    const ready = names.find((n) => !done.has(n) && deps.get(n)!.every((d) => done.has(d)));
    if (ready === undefined) {
      const cycle = findCycle(names.filter((n) => !done.has(n)), deps);
      throw new MigrationError(
        `models depend on each other in a cycle: ${cycle.join(' → ')}; ` +
          `${cycle.slice(0, -1).map((n) => `${n} (${sources.get(n)!.sqlFile ?? sources.get(n)!.file})`).join(', ')}; expected each model to read only models that do not read it back`,
      );
    }
    done.add(ready);
    order.push(ready);
  }
  return order;
}

function findCycle(left: readonly string[], deps: ReadonlyMap<string, readonly string[]>): string[] {
  const pending = new Set(left);
  const path: string[] = [];
  let at = left[0]!;
  while (!path.includes(at)) {
    path.push(at);
    at = deps.get(at)!.find((d) => pending.has(d))!;
  }
  return [...path.slice(path.indexOf(at)), at];
}

/** Models that read `changed`, directly or through others, plus `changed` itself, in dependency order. */
export function withDependents(models: readonly Model[], changed: ReadonlySet<string>): Model[] {
  const hit = new Set(changed);
  // models is in dependency order, so one pass sees every dependency before its dependents.
  for (const m of models) if (m.dependsOn.some((d) => hit.has(d))) hit.add(m.name);
  return models.filter((m) => hit.has(m.name));
}

/**
 * Every declared indicator, read from the yml files alone (no database, no SQL): fixed names
 * one by one, names from the data as their declared pattern with a `matches` test.
 */
export function declaredIndicators(dir: string = MODELS_DIR): readonly DeclaredIndicator[] {
  return indicatorsOf(readSources(dir).map((s) => ({ name: s.name, file: s.file, doc: s.doc })));
}

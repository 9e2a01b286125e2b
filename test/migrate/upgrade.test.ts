import { expect, it } from 'vitest';
import { REGISTRY } from '../../pipelines/registry.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { migrate, readMigrations } from '../../src/migrate/migrator.js';
import { loadModels } from '../../src/models/index.js';
import { loadBundledSample } from '../analyst/helpers.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { rows } from '../helpers/pipelines.js';
import { dumpAnalytics } from '../models/analytics-dump.js';

/**
 * A database built before the model layer (migrations 0001–0016: the views as the migrations
 * wrote them) and loaded with the bundled sample upgrades in place: migrate applies 0017, builds
 * every model, loses no row, and every view shows the same figures as before, now defined as
 * the models define them (the same as on a database created new).
 */

const FILES = readMigrations();

/**
 * The pipelines as they were before 0017: the fred pipeline wrote core.fred_series without the
 * indicator columns 0017 adds (today's writes them, as migrate always runs first).
 */
const PIPELINES_BEFORE_MODELS: readonly AnyPipeline[] = REGISTRY.pipelines.map((p) =>
  p.name !== 'fred'
    ? p
    : {
        ...p,
        prepare: async (conn) => {
          await conn.query(
            `insert into core.fred_series (series_id, unit, scale, multiplier, description) values
               ('GDP', 'USD', 'billions', 1e9, 'Gross domestic product, nominal, billions of dollars, seasonally adjusted annual rate (BEA via FRED)'),
               ('NCBEILQ027S', 'USD', 'millions', 1e6, 'Nonfinancial corporate business; corporate equities; liability, level: market value, millions of dollars, end of quarter (Federal Reserve Z.1 via FRED)')`,
          );
        },
      },
);
const BEFORE_MODELS = FILES.findIndex((f) => f.name.startsWith('0017_'));

/** Rows per table of the raw, core and etl schemas. */
async function tableCounts(handle: Parameters<typeof rows>[0]): Promise<Record<string, number>> {
  const tables = await rows<{ name: string }>(
    handle,
    `select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and n.nspname in ('raw', 'core', 'etl') and c.relname not in ('schema_migrations', 'model_builds') order by 1`,
  );
  const out: Record<string, number> = {};
  for (const t of tables) out[t.name] = (await rows<{ n: number }>(handle, `select count(*)::int as n from ${t.name}`))[0]!.n;
  return out;
}

async function viewDefinitions(handle: Parameters<typeof rows>[0]): Promise<Record<string, string>> {
  const defs = await rows<{ name: string; def: string }>(
    handle,
    `select c.relname::text as name, pg_get_viewdef(c.oid) as def from pg_class c where c.relnamespace = 'analytics'::regnamespace and c.relkind = 'v' order by 1`,
  );
  return Object.fromEntries(defs.map((d) => [d.name, d.def]));
}

describeEachDatabase('an upgrade from before the models', (kind) => {
  it('keeps every row and every figure, and leaves the views as the models define them', async () => {
    expect(BEFORE_MODELS).toBe(16);
    const db = await useDatabase(kind, { migrated: false });
    const old = await migrate(db.handle, undefined, FILES.slice(0, BEFORE_MODELS));
    expect(old.rebuilt).toEqual([]);
    await loadBundledSample(db.handle, PIPELINES_BEFORE_MODELS);
    const counts = await tableCounts(db.handle);
    const figures = await dumpAnalytics(db.handle);
    expect(figures.size).toBe(18);

    const result = await migrate(db.handle);
    expect(result.applied.map((m) => m.name)).toEqual(FILES.slice(BEFORE_MODELS).map((f) => f.name));
    expect(result.rebuilt).toEqual(loadModels().map((m) => m.name));

    expect(await tableCounts(db.handle)).toEqual(counts);
    const after = await dumpAnalytics(db.handle);
    for (const [view, text] of figures) expect(after.get(view), `analytics.${view}`).toBe(text);
    expect([...after.keys()].filter((v) => !figures.has(v))).toEqual(['indicators']);

    const fresh = await useDatabase(kind);
    expect(await viewDefinitions(db.handle)).toEqual(await viewDefinitions(fresh.handle));
    expect((await migrate(db.handle)).rebuilt).toEqual([]);
  });
});

import { rmSync } from 'node:fs';
import pg from 'pg';
import { expect, it, onTestFinished } from 'vitest';
import { migrateCommand } from '../../src/cli/commands/migrate.js';
import { MigrationError } from '../../src/errors.js';
import { checksumOf, migrate, readMigrations } from '../../src/migrate/migrator.js';
import { loadModels } from '../../src/models/index.js';
import { testContext } from '../analyst/helpers.js';
import { describeEachDatabase, useDatabase, type TestDatabase } from '../helpers/databases.js';
import { rows } from '../helpers/pipelines.js';
import { edit, modelsCopy } from '../models/model-files.js';

/** migrate() builds the models: only what changed and what reads it, in order, keeping grants, refusing to lose others' views. */

interface Build {
  name: string;
  checksum: string;
  built_at: Date;
}

async function builds(db: TestDatabase): Promise<Map<string, Build>> {
  return new Map((await rows<Build>(db.handle, 'select name, checksum, built_at from etl.model_builds')).map((b) => [b.name, b]));
}

async function columnsOf(db: TestDatabase, view: string): Promise<string[]> {
  const r = await rows<{ name: string }>(db.handle, `select attname::text as name from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped order by attnum`, [view]);
  return r.map((c) => c.name);
}

describeEachDatabase('models', (kind) => {
  it('are all built and recorded by the migrations; migrating again builds nothing', async () => {
    const db = await useDatabase(kind);
    const models = loadModels();
    const recorded = await builds(db);
    expect([...recorded.keys()].sort()).toEqual(models.map((m) => m.name).sort());
    for (const m of models) expect(recorded.get(m.name)!.checksum, m.name).toBe(m.checksum);
    const again = await migrate(db.handle);
    expect(again).toMatchObject({ applied: [], rebuilt: [], dropped: [] });
    expect(await builds(db)).toEqual(recorded);
  });

  it('rebuild a changed model and the models that read it, in dependency order, and nothing else', async () => {
    const db = await useDatabase(kind);
    const before = await builds(db);
    const dir = modelsCopy();
    edit(dir, 'buffett_indicator.sql', (t) => t.replace('h.equities_value ', '(h.equities_value)'));
    const result = await migrate(db.handle, undefined, undefined, { models: loadModels(dir) });
    expect(result.applied).toEqual([]);
    expect(result.rebuilt).toEqual(['analytics.buffett_indicator', 'analytics.indicator_values', 'analytics.bubble_dashboard']);
    const after = await builds(db);
    for (const [name, b] of after) {
      if (result.rebuilt.includes(name)) expect(b.built_at.getTime(), name).toBeGreaterThan(before.get(name)!.built_at.getTime());
      else expect(b, name).toEqual(before.get(name));
    }
    expect(after.get('analytics.buffett_indicator')!.checksum).not.toBe(before.get('analytics.buffett_indicator')!.checksum);
    expect((await migrate(db.handle, undefined, undefined, { models: loadModels(dir) })).rebuilt).toEqual([]);
  });

  it('drop and create a model whose columns change, with its dependents, and drop a model no longer defined', async () => {
    const db = await useDatabase(kind);
    const dir = modelsCopy();
    // A column removed: CREATE OR REPLACE VIEW cannot do this, so the view must be dropped and created.
    edit(dir, 'index_top_n_shares.sql', (t) => t.replace('t.issuers_counted, ', ''));
    edit(dir, 'index_top_n_shares.yml', (t) => t.replace(/ {2}- name: issuers_counted\n {4}description: [^\n]*\n( {4}unit: [^\n]*\n)?/, ''));
    const result = await migrate(db.handle, undefined, undefined, { models: loadModels(dir) });
    expect(result.rebuilt).toEqual(['analytics.index_top_n_shares', 'analytics.indicator_values', 'analytics.bubble_dashboard', 'analytics.indicators']);
    expect(await columnsOf(db, 'analytics.index_top_n_shares')).toEqual(['index_code', 'as_of', 'n', 'top_n_market_cap', 'share']);
    const [comment] = await rows<{ c: string }>(db.handle, `select col_description('analytics.index_top_n_shares'::regclass, 4) as c`);
    expect(comment!.c).toBe("Sum of the N largest issuers' caps, USD");

    const without = modelsCopy();
    rmSync(`${without}/analytics/index_sector_shares.sql`);
    rmSync(`${without}/analytics/index_sector_shares.yml`);
    const dropped = await migrate(db.handle, undefined, undefined, { models: loadModels(without) });
    expect(dropped.dropped).toEqual(['analytics.index_sector_shares']);
    expect(dropped.rebuilt).toEqual(['analytics.index_top_n_shares', 'analytics.indicator_values', 'analytics.bubble_dashboard', 'analytics.indicators']);
    const [gone] = await rows<{ present: boolean }>(db.handle, `select to_regclass('analytics.index_sector_shares') is not null as present`);
    expect(gone!.present).toBe(false);
    expect((await builds(db)).has('analytics.index_sector_shares')).toBe(false);
  });

  it('refuse a yml whose columns are not the view\'s, naming the file, the view and the column; nothing is applied', async () => {
    const db = await useDatabase(kind);
    const before = await builds(db);
    const dir = modelsCopy();
    edit(dir, 'cape.sql', (t) => t.replace('c.gs10,', 'c.gs10,\n  c.gs10 as gs10_again,'));
    const error = await migrate(db.handle, undefined, undefined, { models: loadModels(dir) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/cape\.yml: the view analytics\.cape has column "gs10_again", which the yml does not list; expected the yml's columns to be the view's: month, period_end, .*gs10, gs10_again/);

    const renamed = modelsCopy();
    edit(renamed, 'cape.yml', (t) => t.replace('- name: gs10\n', '- name: gs_10\n'));
    await expect(migrate(db.handle, undefined, undefined, { models: loadModels(renamed) })).rejects.toThrow(/cape\.yml: the view analytics\.cape has column "gs10", which the yml does not list/);
    expect(await builds(db)).toEqual(before);
    expect(await columnsOf(db, 'analytics.cape')).toContain('gs10');
  });

  it('refuse a model whose SQL names models the catalog says it does not read', async () => {
    const db = await useDatabase(kind);
    const dir = modelsCopy();
    // A dollar-quoted string is text to PostgreSQL, but reads like a reference to the model loader.
    edit(dir, 'index_sector_shares.sql', (t) => t.replace('select ', () => 'select $$analytics.cape$$ as note, '));
    edit(dir, 'index_sector_shares.yml', (t) => t.replace('columns:\n', 'columns:\n  - name: note\n    description: A note\n'));
    await expect(migrate(db.handle, undefined, undefined, { models: loadModels(dir) })).rejects.toThrow(
      /analytics\/index_sector_shares\.sql: analytics\.index_sector_shares reads no model according to the database catalog, but its SQL names analytics\.cape; write every model it reads schema-qualified/,
    );
  });

  it('keep grants on a rebuilt view, and refuse to drop a view someone else made on top of a model, naming it', async () => {
    const db = await useDatabase(kind);
    const role = `bw_models_${Math.random().toString(36).slice(2, 8)}`;
    await rows(db.handle, `create role ${role} nologin`);
    await rows(db.handle, `grant select on analytics.buffett_indicator to ${role}`);
    const dir = modelsCopy();
    edit(dir, 'buffett_indicator.sql', (t) => t.replace('h.equities_value ', '(h.equities_value)'));
    expect((await migrate(db.handle, undefined, undefined, { models: loadModels(dir) })).rebuilt).toContain('analytics.buffett_indicator');
    const [grant] = await rows<{ ok: boolean }>(db.handle, `select has_table_privilege('${role}', 'analytics.buffett_indicator', 'select') as ok`);
    expect(grant!.ok).toBe(true);

    await rows(db.handle, `create view public.my_buffett as select period_end, buffett_indicator_pct from analytics.buffett_indicator`);
    const error = await migrate(db.handle).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toBe(
      'cannot rebuild the models because view public.my_buffett (reads analytics.buffett_indicator) is not a model: the model views are dropped and created again when they are rebuilt, and it would be lost; ' +
        'nothing was applied. Drop it and create it again after migrating, or make it a model (sql/models/<schema>/<view>.sql and .yml)',
    );
    const [still] = await rows<{ present: boolean }>(db.handle, `select to_regclass('public.my_buffett') is not null as present`);
    expect(still!.present).toBe(true);
    await rows(db.handle, `drop view public.my_buffett`);
    await rows(db.handle, `revoke all on analytics.buffett_indicator from ${role}`);
    await rows(db.handle, `drop role ${role}`);
    expect((await migrate(db.handle)).rebuilt).toEqual(['analytics.buffett_indicator', 'analytics.indicator_values', 'analytics.bubble_dashboard']);
  });

  it('drop the model views before pending migrations, so a migration can alter a column a view reads, then build them all', async () => {
    const db = await useDatabase(kind);
    const role = `bw_models_${Math.random().toString(36).slice(2, 8)}`;
    await rows(db.handle, `create role ${role} nologin`);
    await rows(db.handle, `grant select on analytics.fred_series to ${role}`);
    // PostgreSQL refuses to change the type of a column a view uses: the view must be gone first.
    const sql = 'alter table core.fred_series alter column description type varchar(2000);';
    const files = [...readMigrations(), { version: readMigrations().length + 1, name: '9999_widen_description.sql', sql, checksum: checksumOf(sql) }];
    const result = await migrate(db.handle, undefined, files);
    expect(result.applied.map((m) => m.name)).toEqual(['9999_widen_description.sql']);
    expect(result.rebuilt).toEqual(loadModels().map((m) => m.name));
    const [type] = await rows<{ t: string }>(db.handle, `select format_type(atttypid, atttypmod) as t from pg_attribute where attrelid = 'analytics.fred_series'::regclass and attname = 'description'`);
    expect(type!.t).toBe('character varying(2000)');
    const [grant] = await rows<{ ok: boolean }>(db.handle, `select has_table_privilege('${role}', 'analytics.fred_series', 'select') as ok`);
    expect(grant!.ok).toBe(true);
    await rows(db.handle, `revoke all on analytics.fred_series from ${role}`);
    await rows(db.handle, `drop role ${role}`);
  });

  it('take no lock when nothing changed, and wait for the lock when a model did', async () => {
    const db = await useDatabase(kind);
    if (kind === 'pglite') {
      // One session: nothing else can hold the lock; the no-op path is covered above.
      expect((await migrate(db.handle, undefined, undefined, { lockWaitMs: 1 })).rebuilt).toEqual([]);
      return;
    }
    const other = new pg.Client({ connectionString: db.openOptions.databaseUrl, application_name: 'lock-holder' });
    await other.connect();
    onTestFinished(() => other.end().catch(() => undefined));
    await other.query('select pg_advisory_lock(7269331001)');
    expect(await migrate(db.handle, undefined, undefined, { lockWaitMs: 1 })).toMatchObject({ applied: [], rebuilt: [] });
    const dir = modelsCopy();
    edit(dir, 'cape.sql', (t) => `-- changed\n${t}`);
    await expect(migrate(db.handle, undefined, undefined, { lockWaitMs: 500, models: loadModels(dir) })).rejects.toThrow(/^the migration lock is held by session pid \d+ \(user \w+, application lock-holder/);
    await other.query('select pg_advisory_unlock(7269331001)');
    expect((await migrate(db.handle, undefined, undefined, { lockWaitMs: 500, models: loadModels(dir) })).rebuilt).toEqual(['analytics.cape']);
  });
});

it('the migrate command prints the models it built, and nothing when nothing changed', async () => {
  const db = await useDatabase('pglite', { migrated: false });
  await db.close();
  const ctx = testContext(db.env);
  expect(await migrateCommand(ctx, {})).toBe(0);
  const first = ctx.output();
  expect(first).toContain('  applied 0017_model_builds_and_fred_indicators.sql\n');
  for (const m of loadModels()) expect(first).toContain(`  built ${m.name}\n`);
  expect(first.indexOf('  built analytics.indicator_values\n')).toBeLessThan(first.indexOf('  built analytics.bubble_dashboard\n'));
  expect(await migrateCommand(ctx, { json: true })).toBe(0);
  expect(JSON.parse(ctx.output().slice(first.length))).toMatchObject({ applied: [], rebuilt: [], dropped: [] });
});

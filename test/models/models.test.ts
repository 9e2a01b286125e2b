import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MigrationError } from '../../src/errors.js';
import { declaredIndicators, findIndicator, loadModels, MODELS_DIR, nearestIndicatorNames } from '../../src/models/index.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { edit, modelsCopy } from './model-files.js';

/** The model definitions alone, without a database: loading, ordering, validation, declarations. */

function failure(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('models', () => {
  it('are every .yml under sql/models/analytics, each after the models it reads', () => {
    const models = loadModels();
    const files = readdirSync(join(MODELS_DIR, 'analytics')).filter((f) => f.endsWith('.yml')).map((f) => `analytics.${f.slice(0, -4)}`);
    expect(models.map((m) => m.name).sort()).toEqual(files.sort());
    const seen = new Set<string>();
    for (const m of models) {
      for (const d of m.dependsOn) expect(seen.has(d), `${m.name} after ${d}`).toBe(true);
      seen.add(m.name);
    }
    const byName = new Map(models.map((m) => [m.name, m]));
    expect(byName.get('analytics.bubble_dashboard')!.dependsOn).toEqual(['analytics.indicator_values']);
    expect(byName.get('analytics.indicator_values')!.dependsOn).toEqual([
      'analytics.buffett_indicator',
      'analytics.index_cap_changes',
      'analytics.index_concentration',
      'analytics.index_top_n_shares',
    ]);
    expect(byName.get('analytics.cape')!.sqlFile).toBe('sql/models/analytics/cape.sql');
    expect(byName.get('analytics.indicator_values')!.sqlFile).toBeUndefined();
  });

  it('no view body of indicator_values is written anywhere: only old migrations hold one', () => {
    const holders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (readFileSync(path, 'utf8').includes('create or replace view analytics.indicator_values')) holders.push(path.slice(PACKAGE_ROOT.length + 1));
      }
    };
    walk(join(PACKAGE_ROOT, 'sql'));
    expect(holders.sort()).toEqual(['sql/migrations/0009_indicator_table_and_dashboard.sql', 'sql/migrations/0010_index_price_to_sales.sql']);
  });

  it('generate indicator_values with one scan per declared source, as before', () => {
    const sql = loadModels().find((m) => m.name === 'analytics.indicator_values')!.select;
    expect(sql.match(/cross join lateral \(values/g)).toHaveLength(5);
    expect(sql).toContain("select distinct on (g.index_code, g.as_of) g.*\n  from analytics.index_cap_changes g\n  where (g.comparison = 'since_base') and (g.top10_contribution is not null)");
    expect(sql).toContain("'top' || t.n || '_share'");
    expect(sql).toContain("coalesce(s.unit, '')");
    expect(sql).toContain('c.top10_tech_issuers::numeric');
    expect(sql).toMatch(/from analytics\.index_concentration c\ncross join lateral \(values\n {2}\('price_to_sales', c\.price_to_sales, 'multiple'\)[\s\S]*?where \(x\.value is not null\) and \(c\.price_to_sales is not null\)/);
  });

  it('declare every indicator once, readable without a database', () => {
    const declared = declaredIndicators();
    const cape = declared.filter((d) => d.name === 'cape');
    expect(cape).toEqual([
      expect.objectContaining({ name: 'cape', family: 'valuation', unit: 'multiple', frequency: 'month', direction: 'higher', view: 'analytics.cape' }),
    ]);
    expect(declared.filter((d) => d.name === 'capex').map((d) => [d.family, d.view])).toEqual([
      ['hyperscaler', 'analytics.hyperscaler_quarterly'],
      ['hyperscaler_group', 'analytics.hyperscaler_totals_quarterly'],
    ]);
    for (const d of declared) expect(d.description, d.name).not.toBe('');
    // Custom series and FRED indicators take their names from the data: any name may be one of them.
    expect(findIndicator('top5_share', declared).map((d) => d.view)).toEqual(['analytics.custom_series', 'analytics.fred_series', 'analytics.index_top_n_shares']);
    expect(findIndicator('top5_share', declared.filter((d) => d.family !== 'custom' && d.family !== 'macro')).map((d) => d.name)).toEqual(['top{n}_share']);
    expect(findIndicator('top10_share', declared).map((d) => d.view)).toEqual(['analytics.index_concentration']);
    expect(nearestIndicatorNames('cape_shiler', declared)[0]).toBe('cape_shiller');
  });

  it('refuse a reference to a model that does not exist, naming the file', () => {
    const dir = modelsCopy();
    edit(dir, 'bubble_dashboard.sql', (t) => t.replace('from analytics.indicator_values', 'from analytics.indicator_valuez'));
    const error = failure(() => loadModels(dir));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toMatch(/analytics\/bubble_dashboard\.sql: analytics\.bubble_dashboard reads analytics\.indicator_valuez, which is not a model \(no .*analytics\/indicator_valuez\.sql or \.yml\); expected one of analytics\./);
  });

  it('refuse a dependency cycle, naming it', () => {
    const dir = modelsCopy();
    edit(dir, 'index_top_n_shares.sql', (t) => `${t.trimEnd()}\nwhere not exists (select 1 from analytics.bubble_dashboard)\n`);
    const error = failure(() => loadModels(dir));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain(
      'models depend on each other in a cycle: analytics.bubble_dashboard → analytics.indicator_values → analytics.index_top_n_shares → analytics.bubble_dashboard',
    );
  });

  it('refuse a yml that does not validate, with file, line and field', () => {
    const dir = modelsCopy();
    edit(dir, 'cape.yml', (t) => t.replace('direction: higher', 'direction: up'));
    const error = failure(() => loadModels(dir));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toMatch(/cape\.yml:\d+: indicators\.0\.values\.0\.direction: Invalid option: expected one of "higher"\|"lower"\|"neither"/);
  });

  it('refuse a model without documentation, and an indicator declared twice', () => {
    const dir = modelsCopy();
    rmSync(join(dir, 'analytics', 'cape.yml'));
    expect(failure(() => loadModels(dir)).message).toMatch(/cape\.sql: model analytics\.cape has no documentation; expected .*cape\.yml beside it/);

    const again = modelsCopy();
    // The indicator, declared after the column of the same name.
    edit(again, 'buffett_indicator.yml', (t) => t.replace(/name: buffett_indicator_pct(?![\s\S]*name: buffett_indicator_pct)/, 'name: cape'));
    expect(failure(() => loadModels(again)).message).toMatch(/analytics\/cape\.yml: indicator "cape" of family valuation is also declared in .*analytics\/buffett_indicator\.yml; declare each indicator once/);
  });
});

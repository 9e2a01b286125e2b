import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { readViews } from '../../src/analyst/catalog.js';
import { VIEW_EXAMPLES } from '../../src/analyst/examples.js';
import { unitOf } from '../../src/analyst/views-markdown.js';
import { generateViewsDoc, VIEWS_DOC_PATH } from '../../src/analyst/views-doc.js';
import { docsCommand } from '../../src/cli/commands/docs.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { testContext } from './helpers.js';

/** docs/views.md is generated from the catalog and must match what a freshly migrated database generates. */

describeEachDatabase('docs/views.md', (kind) => {
  it('is exactly what a freshly migrated database generates (run `npx bubblewatch docs` after changing a view)', async () => {
    const db = await useDatabase(kind);
    const generated = await generateViewsDoc(db.handle);
    expect(generated).toBe(readFileSync(VIEWS_DOC_PATH, 'utf8'));
  });

  it('documents every analytics view and column with a comment, and gives each view 1 to 3 examples', async () => {
    const db = await useDatabase(kind);
    const views = await db.handle.withConnection((conn) => readViews(conn));
    expect(views.length).toBeGreaterThan(15);
    for (const view of views) {
      expect(view.comment, view.name).toBeTruthy();
      for (const column of view.columns) expect(column.comment, `${view.name}.${column.name}`).toBeTruthy();
      const examples = VIEW_EXAMPLES[view.name] ?? [];
      expect(examples.length, `examples for ${view.name} in sql/models/analytics/${view.name}.yml`).toBeGreaterThanOrEqual(1);
      expect(examples.length, view.name).toBeLessThanOrEqual(3);
      for (const example of examples) expect(example.sql, example.title).toContain(`analytics.${view.name}`);
    }
    expect(Object.keys(VIEW_EXAMPLES).filter((name) => !views.some((v) => v.name === name))).toEqual([]);
  });
});

it('docs --check passes on the checked-in file and fails, naming the line, on a stale one; --out writes', async () => {
  const db = await useDatabase('pglite');
  await db.close();
  const ctx = testContext(db.env);
  expect(await docsCommand(ctx, { check: true })).toBe(0);
  expect(ctx.output()).toContain('is up to date with the database catalog');

  const dir = mkdtempSync(join(tmpdir(), 'bubblewatch-docs-'));
  const stale = join(dir, 'views.md');
  writeFileSync(stale, readFileSync(VIEWS_DOC_PATH, 'utf8').replace('## analytics.cape\n', '## analytics.cape_old\n'));
  expect(await docsCommand(ctx, { check: true, out: stale })).toBe(1);
  expect(ctx.output()).toMatch(/is out of date: line \d+ is "## analytics.cape_old", expected "## analytics.cape"/);

  expect(await docsCommand(ctx, { out: stale })).toBe(0);
  expect(readFileSync(stale, 'utf8')).toBe(readFileSync(VIEWS_DOC_PATH, 'utf8'));
});

it('reads units from the comments of numeric columns only', () => {
  const u = (type: string, comment: string) => unitOf({ name: 'x', type, comment });
  expect(u('numeric', 'Revenue in the quarter, USD')).toBe('USD');
  expect(u('numeric', 'TTM capex / TTM revenue, as a fraction')).toBe('fraction');
  expect(u('numeric', 'TTM capex growth minus TTM revenue growth, percentage points')).toBe('percentage points');
  expect(u('numeric', 'NCBEILQ027S as loaded, in its configured scale (millions of USD)')).toBe('USD millions');
  expect(u('numeric', 'Equities market value / GDP × 100, after converting both to USD (228.4 = 228.4% of GDP)')).toBe('percent');
  expect(u('text', 'Unit of value (e.g. USD, USD_bn)')).toBe('');
  expect(u('numeric', 'The latest value')).toBe('');
});

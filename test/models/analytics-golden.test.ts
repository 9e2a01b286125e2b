import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { loadBundledSample } from '../report/sample.js';
import { dumpAnalytics } from './analytics-dump.js';

/**
 * The figures of every analytics view over the bundled sample (data/sample, loaded by
 * `start --once` with the bundled config, alerts evaluated), on PGlite and on PostgreSQL, must
 * equal the dumps in test/fixtures/analytics-golden/: one file per view, written by this test
 * with BUBBLEWATCH_WRITE_GOLDEN=1 (see the README there). A refactoring of the views must leave
 * them byte for byte; a change meant to alter a figure rewrites them, and the diff shows which.
 */

const GOLDEN = join(PACKAGE_ROOT, 'test', 'fixtures', 'analytics-golden');
const WRITE = process.env.BUBBLEWATCH_WRITE_GOLDEN === '1';

describeEachDatabase('analytics views over the bundled sample', (kind) => {
  it('equal the golden dumps, view by view', async () => {
    const db = await useDatabase(kind);
    await loadBundledSample(db);
    const handle = await db.reopen();
    const dumps = await dumpAnalytics(handle);
    if (WRITE) {
      mkdirSync(GOLDEN, { recursive: true });
      for (const [view, text] of dumps) writeFileSync(join(GOLDEN, `${view}.tsv`), text);
    }
    const files = existsSync(GOLDEN) ? readdirSync(GOLDEN).filter((f) => f.endsWith('.tsv')).map((f) => f.slice(0, -4)).sort() : [];
    expect([...dumps.keys()].sort(), `views with a golden dump (BUBBLEWATCH_WRITE_GOLDEN=1 writes them)`).toEqual(files);
    for (const [view, text] of dumps) {
      const lines = text.split('\n');
      expect(lines.length, `analytics.${view} has rows over the sample`).toBeGreaterThan(2);
      expect(text, `analytics.${view} against test/fixtures/analytics-golden/${view}.tsv`).toBe(readFileSync(join(GOLDEN, `${view}.tsv`), 'utf8'));
    }
  });
});

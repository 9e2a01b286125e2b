import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { grantAnalyst } from '../../src/analyst/grant.js';
import { VIEW_EXAMPLES } from '../../src/analyst/examples.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';

/**
 * On a database loaded with the whole bundled sample: every example query in docs/views.md and
 * every Grafana panel query runs and returns rows. The panel queries run as a read-only
 * analyst role, as Grafana does.
 */

interface Panel {
  title: string;
  type: string;
  targets?: { rawSql?: string; format?: string; datasource?: { uid?: string } }[];
}

function grafanaPanels(): Panel[] {
  const dashboard = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'grafana', 'dashboards', 'bubblewatch.json'), 'utf8')) as { panels: Panel[] };
  return dashboard.panels;
}

/** Grafana macros become what they would select over an unlimited time range. */
function withoutMacros(sql: string): string {
  return sql.replace(/\$__timeFilter\([^)]*\)/g, 'true');
}

async function run(handle: DatabaseHandle, sql: string, role?: string): Promise<{ rows: number; error?: string }> {
  return handle.withConnection(async (conn) => {
    if (role) await conn.script(`set role ${role}`);
    try {
      return { rows: (await conn.query(sql)).rows.length };
    } catch (error) {
      return { rows: 0, error: (error as Error).message };
    } finally {
      if (role) await conn.script('reset role');
    }
  });
}

describeEachDatabase('queries over the bundled sample', (kind) => {
  it('runs every documented example query and every Grafana panel query (as a read-only role), each returning rows', async () => {
    const db = await useDatabase(kind, { sample: true });

    const failures: string[] = [];
    for (const [view, examples] of Object.entries(VIEW_EXAMPLES)) {
      for (const example of examples) {
        const result = await run(db.handle, example.sql);
        if (result.error || result.rows === 0) failures.push(`${view}: "${example.title}": ${result.error ?? 'no rows'}`);
      }
    }

    const role = `bw_grafana_${randomBytes(4).toString('hex')}`;
    onTestFinished(async () => {
      await db.handle.withConnection((conn) => conn.script(`drop owned by ${role}; drop role if exists ${role}`)).catch(() => undefined);
    });
    await grantAnalyst(db.handle, role);
    const panels = grafanaPanels();
    expect(panels.length).toBeGreaterThanOrEqual(7);
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        const sql = withoutMacros(target.rawSql ?? '');
        expect(sql, panel.title).not.toContain('$__');
        const result = await run(db.handle, sql, role);
        if (result.error || result.rows === 0) failures.push(`Grafana panel "${panel.title}": ${result.error ?? 'no rows'}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

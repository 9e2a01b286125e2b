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

interface Variable {
  name: string;
  query: string;
  current?: { value?: string };
}

function grafanaDashboard(): { panels: Panel[]; templating: { list: Variable[] } } {
  return JSON.parse(readFileSync(join(PACKAGE_ROOT, 'grafana', 'dashboards', 'bubblewatch.json'), 'utf8')) as { panels: Panel[]; templating: { list: Variable[] } };
}

/**
 * Grafana macros become what they would select over an unlimited time range, and each template
 * variable its values as Grafana writes them into SQL: quoted, comma-separated.
 */
function withoutMacros(sql: string, variables: ReadonlyMap<string, readonly string[]> = new Map()): string {
  let out = sql.replace(/\$__timeFilter\([^)]*\)/g, 'true');
  for (const [name, values] of variables) {
    out = out.replace(new RegExp(`'\\$${name}'`, 'g'), `'${values[0]!.replace(/'/g, "''")}'`);
    out = out.replace(new RegExp(`\\$${name}\\b`, 'g'), values.map((v) => `'${v.replace(/'/g, "''")}'`).join(','));
  }
  return out;
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
    const { panels, templating } = grafanaDashboard();
    expect(panels.length).toBeGreaterThanOrEqual(8);
    // Each variable's query, in order (a later one may use an earlier one), as the read-only role:
    // the indicator picker lists every declared indicator, including ones added by config alone.
    const variables = new Map<string, string[]>();
    for (const variable of templating.list) {
      const sql = withoutMacros(variable.query, variables);
      const values = await db.handle.withConnection(async (conn) => {
        await conn.script(`set role ${role}`);
        try {
          return (await conn.query<Record<string, unknown>>(sql)).rows.map((r) => String(Object.values(r)[0]));
        } finally {
          await conn.script('reset role');
        }
      });
      if (values.length === 0) failures.push(`Grafana variable ${variable.name}: no values`);
      const current = variable.current?.value;
      variables.set(variable.name, current && current !== '$__all' ? [current] : values);
      if (current && current !== '$__all') expect(values, `variable ${variable.name}`).toContain(current);
    }
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        const sql = withoutMacros(target.rawSql ?? '', variables);
        expect(sql, panel.title).not.toContain('$__');
        for (const name of variables.keys()) expect(sql, panel.title).not.toMatch(new RegExp(`\\$${name}\\b`));
        const result = await run(db.handle, sql, role);
        if (result.error || result.rows === 0) failures.push(`Grafana panel "${panel.title}": ${result.error ?? 'no rows'}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

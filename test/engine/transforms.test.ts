import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import { PIPELINES } from '../../pipelines/registry.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import {
  TRANSFORMS_DIR,
  checkRelations,
  parseTransform,
  partitionPeriod,
  planTransforms,
  runTransforms,
  type TransformOutcome,
} from '../../src/engine/transforms.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, memoryLogger, rows, runOnce, writeFile } from '../helpers/pipelines.js';

/**
 * Transforms declare what they read and write in their header; the engine checks the header
 * against the statements, orders a pipeline's transforms by it, and gives them the run's scope
 * (run_scope: the file versions the run loaded, replaced or retired).
 */

/** Every order of a list (for lists of up to five). */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

/** A folder of transform files, removed after the test. */
function transformsDir(files: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'bubblewatch-transforms-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

// Three steps whose names sort against the order their reads and writes need: z, then a, then m.
const CHAIN = {
  'z_first.sql': `-- reads: run_scope
-- writes: step_a
create temp table step_a on commit drop as select 1 as n;`,
  'a_second.sql': `-- reads: step_a
-- writes: step_b
create temp table step_b on commit drop as select n + 1 as n from step_a;`,
  'm_third.sql': `-- reads: step_b, step_a
-- writes: step_c
create temp table step_c on commit drop as select b.n + a.n as n from step_b b cross join step_a a;`,
};

describe('transform headers and order (no database)', () => {
  it('orders every pipeline\'s transforms the same from any order of its list, as the lists gave them before', () => {
    for (const pipeline of PIPELINES) {
      const listed = [...pipeline.transforms];
      const expected = planTransforms(listed).map((t) => t.file);
      // The lists were hand-ordered before the engine ordered them: the declarations reproduce that order.
      expect(expected, pipeline.name).toEqual(listed);
      const reversed = planTransforms([...listed].reverse()).map((t) => t.file);
      expect(reversed, pipeline.name).toEqual(expected);
      // A few shuffles (a fixed rotation and interleaving, so that a failure reproduces).
      const rotated = [...listed.slice(3), ...listed.slice(0, 3)];
      const interleaved = [...listed.filter((_, i) => i % 2 === 1), ...listed.filter((_, i) => i % 2 === 0)];
      expect(planTransforms(rotated).map((t) => t.file), pipeline.name).toEqual(expected);
      expect(planTransforms(interleaved).map((t) => t.file), pipeline.name).toEqual(expected);
    }
  });

  it('reads the header and the statements\' targets, not the words in comments or strings', () => {
    const t = parseTransform(
      'x.sql',
      `-- reads: raw.a, run_scope
-- reads previous: core.c
-- writes: core.b
--
-- the old version would delete from core.elsewhere; a comment is not a statement
insert into core.b (k) select k from raw.a on conflict (k) do update set k = excluded.k
  where 'update core.other' is not null;
/* insert into core.block_comment */
update core.b set k = k for update;`,
    );
    expect({ reads: t.reads, readsPrevious: t.readsPrevious, writes: t.writes }).toEqual({ reads: ['raw.a', 'run_scope'], readsPrevious: ['core.c'], writes: ['core.b'] });
  });

  it('refuses a file without a header, naming the file', () => {
    expect(() => parseTransform('core/bare.sql', 'insert into core.x select 1;')).toThrow(
      /^sql\/transforms\/core\/bare\.sql: no "-- writes:" header line naming what it writes/,
    );
  });

  it('refuses run_scope as a write: the engine fills it', () => {
    expect(() => parseTransform('w.sql', '-- writes: run_scope\ninsert into run_scope select 1;')).toThrow(
      /^sql\/transforms\/w\.sql: its header declares it writes run_scope, which the engine fills for each run/,
    );
  });

  it('gives each partition grain its first and last day', () => {
    expect(partitionPeriod('2025-06-30', 'day')).toEqual({ start: '2025-06-30', end: '2025-06-30' });
    expect(partitionPeriod('2024-02', 'month')).toEqual({ start: '2024-02-01', end: '2024-02-29' });
    expect(partitionPeriod('2025Q4', 'quarter')).toEqual({ start: '2025-10-01', end: '2025-12-31' });
    expect(partitionPeriod('notes', 'month')).toBeUndefined();
  });
});

describeEachDatabase('transforms declare what they read and write', (kind) => {
  it('runs a chain in the order its declarations need, whatever the order of the list', async () => {
    const db = await useDatabase(kind);
    const dir = transformsDir(CHAIN);
    for (const list of permutations(Object.keys(CHAIN))) {
      const { outcomes, n } = await db.handle.withTransaction(async (conn) => {
        const outcomes: TransformOutcome[] = await runTransforms(conn, list, { runId: 1, pipeline: 'test', fullRefresh: false }, memoryLogger().logger, dir);
        const { rows } = await conn.query<{ n: number }>('select n from step_c');
        return { outcomes, n: rows[0]?.n };
      });
      expect(outcomes.map((o) => o.file), list.join(', ')).toEqual(['z_first.sql', 'a_second.sql', 'm_third.sql']);
      expect(n).toBe(3);
    }
  });

  it('finds every relation the real transforms name in the database', async () => {
    const db = await useDatabase(kind);
    await db.handle.withTransaction(async (conn) => {
      for (const pipeline of PIPELINES) await checkRelations(conn, planTransforms(pipeline.transforms));
    });
  });

  it('refuses a transform that writes a table it did not declare, naming the file and the table, before any transform runs', async () => {
    const db = await useDatabase(kind);
    const dir = transformsDir({
      'a_marks.sql': `-- reads: run_scope
-- writes: core.custom_series
delete from core.custom_series;`,
      'b_sly.sql': `-- reads: raw.custom_series
-- writes: core.custom_series
with gone as (delete from core.fred_observations returning 1)
insert into core.custom_series (series, subject, observation_date, value, file_id, line_no, run_id)
select series, subject, observation_date, value, file_id, line_no, run_id from raw.custom_series;`,
    });
    const { logger, lines } = memoryLogger();
    const attempt = db.handle.withTransaction((conn) => runTransforms(conn, ['a_marks.sql', 'b_sly.sql'], { runId: 1, pipeline: 'test', fullRefresh: false }, logger, dir));
    await expect(attempt).rejects.toThrow(
      'sql/transforms/b_sly.sql: writes core.fred_observations (delete) but its header does not declare it; got "-- writes: core.custom_series", expected core.fred_observations among them',
    );
    expect(lines.filter((l) => 'transform' in l)).toEqual([]);
  });

  it('refuses a header that names a relation the database does not have, or a temporary one nobody writes', async () => {
    const db = await useDatabase(kind);
    const dir = transformsDir({
      'typo.sql': `-- reads: raw.custom_serie, run_scope
-- writes: core.custom_series
delete from core.custom_series where false;`,
      'orphan.sql': `-- reads: staged_rows
-- writes: core.custom_series
delete from core.custom_series where false;`,
    });
    const settings = { runId: 1, pipeline: 'test', fullRefresh: false };
    await expect(db.handle.withTransaction((conn) => runTransforms(conn, ['typo.sql'], settings, memoryLogger().logger, dir))).rejects.toThrow(
      `sql/transforms/typo.sql: its header's "reads:" names raw.custom_serie, which is no table or view in the database`,
    );
    await expect(db.handle.withTransaction((conn) => runTransforms(conn, ['orphan.sql'], settings, memoryLogger().logger, dir))).rejects.toThrow(
      /^sql\/transforms\/orphan\.sql: its header reads staged_rows, which is no relation of the run/,
    );
  });

  it('refuses transforms whose reads and writes form a cycle, naming the files', async () => {
    const db = await useDatabase(kind);
    const dir = transformsDir({
      'a.sql': `-- reads: from_b
-- writes: from_a
create temp table from_a on commit drop as select * from from_b;`,
      'b.sql': `-- reads: from_a
-- writes: from_b
create temp table from_b on commit drop as select * from from_a;`,
      'c.sql': `-- reads: run_scope
-- writes: from_c
create temp table from_c on commit drop as select 1 as n;`,
    });
    const attempt = db.handle.withTransaction((conn) =>
      runTransforms(conn, ['c.sql', 'b.sql', 'a.sql'], { runId: 1, pipeline: 'test', fullRefresh: false }, memoryLogger().logger, dir),
    );
    await expect(attempt).rejects.toThrow(
      'the transforms cannot be ordered, their reads and writes form a cycle: sql/transforms/a.sql → sql/transforms/b.sql → sql/transforms/a.sql ' +
        '(sql/transforms/b.sql reads from_a, which sql/transforms/a.sql writes; sql/transforms/a.sql reads from_b, which sql/transforms/b.sql writes)',
    );
  });

  it('gives the transforms run_scope: the files a run added, changed (both versions) and retired, and later one restored', async () => {
    const db = await useDatabase(kind);
    await db.handle.withConnection((conn) =>
      conn.script(`create table public.run_scope_seen (run_id bigint, file_id bigint, source_key text, change text, is_current boolean,
                     rows_loaded bigint, partition_key text, period_start text, period_end text)`),
    );
    const dir = transformsDir({
      'capture.sql': `-- reads: run_scope, core.custom_series
-- writes: public.run_scope_seen
insert into public.run_scope_seen
select current_setting('bubblewatch.run_id')::bigint, file_id, source_key, change, is_current, rows_loaded, partition_key,
       period_start::text, period_end::text
from run_scope;`,
    });
    // Listed first, it runs after core/custom_series.sql because it reads what that one writes.
    const pipeline = {
      ...(customSeries as unknown as AnyPipeline),
      transforms: [relative(TRANSFORMS_DIR, join(dir, 'capture.sql')), ...customSeries.transforms],
      partitions: { grain: 'month' as const, keyOf: (f: { sourceKey: string }) => /(\d{4}-\d{2})\.csv$/.exec(f.sourceKey)?.[1] },
    };
    const inbox = makeInbox();
    const config = { ...inboxConfig(pipeline, inbox), onMissing: 'retire' as const };
    const HEADER = 'series,subject,date,value\n';
    writeFile(inbox, '2025-05.csv', HEADER + 'capex,MSFT,2025-05-31,1\n');
    writeFile(inbox, '2025-06.csv', HEADER + 'capex,MSFT,2025-06-30,2\n');
    const first = await runOnce(db.handle, pipeline, config);
    expect(first.status).toBe('succeeded');

    writeFile(inbox, '2025-05.csv', HEADER + 'capex,MSFT,2025-05-31,10\ncapex,GOOGL,2025-05-31,5\n');
    rmSync(join(inbox, '2025-06.csv'));
    writeFile(inbox, 'notes.csv', HEADER + 'capex,META,2025-07-31,3\n');
    const second = await runOnce(db.handle, pipeline, config);
    expect(second.status).toBe('succeeded');

    const seen = (runId: number) =>
      rows(db.handle, `select file_id::int, source_key, change, is_current, rows_loaded::int, partition_key, period_start, period_end
                       from public.run_scope_seen where run_id = $1 order by file_id`, [runId]);
    const [may, june] = await rows<{ file_id: number }>(db.handle, `select file_id::int from etl.source_files where run_id = $1 order by source_key`, [first.runId]);
    const [mayAgain, notes] = await rows<{ file_id: number }>(db.handle, `select file_id::int from etl.source_files where run_id = $1 order by source_key`, [second.runId]);
    const MAY = { partition_key: '2025-05', period_start: '2025-05-01', period_end: '2025-05-31' };
    expect(await seen(second.runId)).toEqual([
      { file_id: may!.file_id, source_key: '2025-05.csv', change: 'changed', is_current: false, rows_loaded: null, ...MAY },
      { file_id: june!.file_id, source_key: '2025-06.csv', change: 'retired', is_current: false, rows_loaded: null, partition_key: '2025-06', period_start: '2025-06-01', period_end: '2025-06-30' },
      { file_id: mayAgain!.file_id, source_key: '2025-05.csv', change: 'changed', is_current: true, rows_loaded: 2, ...MAY },
      { file_id: notes!.file_id, source_key: 'notes.csv', change: 'added', is_current: true, rows_loaded: 1, partition_key: null, period_start: null, period_end: null },
    ]);
    // The transform recomputed from it: June's row is gone with its file, May's is the edit's.
    expect(await rows(db.handle, `select subject, observation_date::text as d, value::text as v from core.custom_series order by 2, 1`)).toEqual([
      { subject: 'GOOGL', d: '2025-05-31', v: '5' },
      { subject: 'MSFT', d: '2025-05-31', v: '10' },
      { subject: 'META', d: '2025-07-31', v: '3' },
    ]);

    // The retired file comes back: a new version of a path that had none current.
    writeFile(inbox, '2025-06.csv', HEADER + 'capex,MSFT,2025-06-30,2\n');
    const third = await runOnce(db.handle, pipeline, config);
    expect(third.status).toBe('succeeded');
    expect((await seen(third.runId)).map((r) => [r.source_key, r.change, r.is_current])).toEqual([['2025-06.csv', 'restored', true]]);
    // Nothing new: no transform runs, so nothing is captured.
    const fourth = await runOnce(db.handle, pipeline, config);
    expect(fourth.counts.filesLoaded).toBe(0);
    expect(await seen(fourth.runId)).toEqual([]);
  });
});

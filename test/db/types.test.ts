import { expect, it } from 'vitest';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { rows } from '../helpers/pipelines.js';

/** Both drivers must hand back the same JavaScript values, so no code branches on the driver. */
const EXPECTED = {
  i8: 9007199254740991,
  i4: -42,
  n: 31462.523,
  big_n: 392000000000,
  f8: 0.1,
  d: '2025-02-28',
  ts: new Date('2026-11-30T12:34:56.789Z'),
  ts_plain: new Date('1999-12-01T00:00:00.000Z'),
  b: true,
  t: 'Alphabet (low end)',
  j: { a: [1, 'x'] },
  nul: null,
};

describeEachDatabase('type parsers', (kind) => {
  it('returns int8, numeric, date and timestamps as the same JS types on both drivers', async () => {
    const db = await useDatabase(kind, { migrated: false });
    const [row] = await rows(
      db.handle,
      `select 9007199254740991::int8 as i8, (-42)::int4 as i4, 31462.523::numeric as n, 392000000000::numeric as big_n,
              0.1::float8 as f8, date '2025-02-28' as d,
              timestamptz '2026-11-30 12:34:56.789+00' as ts, timestamp '1999-12-01 00:00:00' as ts_plain,
              true as b, 'Alphabet (low end)'::text as t, '{"a":[1,"x"]}'::jsonb as j, null::int8 as nul`,
    );
    expect(row).toEqual(EXPECTED);
  });

  it('through kysely as well as raw queries', async () => {
    const db = await useDatabase(kind);
    const row = await db.handle.db
      .selectFrom('etl.schema_migrations')
      .select(['version', 'applied_at'])
      .orderBy('version')
      .executeTakeFirstOrThrow();
    expect(row.version).toBe(1);
    expect(row.applied_at).toBeInstanceOf(Date);
  });

  it('refuses an int8 beyond 2^53 instead of rounding it', async () => {
    const db = await useDatabase(kind, { migrated: false });
    await expect(rows(db.handle, 'select 9007199254740993::int8 as x')).rejects.toThrow(/beyond JavaScript's exact integer range/);
  });

  it('runs the session in UTC so dates do not shift', async () => {
    const db = await useDatabase(kind, { migrated: false });
    const [row] = await rows<{ tz: string; d: string }>(db.handle, `select current_setting('TimeZone') as tz, (timestamptz '2025-03-31 23:30:00+00')::date as d`);
    expect(row).toEqual({ tz: 'UTC', d: '2025-03-31' });
  });
});

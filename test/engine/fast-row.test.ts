import { isDeepStrictEqual } from 'node:util';
import { expect, it } from 'vitest';
import { indexConstituents } from '../../pipelines/index-constituents/pipeline.js';
import { PIPELINES } from '../../pipelines/registry.js';
import { code, decimal, fastRowParser, isoDate, optional, text } from '../../src/engine/fields.js';
import { csvField } from '../../src/engine/load-records.js';
import { rowSchema } from '../../src/engine/pipeline.js';

/**
 * The loader validates rows with each field's fast twin and asks zod only about a row the
 * twin refuses. Both must agree on every input: same acceptance, same output, same keys.
 */

// A deterministic PRNG, so a failure can be replayed.
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRICKY = [
  '', ' ', '  \t', 'cap', 'issuer', 'Cap', ' cap', 'AAPL', 'BRK.B', 'BRK-B', 'brk/b', 'A&B', '_X', '.X', 'ÄÖ', '日本', 'x'.repeat(20), 'x'.repeat(21),
  'x'.repeat(40), 'x'.repeat(41), 'y'.repeat(300), 'y'.repeat(301), 'a\u0000b', 'a,b', 'a"b', 'line\nbreak', '\\.', 'SP500', 'sp 500',
  '2025-02-01', ' 2025-02-01 ', '2025-02-30', '2024-02-29', '2023-02-29', '1799-12-31', '1800-01-01', '2200-12-31', '2201-01-01', '2025-2-1', '20250201',
  '0', '-0', '+1', '1.', '.5', '-.5', '1e9', '1E-3', '1e400', '1.2e1000', '1,234', '1,234.5', '$5', '5%', 'NaN', 'inf', '-Infinity', '12a', '+', '-', '.', 'e5',
  '392000000000', '31462.523', ' 42 ', '0.65', '1.0001',
];

function randomInput(rand: () => number, keys: readonly string[]): Record<string, string | undefined> {
  const input: Record<string, string | undefined> = {};
  for (const key of keys) {
    const r = rand();
    if (r < 0.15) continue; // absent
    if (r < 0.2) input[key] = undefined; // present, undefined
    else input[key] = TRICKY[Math.floor(rand() * TRICKY.length)]!;
  }
  if (rand() < 0.1) input.unknown_column = 'x';
  return input;
}

function expectSameAsZod(spec: { fields: Parameters<typeof fastRowParser>[0]; schema: { safeParse(v: unknown): { success: boolean; data?: unknown } } }, runs: number, seed: number) {
  const fast = fastRowParser(spec.fields);
  expect(fast).toBeDefined();
  const keys = Object.keys(spec.fields);
  const rand = prng(seed);
  let accepted = 0;
  for (let i = 0; i < runs; i++) {
    const input = randomInput(rand, keys);
    const zod = spec.schema.safeParse(input);
    const mine = fast!(input);
    const same =
      (mine !== undefined) === zod.success &&
      (!zod.success || (isDeepStrictEqual(Object.keys(mine!), Object.keys(zod.data as object)) && isDeepStrictEqual(mine, zod.data)));
    // expect() only on a difference: it is slow, and the loop runs tens of thousands of times.
    if (!same) expect({ input, fast: mine ?? 'refused' }).toStrictEqual({ input, fast: zod.success ? zod.data : 'refused' });
    if (zod.success) accepted++;
  }
  return accepted;
}

it('every field builder has a fast twin that accepts and returns exactly what zod does', () => {
  const spec = rowSchema({
    t: text({ max: 10 }),
    c: code({ max: 20 }),
    d: isoDate(),
    n: decimal(),
    ot: optional(text()),
    oc: optional(code({ max: 40 })),
    od: optional(isoDate()),
    on: optional(decimal()),
  });
  // Each field alone, so that acceptance is common enough to compare outputs too.
  for (const [name, field] of Object.entries(spec.fields)) {
    const one = rowSchema({ [name]: field });
    expect(expectSameAsZod(one, 3000, name.length * 7919)).toBeGreaterThan(0);
  }
  expectSameAsZod(spec, 20000, 42);
});

it('the index-constituents row, and every registered pipeline row, has a fast twin equal to zod', () => {
  expect(expectSameAsZod(indexConstituents.row, 20000, 7)).toBeGreaterThan(0);
  for (const pipeline of PIPELINES) {
    const fast = fastRowParser(pipeline.row.fields);
    if (!fast) continue; // a row with a field without a twin goes through zod alone
    expectSameAsZod(pipeline.row, 5000, pipeline.name.length);
  }
});

it('a row that zod accepts with cells full of CSV metacharacters round-trips through COPY text', () => {
  expect(csvField('AAPL')).toBe('AAPL');
  expect(csvField('')).toBe('""');
  expect(csvField(null)).toBe('');
  expect(csvField('IE Holdings, Inc.')).toBe('"IE Holdings, Inc."');
  expect(csvField('say "hi"')).toBe('"say ""hi"""');
  expect(csvField('two\nlines')).toBe('"two\nlines"');
  expect(csvField('\\.')).toBe('"\\."');
  expect(csvField(' padded ')).toBe(' padded ');
});

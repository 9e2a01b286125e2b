import { describe, expect, it } from 'vitest';
import { JsonNumber, JsonSyntaxError, jsonText, parseJson, type JsonValue } from '../../pipelines/sec-companyfacts/exact-json.js';

/**
 * The companyfacts JSON parser must be JSON.parse in everything but numbers, which keep their
 * text. Checked against JSON.parse itself on random documents and on random corruptions of
 * them (it accepts exactly what JSON.parse accepts), and on the numbers a double cannot hold.
 */

/** A small deterministic generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBERS = ['0', '-0', '7', '-12', '2303000000', '9007199254740993', '2303000000.123456789', '123456789012345678901234567890', '1e400', '1E-7', '-2.5e+3', '0.0', '1.0E0', '6.02214076e23'];
const STRINGS = ['', 'USD', '2024-08-31', '0001193125-25-200095', 'a "quoted" \\ back/slash', 'tab\there', 'line\nbreak', 'é ü 中 😀', '\u0000\u001f', '\u2028\u2029', '__proto__', 'constructor', '9007199254740993'];

/** A random JSON value; numbers as JsonNumber. */
function value(next: () => number, depth: number): JsonValue {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const r = next();
  if (depth > 4 || r < 0.45) {
    const s = next();
    if (s < 0.4) return new JsonNumber(pick(NUMBERS));
    if (s < 0.8) return pick(STRINGS);
    return pick([true, false, null]);
  }
  if (r < 0.7) return Array.from({ length: Math.floor(next() * 5) }, () => value(next, depth + 1));
  const object: Record<string, JsonValue> = {};
  const n = Math.floor(next() * 6);
  for (let i = 0; i < n; i++) {
    const key = pick([...STRINGS, 'start', 'end', 'val', 'fy', String(i)]);
    if (key === '__proto__') Object.defineProperty(object, key, { value: value(next, depth + 1), enumerable: true, writable: true, configurable: true });
    else object[key] = value(next, depth + 1);
  }
  return object;
}

/** JSON text with random whitespace between tokens. */
function spaced(text: string, next: () => number): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    out += c;
    if (inString) {
      if (c === '\\') out += text[++i]!;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if ('{}[],:'.includes(c) && next() < 0.3) {
      out += [' ', '\n', '\t', '\r\n  '][Math.floor(next() * 4)]!;
    }
  }
  return out;
}

/** What JSON.parse gives for a document: numbers compared as doubles. */
function asDoubles(v: JsonValue): unknown {
  if (v instanceof JsonNumber) return Number(v.text);
  if (Array.isArray(v)) return v.map(asDoubles);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) Object.defineProperty(out, k, { value: asDoubles(item), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

function accepts(parse: (text: string) => unknown, text: string): boolean {
  try {
    parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('parseJson', () => {
  it('keeps every number exactly as written', () => {
    const doc = parseJson('{"a": 9007199254740993, "b": [2303000000.123456789, 123456789012345678901234567890, -0, 1E-7, 1e400]}') as {
      a: JsonNumber;
      b: JsonNumber[];
    };
    expect(doc.a.text).toBe('9007199254740993');
    expect(doc.b.map((n) => n.text)).toEqual(['2303000000.123456789', '123456789012345678901234567890', '-0', '1E-7', '1e400']);
    expect(jsonText(doc)).toBe('{"a":9007199254740993,"b":[2303000000.123456789,123456789012345678901234567890,-0,1E-7,1e400]}');
  });

  it('gives what JSON.parse gives, numbers aside, on 3,000 random documents, and writes them back', () => {
    const next = random(20261203);
    for (let i = 0; i < 3000; i++) {
      const v = value(next, 0);
      const text = spaced(jsonText(v), next);
      const ours = parseJson(text);
      expect(asDoubles(ours), text).toEqual(JSON.parse(text));
      expect(jsonText(ours), text).toBe(jsonText(v));
    }
  });

  it('accepts exactly what JSON.parse accepts, on 20,000 random corruptions of valid documents', () => {
    const next = random(14);
    const alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', '-', '+', '.', 'e', 'E', '0', '1', '9', ' ', 'n', 't', 'u', '\u0001', '\n', 'x'];
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = jsonText(value(next, 0));
      const at = Math.floor(next() * (text.length + 1));
      const ch = alphabet[Math.floor(next() * alphabet.length)]!;
      const kind = next();
      const broken = kind < 0.33 ? text.slice(0, at) + ch + text.slice(at) : kind < 0.66 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + ch + text.slice(at + 1);
      const expected = accepts(JSON.parse, broken);
      expect(accepts(parseJson, broken), JSON.stringify(broken)).toBe(expected);
      if (!expected) rejected++;
    }
    expect(rejected).toBeGreaterThan(5000);
  });

  it('refuses what JSON refuses: leading zeros, a bare decimal point, NaN, a trailing comma, single quotes', () => {
    for (const text of ['01', '1.', '.5', '+1', '-', '1e', '1e+', 'NaN', 'Infinity', '[1,]', '{"a":1,}', "{'a':1}", '{"a" 1}', '"\\x"', '"\\u12"', '"a', '[1 2]', '{"a":1}}', 'tru']) {
      expect(() => parseJson(text), text).toThrow(JsonSyntaxError);
      expect(() => JSON.parse(text), text).toThrow(SyntaxError);
    }
  });

  it('says where a syntax error is: line, column and position, what it found and what it expected', () => {
    const text = '{\n  "cik": 1341439,\n  "val": 02303000000\n}';
    try {
      parseJson(text);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(JsonSyntaxError);
      const e = error as JsonSyntaxError;
      expect([e.line, e.column, e.position]).toEqual([3, 11, 30]);
      expect(e.message).toBe(`Unexpected "2"; expected ',' or '}' after a property value at line 3 column 11 (position 30)`);
    }
    expect(() => parseJson('{"cik": 789019, "facts": {"us-gaap": {')).toThrow(
      `Unexpected end of JSON input; expected a property name in double quotes or '}' at line 1 column 39 (position 38)`,
    );
    expect(() => parseJson('  ')).toThrow(new JsonSyntaxError('Unexpected end of JSON input', undefined, undefined, undefined));
  });

  it('treats keys as JSON.parse does: the last of two equal keys wins, and __proto__ is an own key', () => {
    const doc = parseJson('{"a": 1, "a": 2, "__proto__": {"polluted": true}}') as Record<string, unknown>;
    expect((doc.a as JsonNumber).text).toBe('2');
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);
    expect(Object.keys(doc)).toEqual(['a', '__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reads a key that differs from the key at the same place in the previous object', () => {
    // Keys are reused from the previous object at the same depth; a near miss must not match.
    const doc = parseJson('[{"end":1,"val":2},{"endx":3,"va":4},{"end":5,"v\\u0061l":6},{"end":7,"val":8}]') as Record<string, JsonNumber>[];
    expect(doc.map((o) => Object.keys(o))).toEqual([['end', 'val'], ['endx', 'va'], ['end', 'val'], ['end', 'val']]);
  });

  it('parses and writes back nesting 100,000 deep without overflowing the stack', () => {
    const depth = 100_000;
    const text = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    const doc = parseJson(text);
    expect(jsonText(doc)).toBe(text);
  });
});

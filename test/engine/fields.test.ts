import { describe, expect, it } from 'vitest';
import { code, decimal, isoDate, optional, text } from '../../src/engine/fields.js';

const messageOf = (result: { success: boolean; error?: { issues: { message: string }[] } }) => result.error?.issues[0]?.message;

describe('decimal', () => {
  it.each(['0', '-4.5', '.5', '5.', '1.2e9', '3E-2', '+7', '392000000000', ' 31462.523 '])('accepts %s', (v) => {
    expect(decimal().safeParse(v).success).toBe(true);
  });
  it('keeps the text exactly, trimming spaces and a leading +', () => {
    expect(decimal().parse(' 31462.523 ')).toBe('31462.523');
    expect(decimal().parse('+7')).toBe('7');
  });
  it.each([
    ['1,234', 'got "1,234", expected a plain decimal number such as 1234.5 or 1.2e9 (no thousands separators)'],
    ['$5', 'got "$5", expected a plain decimal number such as 1234.5 or 1.2e9 (no currency signs; put the currency in the unit column)'],
    ['45%', 'got "45%", expected a plain decimal number such as 1234.5 or 1.2e9 (no percent sign; put "pct" in the unit column)'],
    ['NaN', 'got "NaN", expected a finite number'],
    ['-Infinity', 'got "-Infinity", expected a finite number'],
    ['1e999', 'got "1e999", expected a finite number within ±1e308'],
    ['', 'got "", expected a number'],
    ['0x1F', 'got "0x1F", expected a plain decimal number such as 1234.5 or 1.2e9'],
  ])('rejects %s', (v, message) => {
    expect(messageOf(decimal().safeParse(v))).toBe(message);
  });
  it('accepts what PostgreSQL numeric holds (16383 digits after the point) and rejects more, which failed the whole COPY', () => {
    expect(decimal().safeParse(`0.${'0'.repeat(16382)}1`).success).toBe(true);
    expect(decimal().safeParse('1e-999').success).toBe(true);
    expect(decimal().safeParse(`1.${'0'.repeat(16300)}e-83`).success).toBe(true);
    for (const v of [`0.${'0'.repeat(16383)}1`, `1.${'0'.repeat(16300)}e-84`]) {
      expect(messageOf(decimal().safeParse(v))).toBe(`got "${v.slice(0, 57)}...", expected a number with at most 16383 digits after the decimal point`);
    }
  });
});

describe('isoDate', () => {
  it('accepts real dates, including 29 February in a leap year', () => {
    expect(isoDate().parse('2024-02-29')).toBe('2024-02-29');
    expect(isoDate().parse('1999-12-01')).toBe('1999-12-01');
  });
  it.each([
    ['2025-02-30', 'got "2025-02-30", expected a real calendar date YYYY-MM-DD'],
    ['2023-02-29', 'got "2023-02-29", expected a real calendar date YYYY-MM-DD'],
    ['2025-13-01', 'got "2025-13-01", expected a real calendar date YYYY-MM-DD'],
    ['31/12/2025', 'got "31/12/2025", expected a date written YYYY-MM-DD'],
    ['2025-1-5', 'got "2025-1-5", expected a date written YYYY-MM-DD'],
    ['1066-10-14', 'got "1066-10-14", expected a year between 1800 and 2200'],
  ])('rejects %s', (v, message) => {
    expect(messageOf(isoDate().safeParse(v))).toBe(message);
  });
});

describe('text and code', () => {
  it('trims and refuses empty text and NUL bytes', () => {
    expect(text().parse('  OpenAI ')).toBe('OpenAI');
    expect(messageOf(text().safeParse('   '))).toBe('got "   ", expected a non-empty value');
    expect(messageOf(text().safeParse('a\u0000b'))).toMatch(/expected text without NUL bytes/);
    expect(messageOf(text({ max: 3 }).safeParse('abcd'))).toMatch(/expected at most 3 characters/);
  });
  it('keeps SQL-looking text as plain data', () => {
    expect(text().parse("'; drop table raw.custom_series; --")).toBe("'; drop table raw.custom_series; --");
    expect(messageOf(code().safeParse("x'; drop table t; --"))).toMatch(/letters, digits, spaces and \. _ - \/ & only/);
  });
});

describe('optional', () => {
  it('turns an empty cell or an absent column into undefined and still validates a value', () => {
    const f = optional(code());
    expect(f.parse(undefined)).toBeUndefined();
    expect(f.parse('  ')).toBeUndefined();
    expect(f.parse('USD')).toBe('USD');
    expect(f.safeParse('U$D!').success).toBe(false);
  });
});

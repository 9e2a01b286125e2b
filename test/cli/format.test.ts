import { expect, it } from 'vitest';
import { colour, formatTable, sparkline } from '../../src/cli/format.js';

it('draws a sparkline scaled between the series’ min and max', () => {
  expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8])).toBe('▁▂▃▄▅▆▇█');
  expect(sparkline([5, 5, 5])).toBe('▄▄▄');
  expect(sparkline([])).toBe('');
});

it('pads cells before colouring them, so colour codes do not shift the columns', () => {
  const table = formatTable([{ a: 'x', b: 'firing' }, { a: 'yy', b: 'ok' }], [
    { header: 'a', value: (r) => r.a },
    { header: 'alert', value: (r) => r.b, style: (r) => (r.b === 'firing' ? colour.red : undefined) },
  ]);
  expect(String(table).split('\n')).toEqual(['a   alert', '--  ------', 'x   \u001b[31mfiring\u001b[39m', 'yy  ok']);
});

it('shows control and bidi characters in cells escaped, and measures widths on what is shown', () => {
  const table = formatTable(
    [
      { a: 'OpenAI\u001b[2J\u001b[H', b: 'x' },
      { a: '\u202Ereversed\u202C', b: 'y' },
      { a: 'c1\u009bcsi\u007f', b: 'z' },
    ],
    [
      { header: 'subject', value: (r) => r.a },
      { header: 'b', value: (r) => r.b },
    ],
  );
  expect(String(table).split('\n')).toEqual([
    'subject               b',
    '--------------------  -',
    'OpenAI\\x1b[2J\\x1b[H   x',
    '\\u202ereversed\\u202c  y',
    'c1\\u009bcsi\\u007f     z',
  ]);
});

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
  expect(table.split('\n')).toEqual(['a   alert', '--  ------', 'x   \u001b[31mfiring\u001b[39m', 'yy  ok']);
});

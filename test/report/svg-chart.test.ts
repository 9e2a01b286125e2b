import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from '../../src/report/html.js';
import {
  axisFormat,
  barChart,
  dateValue,
  decimalsFor,
  lineChart,
  niceTicks,
  noDataChart,
  timelineChart,
  timeTicks,
  type LineChartSpec,
} from '../../src/report/svg-chart.js';
import { count, markupProblems } from './markup.js';

/** The SVG chart module on its own: scales, ticks, axes, legends, escaping, empty data. */

const tickLabels = (svg: string, axis: 'x' | 'y'): string[] =>
  [...svg.matchAll(new RegExp(`class="tick tick-${axis}"[^>]*>([^<]*)</text>`, 'g'))].map((m) => m[1]!);

const marksAttr = (svg: string): number => Number(/data-marks="(\d+)"/.exec(svg)?.[1]);

describe('niceTicks', () => {
  it('picks round steps of 1, 2 or 5 × 10^n that cover the range', () => {
    expect(niceTicks(0, 97, 5)).toEqual({ min: 0, max: 100, step: 20, ticks: [0, 20, 40, 60, 80, 100] });
    expect(niceTicks(0.05, 0.42, 4)).toMatchObject({ min: 0, max: 0.5, step: 0.1, ticks: [0, 0.1, 0.2, 0.3, 0.4, 0.5] });
    expect(niceTicks(-0.23, 1.74, 5)).toMatchObject({ min: -0.5, max: 2, step: 0.5 });
    expect(niceTicks(4.7, 44.2, 4).ticks).toEqual([0, 10, 20, 30, 40, 50]);
    expect(niceTicks(4.7, 44.2, 8).ticks).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
  });

  it('widens a single value and survives non-finite input', () => {
    expect(niceTicks(5, 5).ticks.length).toBeGreaterThan(1);
    expect(niceTicks(0, 0).ticks).toContain(0);
    expect(niceTicks(Number.NaN, 3).ticks).toEqual(niceTicks(0, 1).ticks);
  });

  it('has no floating-point noise in its ticks', () => {
    for (const t of niceTicks(0.1, 0.7, 6).ticks) expect(String(t).length).toBeLessThanOrEqual(4);
  });
});

describe('tick formats', () => {
  it('writes as many decimals as the step needs, with units and a real minus sign', () => {
    expect(decimalsFor(0.25)).toBe(2);
    expect(decimalsFor(5)).toBe(0);
    const percent = axisFormat({ scale: 100, suffix: '%' });
    expect(percent(0.25, 0.05)).toBe('25%');
    expect(percent(0.025, 0.025)).toBe('2.5%');
    expect(percent(-0.2, 0.2)).toBe('−20%');
    const usdBn = axisFormat({ prefix: '$', suffix: 'bn' });
    expect(usdBn(150, 50)).toBe('$150bn');
    expect(usdBn(-50, 50)).toBe('−$50bn');
    expect(usdBn(1500, 500)).toBe('$1,500bn');
    expect(axisFormat({ suffix: '×' })(2.5, 0.5)).toBe('2.5×');
  });
});

describe('timeTicks', () => {
  it('uses years, decades or months depending on the span', () => {
    const century = timeTicks(dateValue('1881-01-01'), dateValue('2026-05-01'), 8).map((t) => t.label);
    expect(century).toEqual(['1900', '1920', '1940', '1960', '1980', '2000', '2020']);
    const years = timeTicks(dateValue('2021-03-31'), dateValue('2026-06-30'), 8).map((t) => t.label);
    expect(years).toEqual(['2022', '2023', '2024', '2025', '2026']);
    const months = timeTicks(dateValue('2025-01-15'), dateValue('2025-07-20'), 8).map((t) => t.label);
    expect(months).toEqual(['Feb 2025', 'Mar 2025', 'Apr 2025', 'May 2025', 'Jun 2025', 'Jul 2025']);
    const quarters = timeTicks(dateValue('2024-11-01'), dateValue('2026-02-01'), 6).map((t) => t.label);
    expect(quarters).toEqual(['Jan 2025', 'Apr 2025', 'Jul 2025', 'Oct 2025', 'Jan 2026']);
  });
});

const growth: LineChartSpec = {
  id: 'growth',
  title: 'Capex growth',
  x: { kind: 'time', label: 'Quarter end' },
  y: { label: 'Growth, %', format: axisFormat({ scale: 100, suffix: '%' }), includeZero: true },
  series: [
    { name: 'capex', color: '#0072B2', markers: true, points: [
      { x: dateValue('2024-03-31'), y: 0.1 },
      { x: dateValue('2024-06-30'), y: 0.35 },
      { x: dateValue('2024-09-30'), y: 0.62 },
    ] },
    { name: 'revenue', color: '#E69F00', dash: '5 3', points: [
      { x: dateValue('2024-03-31'), y: 0.12 },
      { x: dateValue('2024-06-30'), y: 0.14 },
      { x: dateValue('2024-09-30'), y: 0.15 },
    ] },
  ],
  referenceLines: [{ value: 0.5, label: 'threshold 50%' }],
  xMarkers: [{ x: dateValue('2024-05-01'), label: 'event' }],
  annotations: [{ x: dateValue('2024-09-30'), y: 0.62, label: 'latest 62%' }],
};

describe('lineChart', () => {
  it('draws axes with tick labels, axis titles with units, a legend, reference lines, markers and annotations', () => {
    const svg = lineChart(growth).text;
    expect(svg.startsWith('<svg class="chart-svg chart-line"')).toBe(true);
    expect(markupProblems(svg)).toEqual([]);
    expect(tickLabels(svg, 'y')).toEqual(['0%', '10%', '20%', '30%', '40%', '50%', '60%', '70%']);
    expect(tickLabels(svg, 'x')).toEqual(['Apr 2024', 'May 2024', 'Jun 2024', 'Jul 2024', 'Aug 2024', 'Sep 2024', 'Oct 2024']);
    expect(svg).toContain('>Growth, %</text>');
    expect(svg).toContain('>Quarter end</text>');
    expect(svg).toContain('class="legend-label">capex</text>');
    expect(svg).toContain('class="legend-label">revenue</text>');
    expect(svg).toContain('stroke-dasharray="5 3"');
    expect(svg).toContain('>threshold 50%</text>');
    expect(svg).toContain('>event</text>');
    expect(svg).toContain('>latest 62%</text>');
    // Two lines and three dots (only the first series has markers).
    expect(count(svg, 'class="mark line"')).toBe(2);
    expect(count(svg, 'class="mark point"')).toBe(3);
    expect(marksAttr(svg)).toBe(5);
    expect(svg).toContain('<title>capex, 2024-09-30: 62%</title>');
  });

  it('breaks a line at a null and at a gap longer than maxGap; an isolated point gets a dot', () => {
    const day = 86_400_000;
    const svg = lineChart({
      ...growth,
      referenceLines: [],
      annotations: [],
      series: [{ name: 's', color: '#000', maxGap: 120 * day, points: [
        { x: dateValue('2020-03-31'), y: 1 },
        { x: dateValue('2020-06-30'), y: 2 },
        { x: dateValue('2020-09-30'), y: null },
        { x: dateValue('2020-12-31'), y: 3 },
        { x: dateValue('2022-03-31'), y: 4 },
        { x: dateValue('2022-06-30'), y: 5 },
      ] }],
    }).text;
    expect(count(svg, 'class="mark line"')).toBe(2);
    expect(count(svg, 'class="mark point"')).toBe(1);
  });

  it('escapes every text it writes', () => {
    const nasty = '<script>alert("x")</script> & <b>co</b>';
    const svg = lineChart({
      ...growth,
      id: 'x"><img src=x>',
      title: nasty,
      y: { label: `${nasty} (%)` },
      series: [{ ...growth.series[0]!, name: nasty }],
      referenceLines: [{ value: 0.3, label: nasty }],
      annotations: [{ x: dateValue('2024-06-30'), y: 0.35, label: nasty }],
    }).text;
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('<b>');
    expect(svg).not.toContain('<img');
    expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;');
    expect(markupProblems(svg)).toEqual([]);
  });

  it('shows a "No data yet" box of the same size when no series has a value', () => {
    for (const series of [[], [{ name: 'empty', color: '#000', points: [{ x: 1, y: null }] }]]) {
      const svg = lineChart({ ...growth, series, emptyHint: 'Load <Shiller> data & run' }).text;
      expect(svg).toContain('No data yet');
      expect(svg).toContain('Load &lt;Shiller&gt; data &amp; run');
      expect(svg).toContain('viewBox="0 0 960 360"');
      expect(svg).toContain('chart-empty');
      expect(marksAttr(svg)).toBe(0);
      expect(svg).not.toContain('class="mark');
      expect(markupProblems(svg)).toEqual([]);
    }
  });

  it('lists a series without data in the legend as "no data yet" and still draws the rest', () => {
    const svg = lineChart({ ...growth, series: [...growth.series, { name: 'group revenue', color: '#000', points: [] }] }).text;
    expect(svg).toContain('group revenue — no data yet');
    expect(marksAttr(svg)).toBe(5);
  });

  it('centres a single point in a padded domain', () => {
    const svg = lineChart({ ...growth, referenceLines: [], annotations: [], xMarkers: [], series: [{ name: 'one', color: '#000', points: [{ x: dateValue('2025-06-30'), y: 2 }] }] }).text;
    expect(count(svg, 'class="mark point"')).toBe(1);
    expect(markupProblems(svg)).toEqual([]);
  });
});

describe('barChart', () => {
  const spec = {
    id: 'capex',
    title: 'Capex by quarter',
    categories: ['2025-Q1', '2025-Q2', '2025-Q3'],
    xLabel: 'Calendar quarter',
    y: { label: 'USD billions', format: axisFormat({ prefix: '$', suffix: 'bn' }), includeZero: true },
    series: [
      { name: 'AMZN', color: '#0072B2', values: [24, 31, null] },
      { name: 'MSFT', color: '#E69F00', values: [16, 21, 19] },
    ],
    stacked: true,
    categoryNotes: [null, null, '1/2 reported'],
    labelLastTotals: 2,
    valueFormat: (v: number) => `$${v.toFixed(1)}bn`,
  };

  it('stacks bars, labels categories, totals, notes and the y axis in its unit', () => {
    const svg = barChart(spec).text;
    expect(markupProblems(svg)).toEqual([]);
    expect(count(svg, 'class="mark bar"')).toBe(5);
    expect(marksAttr(svg)).toBe(5);
    expect(tickLabels(svg, 'x')).toEqual(['2025-Q1', '2025-Q2', '2025-Q3']);
    expect(tickLabels(svg, 'y')).toEqual(['$0bn', '$10bn', '$20bn', '$30bn', '$40bn', '$50bn', '$60bn']);
    expect(svg).toContain('>USD billions</text>');
    expect(svg).toContain('>Calendar quarter</text>');
    expect(svg).toContain('>$52.0bn</text>');
    expect(svg).toContain('>1/2 reported</text>');
    expect(svg).toContain('<title>AMZN, 2025-Q2: $31.0bn</title>');
  });

  it('groups bars side by side when not stacked, and handles negative values', () => {
    const svg = barChart({ ...spec, stacked: false, labelLastTotals: undefined, categoryNotes: undefined, series: [{ name: 'a', color: '#000', values: [-5, 10, 3] }, { name: 'b', color: '#111', values: [2, 4, 6] }] }).text;
    expect(count(svg, 'class="mark bar"')).toBe(6);
    expect(tickLabels(svg, 'y')[0]).toBe('−$5bn');
  });

  it('shows "No data yet" without categories or values', () => {
    expect(barChart({ ...spec, categories: [] }).text).toContain('No data yet');
    expect(barChart({ ...spec, series: [{ name: 'a', color: '#000', values: [null, null, null] }] }).text).toContain('No data yet');
  });
});

describe('timelineChart', () => {
  it('draws one row per rule and subject with spans and event markers', () => {
    const svg = timelineChart({
      id: 'alerts',
      title: 'Alerts',
      xLabel: 'Period',
      legend: [{ name: 'firing', color: '#c00', shape: 'span' }, { name: 'fired', color: '#000', shape: 'fired' }],
      rows: [
        {
          label: 'cape_above_35 · SP500 <&>',
          spans: [{ from: dateValue('1998-03-31'), to: dateValue('2001-03-31'), color: '#c00', title: 'firing' }],
          events: [
            { x: dateValue('1998-03-31'), kind: 'fired', color: '#c00', title: 'fired' },
            { x: dateValue('2001-03-31'), kind: 'resolved', color: '#c00', title: 'resolved' },
          ],
        },
        { label: 'empty row', spans: [], events: [] },
      ],
    }).text;
    expect(markupProblems(svg)).toEqual([]);
    expect(svg).toContain('cape_above_35 · SP500 &lt;&amp;&gt;');
    expect(svg).not.toContain('empty row');
    expect(count(svg, 'class="mark span"')).toBe(1);
    expect(count(svg, 'class="mark event')).toBe(2);
    expect(tickLabels(svg, 'x')).toContain('2000');
  });

  it('shows "No data yet" without events', () => {
    expect(timelineChart({ id: 't', title: 't', xLabel: 'x', legend: [], rows: [] }).text).toContain('No data yet');
  });
});

describe('html', () => {
  it('escapes interpolated values, joins arrays and keeps nested markup', () => {
    expect(escapeHtml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}${['a&', html`<br>`]}${null}${undefined}${false}${0}</p>`.text).toBe('<p><b>&lt;i&gt;</b>a&amp;<br>0</p>');
    expect(noDataChart({ id: 'n', title: 'T & U' }).text).toContain('T &amp; U: No data yet');
    // Markup written in code must spell & as &amp; too; a slip there is caught at once.
    expect(() => html`<p>S&P 500</p>`).toThrow(/bare & in its markup/);
    expect(html`<p>S&amp;P ${'&'} 500</p>`.text).toBe('<p>S&amp;P &amp; 500</p>');
  });
});

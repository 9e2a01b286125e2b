import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { reportCommand } from '../../src/cli/commands/report.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { useDatabase } from '../helpers/databases.js';
import { CHART_IDS, loadBundledSample, reportContext } from './sample.js';

/**
 * The report in a real browser: Debian's Chromium, headless, with a fresh profile. It must
 * render every chart, log no console error and request nothing but the file itself. The
 * screenshot is kept in test/report/artifacts/ to look at.
 */

const CHROMIUM = process.env.BUBBLEWATCH_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(PACKAGE_ROOT, 'test', 'report', 'artifacts');
const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface RenderedChart {
  id: string;
  declaredMarks: number;
  marks: number;
  visibleMarks: number;
  width: number;
  height: number;
}

const suite = existsSync(CHROMIUM) ? describe : describe.skip;
const name = existsSync(CHROMIUM)
  ? 'the report in headless Chromium'
  : `the report in headless Chromium [SKIPPED — no browser at ${CHROMIUM}; install it with: apt-get install -y chromium]`;

suite(name, () => {
  it('renders every chart, logs no console errors, makes no network requests, and leaves a screenshot', async () => {
    const db = await useDatabase('pglite');
    await loadBundledSample(db);
    mkdirSync(ARTIFACTS, { recursive: true });
    const htmlPath = join(ARTIFACTS, 'report.html');
    const pngPath = join(ARTIFACTS, 'report.png');
    rmSync(pngPath, { force: true });
    const { ctx } = reportContext(db.env);
    expect(await reportCommand(ctx, { out: htmlPath })).toBe(0);
    const pageUrl = pathToFileURL(htmlPath).href;

    const profile = mkdtempSync(join(tmpdir(), 'bubblewatch-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: LAUNCH_ARGS,
      viewport: { width: 1100, height: 900 },
      offline: true,
    });
    try {
      const requests: string[] = [];
      const problems: string[] = [];
      // Anything other than the page itself is recorded and refused.
      await context.route('**/*', (route) => (route.request().url() === pageUrl ? route.continue() : route.abort()));
      context.on('request', (request) => requests.push(request.url()));
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));

      const response = await page.goto(pageUrl, { waitUntil: 'load' });
      expect(response?.ok() ?? true).toBe(true);
      await page.waitForLoadState('networkidle');

      // Browser-side code as text: the project compiles without DOM types.
      const rendered = await page.evaluate<RenderedChart[]>(`
        [...document.querySelectorAll('svg.chart-svg')].map((svg) => {
          const box = svg.getBoundingClientRect();
          const marks = [...svg.querySelectorAll('.mark')];
          return {
            id: svg.dataset.chart ?? '',
            declaredMarks: Number(svg.dataset.marks),
            marks: marks.length,
            visibleMarks: marks.filter((m) => { const b = m.getBBox(); return b.width > 0 || b.height > 0; }).length,
            width: box.width,
            height: box.height,
          };
        })
      `);
      expect(rendered.map((c) => c.id)).toEqual([...CHART_IDS]);
      for (const chart of rendered) {
        expect(chart.marks, chart.id).toBe(chart.declaredMarks);
        expect(chart.marks, chart.id).toBeGreaterThan(0);
        expect(chart.visibleMarks, chart.id).toBe(chart.marks);
        expect(chart.width, chart.id).toBeGreaterThan(300);
        expect(chart.height, chart.id).toBeGreaterThan(150);
      }
      // Text the charts draw is laid out in a real font (not zero-width).
      const tickWidth = await page.evaluate<number>(`document.querySelector('svg.chart-svg .tick-y')?.getComputedTextLength() ?? 0`);
      expect(tickWidth).toBeGreaterThan(5);
      const resources = await page.evaluate<string[]>(`performance.getEntriesByType('resource').map((r) => r.name)`);
      expect(resources).toEqual([]);

      await page.screenshot({ path: pngPath, fullPage: true });
      expect(statSync(pngPath).size).toBeGreaterThan(100_000);
      expect(requests.filter((url) => url !== pageUrl)).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});

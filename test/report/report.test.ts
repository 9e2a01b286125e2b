import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { reportCommand } from '../../src/cli/commands/report.js';
import { collectStatus } from '../../src/cli/commands/status.js';
import { buildReport, chartInventory, renderReport, type WrittenReport } from '../../src/report/report.js';
import { loadReportData } from '../../src/report/data.js';
import { customSeries } from '../../pipelines/custom-series/pipeline.js';
import type { AnyPipeline } from '../../src/engine/pipeline.js';
import { describeEachDatabase, useDatabase } from '../helpers/databases.js';
import { inboxConfig, makeInbox, runOnce, writeFile } from '../helpers/pipelines.js';
import { count, markupProblems, tagsOf } from './markup.js';
import { CHART_IDS, loadBundledSample, reportContext, SECTION_CHARTS, sectionOf } from './sample.js';

/** `bubblewatch report` over the bundled sample, and over an empty database with hostile text in it. */

function expectSelfContained(report: string): void {
  // Nothing that loads: no scripts, external styles, images, frames, objects, imports or url() references.
  for (const element of ['<script', '<link', '<img', '<iframe', '<object', '<embed', '<video', '<audio', '<source', '<base']) {
    expect(report.toLowerCase(), element).not.toContain(element);
  }
  expect(report).not.toMatch(/@import|url\(/i);
  const tags = tagsOf(report);
  expect(tags.filter((t) => /\ssrc\s*=/i.test(t))).toEqual([]);
  expect(tags.filter((t) => /\shref\s*=\s*"(?!#)/i.test(t))).toEqual([]);
  expect(tags.filter((t) => /https?:|\/\/[a-z]/i.test(t))).toEqual([]);
  // http(s) appears, if at all, only in text: citations.
  const text = report.replace(/<[^>]*>/g, '');
  expect(count(report, /https?:\/\//g)).toBe(count(text, /https?:\/\//g));
}

describeEachDatabase('bubblewatch report', (kind) => {
  it('draws every chart of the argument from the bundled sample into one self-contained, well-formed page', async () => {
    const db = await useDatabase(kind);
    await loadBundledSample(db);
    const out = join(makeInbox(), 'reports', 'report.html');

    const { ctx, stdout } = reportContext(db.env);
    expect(await reportCommand(ctx, { out, json: true })).toBe(0);
    const written = JSON.parse(stdout()) as WrittenReport;
    expect(written.path).toBe(out);
    expect(readdirSync(dirname(out))).toEqual(['report.html']);
    const report = readFileSync(out, 'utf8');
    expect(written.bytes).toBe(Buffer.byteLength(report));

    // Every chart has data, in page order, and the inventory agrees with the marks drawn.
    expect(written.charts.map((c) => c.id)).toEqual([...CHART_IDS]);
    for (const chart of written.charts) {
      expect(chart.empty, chart.id).toBe(false);
      expect(chart.marks, chart.id).toBeGreaterThan(0);
    }
    expect(count(report, '<svg')).toBe(CHART_IDS.length);
    expect(count(report, 'class="mark ')).toBe(written.charts.reduce((sum, c) => sum + c.marks, 0));
    expect(report).not.toContain('No data yet');
    const marks = Object.fromEntries(written.charts.map((c) => [c.id, c.marks]));
    expect(marks['capex-quarterly']).toBeGreaterThanOrEqual(5 * 20); // five companies, 20+ calendar quarters
    expect(marks['top10-share']).toBeGreaterThanOrEqual(14); // seven snapshots, two series
    expect(marks['alert-timeline']).toBeGreaterThanOrEqual(20);
    const capePath = /data-chart="cape"[\s\S]*?<path class="mark line" d="([^"]*)"/.exec(report)?.[1] ?? '';
    expect(count(capePath, ' L')).toBeGreaterThan(1700); // monthly since 1881

    // Sections in the order of the argument, each with its charts and a source footer.
    const ids = [...report.matchAll(/<section id="([^"]+)">/g)].map((m) => m[1]);
    expect(ids).toEqual(Object.keys(SECTION_CHARTS));
    for (const [id, charts] of Object.entries(SECTION_CHARTS)) {
      const section = sectionOf(report, id);
      expect(count(section, '<svg'), id).toBe(charts);
      expect(count(section, 'class="source'), id).toBeGreaterThanOrEqual(Math.max(1, charts));
    }
    for (const cite of ['SEC filings', 'XBRL companyfacts', 'Shiller', 'FRED', 'NCBEILQ027S', 'S&amp;P 500 constituent snapshots', 'analyst CSV']) expect(report).toContain(cite);

    // The figures the argument turns on.
    expect(sectionOf(report, 'spend')).toMatch(/2024: \$239\.1bn; 2025: \$411\.5bn/);
    expect(sectionOf(report, 'funding')).toContain('>AMZN 107%</text>');
    expect(sectionOf(report, 'funding')).toContain('>ORCL 174%</text>');
    expect(sectionOf(report, 'funding')).toContain('100%: capex = operating cash flow');
    expect(sectionOf(report, 'backlog')).toContain('MSFT RPO');
    expect(sectionOf(report, 'concentration')).toContain('top 10: 41.8%');
    expect(sectionOf(report, 'valuation')).toContain('>Dec 1999 peak: 44.2</text>');
    expect(sectionOf(report, 'valuation')).toContain('>May 2026: 39.6</text>');
    expect(sectionOf(report, 'valuation')).toContain('alert cape_above_35: 35');
    expect(sectionOf(report, 'valuation')).toContain('alert buffett_indicator_above_200: 200%');
    expect(sectionOf(report, 'dashboard')).toContain('firing (warning): cape_above_35');
    expect(sectionOf(report, 'alerts')).toMatch(/Open alerts \(\d+\)/);
    expect(sectionOf(report, 'alerts')).toContain('capex_above_operating_cash_flow');
    for (const pipeline of ctx.registry) expect(sectionOf(report, 'freshness')).toContain(`<td>${pipeline.name}</td>`);

    expectSelfContained(report);
    expect(markupProblems(report)).toEqual([]);
    // Every <svg> on its own is well-formed XML too.
    for (const svg of report.match(/<svg[\s\S]*?<\/svg>/g) ?? []) expect(markupProblems(svg)).toEqual([]);
  });

  it('shows "No data yet" for every chart of an empty database, and escapes the text data holds', async () => {
    const db = await useDatabase(kind);
    const inbox = makeInbox();
    writeFile(
      inbox,
      'hostile.csv',
      'series,subject,date,value,unit,source\n' +
        'ai_&_co,"<script>alert(1)</script> & Co",2025-01-31,0.5,share,"<img src=https://evil.example/x.png onerror=alert(1)> & ""quoted"""\n',
    );
    const summary = await runOnce(db.handle, customSeries as unknown as AnyPipeline, inboxConfig(customSeries as unknown as AnyPipeline, inbox));
    expect(summary.status).toBe('succeeded');

    const { ctx } = reportContext(db.env);
    const report = await buildReport(db.handle, { status: await collectStatus(ctx, db.handle), generatedAt: new Date('2026-01-02T03:04:05Z') });
    const charts = chartInventory(report);
    expect(charts.map((c) => c.id)).toEqual([...CHART_IDS]);
    for (const chart of charts.filter((c) => c.id !== 'freshness')) {
      expect(chart, chart.id).toMatchObject({ empty: true, marks: 0 });
    }
    expect(count(report, '>No data yet</text>')).toBeGreaterThanOrEqual(CHART_IDS.length - 1);
    expect(report).toContain('Generated 2026-01-02 03:04 UTC');
    expect(report).toContain('No alert is firing.');

    expect(report).not.toContain('<script');
    expect(report).not.toContain('<img');
    expect(report).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co');
    expect(report).toContain('&lt;img src=https://evil.example/x.png onerror=alert(1)&gt; &amp; &quot;quoted&quot;');
    expect(report).toContain('ai_&amp;_co');
    expectSelfContained(report);
    expect(markupProblems(report)).toEqual([]);
  });

  it('renders from data loaded once without a database, and without freshness says so', async () => {
    const db = await useDatabase(kind);
    const data = await loadReportData(db.handle);
    const report = renderReport(data, { title: 'A <test> & title' });
    expect(report).toContain('<title>A &lt;test&gt; &amp; title</title>');
    expect(sectionOf(report, 'freshness')).toContain('Freshness was not collected for this report.');
    expect(markupProblems(report)).toEqual([]);
  });
});

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { PipelineStatus } from '../app/status.js';
import type { DatabaseHandle } from '../db/connect.js';
import { loadReportData, type ReportData } from './data.js';
import { timestamp } from './format.js';
import { html, trusted } from './html.js';
import {
  alertsSection,
  backlogSection,
  concentrationSection,
  customSection,
  dashboardSection,
  freshnessSection,
  fundingSection,
  spendSection,
  summarySection,
  valuationSection,
  type Section,
} from './sections.js';
import { REPORT_CSS } from './style.js';

/**
 * `bubblewatch report`: one self-contained HTML file that reads as the argument, section by
 * section, with inline SVG charts drawn here, inline CSS, and nothing loaded from anywhere.
 */

export interface ReportOptions {
  /** Per-pipeline freshness, the rows of `bubblewatch status` (src/app/status.ts); the section says so when absent. */
  readonly status?: readonly PipelineStatus[];
  /** When the report was made (default now). */
  readonly generatedAt?: Date;
  readonly title?: string;
}

/** One chart as rendered: its id, title and number of data marks (0 = the "No data yet" box). */
export interface ChartSummary {
  readonly id: string;
  readonly title: string;
  readonly marks: number;
  readonly empty: boolean;
}

export interface WrittenReport {
  readonly path: string;
  readonly bytes: number;
  readonly charts: readonly ChartSummary[];
}

const DEFAULT_TITLE = 'Is AI infrastructure a bubble? The figures';

export async function buildReport(handle: DatabaseHandle, options: ReportOptions = {}): Promise<string> {
  const data = await loadReportData(handle);
  return renderReport(data, { ...options, database: `${handle.kind === 'pglite' ? 'embedded database' : 'PostgreSQL'}` });
}

/** The page from data already loaded: pure, so it can be tested without a database. */
export function renderReport(data: ReportData, options: ReportOptions & { readonly database?: string } = {}): string {
  const generatedAt = options.generatedAt ?? new Date();
  const title = options.title ?? DEFAULT_TITLE;
  const sections: Section[] = [
    spendSection(data),
    fundingSection(data),
    backlogSection(data),
    concentrationSection(data),
    valuationSection(data),
    dashboardSection(data),
    alertsSection(data, generatedAt),
    freshnessSection(options.status),
    customSection(data),
  ];
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="bubblewatch report">
<title>${title}</title>
<style>${trusted(REPORT_CSS)}</style>
</head>
<body>
<header class="page">
<h1>${title}</h1>
<p class="subtitle">Hyperscaler capex, who funds it, contracted revenue, market concentration and valuation — the figures of the AI-infrastructure bubble debate, from the bubblewatch warehouse.</p>
<p class="meta">Generated ${timestamp(generatedAt)}${options.database ? ` from the ${options.database}` : ''}${data.lastRun ? `; latest successful run #${data.lastRun.run_id}${data.lastRun.finished_at ? ` finished ${timestamp(data.lastRun.finished_at)}` : ''}` : '; no successful run yet'}.</p>
<nav class="toc" aria-label="Sections">${sections.map((s) => html`<a href="#${s.id}">${s.title}</a>`)}</nav>
</header>
<main>
${summarySection(data)}
${sections.map((s) => html`<section id="${s.id}"><h2>${s.title}</h2>
${s.body}
</section>
`)}
</main>
<footer class="page">
<p>Made by <code>bubblewatch report</code> from the analytics views of the bubblewatch warehouse. Every figure traces back to its source file, line and run (see analytics.company_facts, analytics.cape, analytics.fred_series, analytics.custom_series). Amounts in US dollars; ratios as percentages.</p>
<p>This page is self-contained: charts are inline SVG drawn when the report was made, styles are inline, and it loads no scripts, fonts, images or data from anywhere.</p>
</footer>
</body>
</html>
`;
  return page.text;
}

/** The charts in a rendered report, from their `<svg data-chart data-marks>` attributes. */
export function chartInventory(reportHtml: string): ChartSummary[] {
  const charts: ChartSummary[] = [];
  const re = /<svg class="chart-svg chart-([a-z]+)"[^>]*?data-chart="([^"]*)" data-marks="(\d+)"[^>]*>\s*<title[^>]*>([^<]*)<\/title>/g;
  for (const m of reportHtml.matchAll(re)) {
    charts.push({ id: m[2]!, title: unescapeText(m[4]!), marks: Number(m[3]), empty: m[1] === 'empty' });
  }
  return charts;
}

function unescapeText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** Build the report and write it to `path` (through a temporary file, so a reader never sees half a page). */
export async function writeReport(handle: DatabaseHandle, path: string, options: ReportOptions = {}): Promise<WrittenReport> {
  const text = await buildReport(handle, options);
  const target = resolve(path);
  mkdirSync(dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  writeFileSync(temporary, text, 'utf8');
  renameSync(temporary, target);
  return { path: target, bytes: Buffer.byteLength(text, 'utf8'), charts: chartInventory(text) };
}

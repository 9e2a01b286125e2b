import type { PipelineStatus } from '../app/status.js';
import { html, type Markup } from './html.js';
import type { AlertEvent, AlertThreshold, CompanyQuarter, DashboardRow, GroupQuarter, ReportData } from './data.js';
import { changeInUnit, inUnit, MISSING, monthLabel, num, pct, pctChange, timestamp, usd } from './format.js';
import {
  ALERT_RED,
  axisFormat,
  barChart,
  dateValue,
  INK,
  lineChart,
  MUTED,
  PALETTE,
  timelineChart,
  type Annotation,
  type LineSeries,
  type ReferenceLine,
  type TimelineRow,
  type XMarker,
} from './svg-chart.js';

/**
 * The report's sections, in the order of the argument: spend vs revenue, who funds it,
 * contracted revenue, concentration, valuation, then the dashboard, alerts and freshness.
 * Each section turns ReportData into headings, prose with the latest figures, charts and
 * tables. Charts cite their sources in a footer.
 */


export interface Section {
  readonly id: string;
  readonly title: string;
  readonly body: Markup;
}

const DAY = 86_400_000;
const QUARTER_GAP = 120 * DAY;
const CHATGPT: XMarker = { x: dateValue('2022-11-30'), label: 'ChatGPT released (Nov 2022)' };
const SEVERITY_COLOR: Readonly<Record<string, string>> = { critical: ALERT_RED, warning: '#e8710a', info: '#1565c0' };

const SOURCES = {
  sec: 'SEC filings (10-K, 10-Q) via the XBRL companyfacts API (data.sec.gov) and SEC Financial Statement Data Sets; cash-flow quarters derived from year-to-date facts; analyst CSV figures where filed figures are missing (analytics.hyperscaler_quarterly, analytics.hyperscaler_totals_quarterly).',
  rpo: 'Remaining performance obligations: SEC filings (us-gaap:RevenueRemainingPerformanceObligation) and company earnings releases via analyst CSV; headline backlog figures from earnings releases and calls (analytics.hyperscaler_quarterly, analytics.company_facts).',
  index: 'S&P 500 constituent snapshots (market cap, sector, price/sales as published by datasets/s-and-p-500-companies-financials from Yahoo Finance), share classes of one issuer counted once (analytics.index_concentration).',
  shiller: 'Robert J. Shiller, monthly S&P Composite data (ie_data.xls, "Irrational Exuberance"); CAPE recomputed from his price, earnings and CPI (analytics.cape).',
  fred: 'FRED: NCBEILQ027S, nonfinancial corporate equities at market value (Federal Reserve Z.1), and GDP, nominal, SAAR (BEA) (analytics.buffett_indicator).',
  alerts: 'bubblewatch alert rules (config/bubblewatch.yaml) evaluated over analytics.indicator_values (analytics.alerts_open, analytics.alert_history).',
  freshness: 'bubblewatch run ledger (etl.runs) and each pipeline\'s freshness query and limit (bubblewatch status).',
};

// ------------------------------------------------------------------------------ shared helpers

function figure(id: string, title: string, chart: Markup, source: string, caption?: Markup): Markup {
  return html`<figure class="chart" id="fig-${id}">
<figcaption><h3>${title}</h3>${caption ? html`<p class="caption">${caption}</p>` : ''}</figcaption>
<div class="chart-box">${chart}</div>
<footer class="source"><span class="source-label">Source:</span> ${source}</footer>
</figure>`;
}

function table(headers: readonly string[], rows: readonly Markup[], options: { className?: string; empty?: string } = {}): Markup {
  if (rows.length === 0) return html`<p class="empty-table">${options.empty ?? 'No data yet.'}</p>`;
  return html`<div class="table-wrap"><table class="${options.className ?? 'data'}"><thead><tr>${headers.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

function latest<T>(rows: readonly T[], pick: (row: T) => unknown): T | undefined {
  for (let i = rows.length - 1; i >= 0; i--) {
    const v = pick(rows[i]!);
    if (v !== null && v !== undefined) return rows[i];
  }
  return undefined;
}

export function tickerColors(data: ReportData): Map<string, string> {
  const tickers = [...new Set(data.companyQuarters.map((r) => r.ticker))].sort();
  return new Map(tickers.map((t, i) => [t, PALETTE[i % PALETTE.length]!]));
}

function groupName(data: ReportData): string {
  const groups = [...new Set(data.groupQuarters.map((g) => g.group_name))];
  return groups.includes('big5') ? 'big5' : (groups[0] ?? 'big5');
}

function groupTitle(name: string): string {
  return name === 'big5' ? 'Big five' : name;
}

function byTicker(rows: readonly CompanyQuarter[]): Map<string, CompanyQuarter[]> {
  const map = new Map<string, CompanyQuarter[]>();
  for (const r of rows) map.set(r.ticker, [...(map.get(r.ticker) ?? []), r]);
  return map;
}

function thresholds(data: ReportData, indicator: string, subject?: string): AlertThreshold[] {
  const seen = new Set<string>();
  return data.alertThresholds.filter((t) => {
    if (t.indicator !== indicator || (subject !== undefined && t.subject !== subject)) return false;
    const key = `${t.rule_id}:${t.threshold}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function thresholdLines(data: ReportData, indicator: string, subject: string | undefined, label: (t: AlertThreshold) => string): ReferenceLine[] {
  return thresholds(data, indicator, subject).map((t) => ({ value: t.threshold, label: label(t), color: SEVERITY_COLOR[t.severity] ?? ALERT_RED }));
}

const percentAxis = axisFormat({ scale: 100, suffix: '%' });
const usdBnAxis = axisFormat({ prefix: '$', suffix: 'bn' });
const multipleAxis = axisFormat({ suffix: '×' });

// ------------------------------------------------------------------------------ 0. the argument in numbers

export function summarySection(data: ReportData): Markup {
  const group = groupName(data);
  const groupRows = data.groupQuarters.filter((g) => g.group_name === group);
  const capex = latest(groupRows, (g) => g.capex_ttm);
  const companies = byTicker(data.companyQuarters);
  const gaps = [...companies.entries()].flatMap(([ticker, rows]) => {
    const r = latest(rows, (x) => (x.capex_ttm_yoy !== null && x.revenue_ttm_yoy !== null ? 1 : null));
    return r ? [`${ticker} ${num((r.capex_ttm_yoy! - r.revenue_ttm_yoy!) * 100, 0)} pp`] : [];
  });
  const groupGap = latest(groupRows, (g) => g.capex_minus_revenue_growth_pp);
  const funding = [...companies.entries()].flatMap(([ticker, rows]) => {
    const r = latest(rows, (x) => x.self_funding_ratio);
    return r ? [{ ticker, ratio: r.self_funding_ratio! }] : [];
  });
  const over = funding.filter((f) => f.ratio > 1);
  const rpo = [...companies.entries()].flatMap(([ticker, rows]) => {
    const r = latest(rows, (x) => x.rpo);
    return r ? [`${ticker} ${usd(r.rpo)}`] : [];
  });
  const conc = latest(data.concentration, (c) => c.top10_share);
  const cape = latest(data.cape, (c) => c.cape);
  const peak = data.cape.find((c) => c.month === '1999-12-01');
  const buffett = latest(data.buffett, (b) => b.buffett_indicator_pct);
  const open = data.alertsOpen;
  const bySeverity = ['critical', 'warning', 'info'].map((s) => [s, open.filter((a) => a.severity === s).length] as const).filter(([, c]) => c > 0);

  const card = (href: string, label: string, value: string | null, detail: string): Markup =>
    html`<a class="card${value === null ? ' card-empty' : ''}" href="#${href}"><span class="card-label">${label}</span><span class="card-value">${value ?? 'No data yet'}</span><span class="card-detail">${detail}</span></a>`;

  return html`<section class="summary" id="summary"><h2>The argument in numbers</h2><div class="cards">
${card('spend', `${groupTitle(group)} capex, trailing 12 months`, capex ? usd(capex.capex_ttm) : null, capex ? `to ${capex.calendar_label}; ${pctChange(capex.capex_ttm_yoy, 0)} on a year earlier` : 'needs every company\'s capex for four quarters')}
${card('spend', 'Capex growth minus revenue growth', groupGap ? `${num(groupGap.capex_minus_revenue_growth_pp, 0)} pp` : gaps.length > 0 ? gaps.join(', ') : null, groupGap ? `${groupTitle(group)}, TTM, ${groupGap.calendar_label}` : 'TTM, latest quarter, companies with revenue filed')}
${card('funding', 'Capex above operating cash flow', funding.length === 0 ? null : over.length > 0 ? over.map((f) => `${f.ticker} ${pct(f.ratio, 0)}`).join(', ') : 'none', funding.length === 0 ? 'TTM capex / TTM operating cash flow' : `of ${funding.length} companies; the rest self-fund (TTM capex / TTM operating cash flow)`)}
${card('backlog', 'Contracted revenue (RPO)', rpo.length > 0 ? rpo.join(', ') : null, 'latest remaining performance obligations')}
${card('concentration', 'Top 10 of the S&P 500', conc ? pct(conc.top10_share) : null, conc ? `of index market cap on ${conc.as_of}; effective N ${num(conc.effective_n, 0)}` : 'index constituent snapshots')}
${card('valuation', 'Shiller CAPE', cape ? num(cape.cape) : null, cape ? `${monthLabel(cape.month)}${peak?.cape ? `; December 1999 peak ${num(peak.cape)}` : ''}` : 'Shiller monthly data')}
${card('valuation', 'Buffett indicator', buffett ? `${num(buffett.buffett_indicator_pct, 0)}% of GDP` : null, buffett ? `US corporate equities / GDP, ${buffett.quarter}` : 'FRED NCBEILQ027S and GDP')}
${card('alerts', 'Alerts firing', String(open.length), bySeverity.length > 0 ? bySeverity.map(([s, c]) => `${c} ${s}`).join(', ') : 'none firing')}
</div></section>`;
}

// ------------------------------------------------------------------------------ 1. spend vs revenue

export function spendSection(data: ReportData): Section {
  const group = groupName(data);
  const colors = tickerColors(data);
  const groupRows = data.groupQuarters.filter((g) => g.group_name === group && g.capex_reported !== null);
  const firstComplete = groupRows.findIndex((g) => g.companies_reporting >= g.companies_expected);
  const shown = firstComplete >= 0 ? groupRows.slice(firstComplete) : groupRows;
  const categories = shown.map((g) => g.calendar_label);
  const members = [...colors.keys()];
  const capexByQuarter = new Map<string, number>();
  for (const r of data.companyQuarters) {
    if (r.capex === null) continue;
    const key = `${r.ticker}|${r.calendar_label}`;
    capexByQuarter.set(key, (capexByQuarter.get(key) ?? 0) + r.capex);
  }
  const series = members.map((ticker) => ({
    name: ticker,
    color: colors.get(ticker)!,
    values: categories.map((c) => {
      const v = capexByQuarter.get(`${ticker}|${c}`);
      return v === undefined ? null : v / 1e9;
    }),
  }));
  const notes = shown.map((g) => (g.companies_reporting < g.companies_expected ? `${g.companies_reporting}/${g.companies_expected} reported` : null));

  const years = new Map<number, { sum: number; quarters: number; complete: boolean }>();
  for (const g of groupRows) {
    const y = years.get(g.calendar_year) ?? { sum: 0, quarters: 0, complete: true };
    years.set(g.calendar_year, { sum: y.sum + (g.capex ?? 0), quarters: y.quarters + 1, complete: y.complete && g.capex !== null });
  }
  const yearTotals = [...years.entries()].filter(([, y]) => y.complete && y.quarters === 4).map(([year, y]) => `${year}: ${usd(y.sum)}`);
  const lastTtm = latest(groupRows, (g) => g.capex_ttm);

  const capexChart = barChart({
    id: 'capex-quarterly',
    title: `${groupTitle(group)} capital expenditure by calendar quarter, USD billions`,
    categories,
    xLabel: 'Calendar quarter (a fiscal quarter counts in the calendar quarter holding its midpoint)',
    y: { label: 'Capex per quarter, USD billions', format: usdBnAxis, includeZero: true },
    series,
    stacked: true,
    categoryNotes: notes.some((x) => x !== null) ? notes : undefined,
    labelLastTotals: 4,
    valueFormat: (v) => `$${v.toFixed(1)}bn`,
    xMarkers: [{ x: '2022-Q4', label: CHATGPT.label }],
    emptyHint: 'Load SEC companyfacts (pipeline sec-companyfacts) or analyst company metrics.',
  });

  // Growth: the group's TTM capex and revenue growth, and each company that files both.
  const growthSeries: LineSeries[] = [];
  const allGroup = data.groupQuarters.filter((g) => g.group_name === group);
  growthSeries.push({
    name: `${groupTitle(group)} capex, TTM YoY`,
    color: INK,
    width: 3,
    markers: true,
    maxGap: QUARTER_GAP,
    points: allGroup.map((g) => ({ x: dateValue(g.period_end), y: g.capex_ttm_yoy })),
  });
  growthSeries.push({
    name: `${groupTitle(group)} revenue, TTM YoY`,
    color: INK,
    width: 3,
    dash: '7 4',
    markers: true,
    maxGap: QUARTER_GAP,
    points: allGroup.map((g) => ({ x: dateValue(g.period_end), y: g.revenue_ttm_yoy })),
  });
  const companies = byTicker(data.companyQuarters);
  const withRevenue: string[] = [];
  const withoutRevenue: string[] = [];
  for (const [ticker, rows] of companies) {
    if (!rows.some((r) => r.revenue_ttm_yoy !== null)) {
      withoutRevenue.push(ticker);
      continue;
    }
    withRevenue.push(ticker);
    const color = colors.get(ticker)!;
    growthSeries.push({ name: `${ticker} capex`, color, width: 1.6, markers: true, maxGap: QUARTER_GAP, points: rows.map((r) => ({ x: dateValue(r.period_end), y: r.capex_ttm_yoy })) });
    growthSeries.push({ name: `${ticker} revenue`, color, width: 1.6, dash: '5 3', markers: true, maxGap: QUARTER_GAP, points: rows.map((r) => ({ x: dateValue(r.period_end), y: r.revenue_ttm_yoy })) });
  }
  const gapLines = withRevenue.flatMap((t) => {
    const r = latest(companies.get(t)!, (x) => (x.capex_ttm_yoy !== null && x.revenue_ttm_yoy !== null ? 1 : null));
    return r ? [`${t} capex ${pctChange(r.capex_ttm_yoy, 0)} vs revenue ${pctChange(r.revenue_ttm_yoy, 0)} (${r.calendar_label})`] : [];
  });
  const growthChart = lineChart({
    id: 'capex-vs-revenue-growth',
    title: 'Capex growth against revenue growth, trailing twelve months, year on year',
    x: { kind: 'time', label: 'Quarter end' },
    y: { label: 'Growth on a year earlier, TTM, %', format: percentAxis, includeZero: true },
    series: growthSeries,
    xMarkers: [CHATGPT],
    valueFormat: (v) => pctChange(v),
    emptyHint: 'TTM growth needs eight quarters of capex and revenue per company.',
  });

  const body = html`<p class="lede">The commentary's first charge: the five hyperscalers' capex budgets rose from $314bn to $517bn in ten months, and their capital spending is growing far faster than their revenue.</p>
<p>${lastTtm ? html`Over the four quarters to <strong>${lastTtm.calendar_label}</strong> the ${groupTitle(group).toLowerCase()} spent <strong>${usd(lastTtm.capex_ttm)}</strong> on capex, <strong>${pctChange(lastTtm.capex_ttm_yoy, 0)}</strong> on a year earlier.` : 'No complete trailing-twelve-month capex yet.'}
${yearTotals.length > 0 ? html` Calendar-year totals: ${yearTotals.join('; ')}.` : ''}</p>
${figure('capex-quarterly', `${groupTitle(group)} capex by calendar quarter`, capexChart, SOURCES.sec, html`Cash capital expenditure (purchases of property and equipment; Amazon: productive assets), stacked by company. Quarters in which not every company has reported are marked.`)}
${figure('capex-vs-revenue-growth', 'Capex growth against revenue growth (TTM, YoY)', growthChart, SOURCES.sec, html`Solid lines: capex; dashed: revenue. ${gapLines.length > 0 ? `Latest: ${gapLines.join('; ')}.` : ''} ${withoutRevenue.length > 0 ? `No revenue growth yet for ${withoutRevenue.join(', ')} (needs eight quarters of filed revenue); the group line needs every member.` : ''}`)}`;
  return { id: 'spend', title: '1. Spend vs revenue: capex is outrunning sales', body };
}

// ------------------------------------------------------------------------------ 2. who funds it

export function fundingSection(data: ReportData): Section {
  const colors = tickerColors(data);
  const group = groupName(data);
  const companies = byTicker(data.companyQuarters);
  const series: LineSeries[] = [...companies.entries()].map(([ticker, rows]) => ({
    name: ticker,
    color: colors.get(ticker)!,
    width: 2,
    markers: true,
    maxGap: QUARTER_GAP,
    points: rows.map((r) => ({ x: dateValue(r.period_end), y: r.self_funding_ratio, title: `${ticker} ${r.fiscal_label} (${r.calendar_label}): ${pct(r.self_funding_ratio)}` })),
  }));
  const groupRows = data.groupQuarters.filter((g) => g.group_name === group);
  series.push({
    name: `${groupTitle(group)} combined`,
    color: INK,
    width: 3,
    dash: '2 3',
    markers: true,
    maxGap: QUARTER_GAP,
    points: groupRows.map((g) => ({ x: dateValue(g.period_end), y: g.self_funding_ratio })),
  });
  const refs: ReferenceLine[] = [{ value: 1, label: '100%: capex = operating cash flow; above it, outside money', color: ALERT_RED }];
  const annotations: Annotation[] = [];
  for (const [ticker, rows] of companies) {
    const r = latest(rows, (x) => x.self_funding_ratio);
    if (r && r.self_funding_ratio! > 1) annotations.push({ x: dateValue(r.period_end), y: r.self_funding_ratio!, label: `${ticker} ${pct(r.self_funding_ratio, 0)}`, color: colors.get(ticker), placement: 'left' });
  }
  const chart = lineChart({
    id: 'self-funding',
    title: 'TTM capex / TTM operating cash flow per company',
    x: { kind: 'time', label: 'Quarter end (fiscal quarters)' },
    y: { label: 'TTM capex / TTM operating cash flow, %', format: percentAxis, includeZero: true },
    series,
    referenceLines: refs,
    annotations,
    xMarkers: [CHATGPT],
    valueFormat: (v) => pct(v),
    emptyHint: 'Needs four quarters of capex and operating cash flow (SEC companyfacts or the analyst TTM cash-flow CSV).',
  });
  const rows = [...companies.entries()].flatMap(([ticker, rs]) => {
    const r = latest(rs, (x) => x.self_funding_ratio);
    if (!r) return [];
    return [
      html`<tr class="${r.self_funding_ratio! > 1 ? 'breach' : ''}"><td>${ticker}</td><td>${r.company}</td><td class="date">${r.fiscal_label}</td><td class="num">${usd(r.capex_ttm)}</td><td class="num">${usd(r.operating_cash_flow_ttm)}</td><td class="num">${pct(r.self_funding_ratio)}</td><td class="num">${usd(r.free_cash_flow_ttm)}</td><td class="num">${usd(r.debt_proceeds_ttm)}</td></tr>`,
    ];
  });
  const body = html`<p class="lede">The commentary's key question is whether the buildout is paid for out of operating cash flow or with borrowed money (it cites Oracle's $18bn bond sale and Meta's notes of up to $30bn). Above 100%, a company's trailing capex exceeds its trailing operating cash flow and the difference comes from outside.</p>
${figure('self-funding', 'Who funds it: TTM capex as a share of TTM operating cash flow', chart, SOURCES.sec, html`One line per company, and the big-five total where every member reported. Labels mark companies above 100% in their latest quarter.`)}
${table(['ticker', 'company', 'latest quarter', 'TTM capex', 'TTM operating cash flow', 'capex / cash flow', 'TTM free cash flow', 'TTM debt proceeds'], rows, { empty: 'No self-funding ratios yet.' })}`;
  return { id: 'funding', title: '2. Who funds it: capex against operating cash flow', body };
}

// ------------------------------------------------------------------------------ 3. contracted revenue

const BACKLOG_NAMES: Readonly<Record<string, string>> = {
  commercial_rpo: 'commercial RPO (headline)',
  aws_backlog: 'AWS backlog (headline)',
  cloud_backlog: 'Google Cloud backlog (headline)',
};

export function backlogSection(data: ReportData): Section {
  const colors = tickerColors(data);
  const companies = byTicker(data.companyQuarters);
  const series: LineSeries[] = [];
  for (const [ticker, rows] of companies) {
    const points = rows.filter((r) => r.rpo !== null).map((r) => ({ x: dateValue(r.period_end), y: r.rpo! / 1e9, title: `${ticker} RPO ${r.period_end}: ${usd(r.rpo)}` }));
    if (points.length > 0) series.push({ name: `${ticker} RPO`, color: colors.get(ticker)!, width: 2.5, markers: true, maxGap: QUARTER_GAP, points });
  }
  const backlogKeys = [...new Set(data.backlog.map((b) => `${b.ticker}|${b.metric}`))];
  for (const key of backlogKeys) {
    const [ticker, metric] = key.split('|') as [string, string];
    const facts = data.backlog.filter((b) => b.ticker === ticker && b.metric === metric);
    series.push({
      name: `${ticker} ${BACKLOG_NAMES[metric] ?? metric}`,
      color: colors.get(ticker) ?? MUTED,
      width: 1.6,
      dash: '5 3',
      markers: true,
      maxGap: QUARTER_GAP,
      points: facts.map((f) => ({ x: dateValue(f.period_end), y: f.value / 1e9, title: `${ticker} ${BACKLOG_NAMES[metric] ?? metric} ${f.period_end}: ${usd(f.value)}` })),
    });
  }
  const chart = lineChart({
    id: 'rpo',
    title: 'Remaining performance obligations per company, USD billions',
    x: { kind: 'time', label: 'Balance-sheet date' },
    y: { label: 'Contracted revenue not yet recognised, USD billions', format: usdBnAxis, includeZero: true },
    series,
    valueFormat: (v) => `$${v.toFixed(1)}bn`,
    emptyHint: 'Load RPO from SEC filings or the analyst company-metrics CSV (rpo, commercial_rpo, aws_backlog, cloud_backlog).',
  });
  const rows = [...companies.entries()].flatMap(([ticker, rs]) => {
    const r = latest(rs, (x) => x.rpo);
    if (!r) return [];
    return [
      html`<tr><td>${ticker}</td><td class="date">${r.period_end}</td><td class="num">${usd(r.rpo)}</td><td class="num">${pctChange(r.rpo_yoy, 0)}</td><td class="num">${r.rpo_coverage_years === null ? MISSING : `${num(r.rpo_coverage_years, 2)} years`}</td><td class="num">${r.rpo_to_capex_ttm === null ? MISSING : `${num(r.rpo_to_capex_ttm, 1)}×`}</td></tr>`,
    ];
  });
  const body = html`<p class="lede">The bulls' answer: the spending is backed by signed contracts. The commentary cites Microsoft's commercial RPO near $400bn, Amazon's backlog near $200bn and Google Cloud's $155bn, most of it to be recognised within about two years.</p>
${figure('rpo', 'Contracted revenue: remaining performance obligations', chart, SOURCES.rpo, html`Solid: total RPO as filed; dashed: headline backlog figures from earnings releases. Points are balance-sheet dates; gaps are periods without a figure.`)}
${table(['ticker', 'as of', 'RPO', 'YoY', 'RPO / TTM revenue', 'RPO / TTM capex'], rows, { empty: 'No RPO figures yet.' })}`;
  return { id: 'backlog', title: '3. Contracted revenue: the backlog behind the spending', body };
}

// ------------------------------------------------------------------------------ 4. concentration

export function concentrationSection(data: ReportData): Section {
  const index = data.concentration.some((c) => c.index_code === 'SP500') ? 'SP500' : (data.concentration[0]?.index_code ?? 'SP500');
  const snaps = data.concentration.filter((c) => c.index_code === index);
  const last = latest(snaps, (c) => c.top10_share);
  const annotate = (y: number | null | undefined, label: string): Annotation[] => (last && y !== null && y !== undefined ? [{ x: dateValue(last.as_of), y, label, placement: 'left' }] : []);
  const shareChart = lineChart({
    id: 'top10-share',
    title: 'Top-10 share and tech-sector share of the S&P 500',
    x: { kind: 'time', label: 'Snapshot date' },
    y: { label: 'Share of index market cap, %', format: percentAxis, includeZero: true },
    series: [
      { name: 'Top 10 issuers', color: PALETTE[0], width: 2.5, markers: true, points: snaps.map((c) => ({ x: dateValue(c.as_of), y: c.top10_share, title: `${c.as_of}: top 10 = ${pct(c.top10_share)} (${c.top10_tech_issuers ?? '?'} of them tech)` })) },
      { name: 'Tech sectors (IT + communication services)', color: PALETTE[3], width: 2, dash: '6 3', markers: true, points: snaps.map((c) => ({ x: dateValue(c.as_of), y: c.tech_sector_share })) },
    ],
    referenceLines: thresholdLines(data, 'top10_share', index, (t) => `alert ${t.rule_id}: ${pct(t.threshold, 0)}`),
    annotations: annotate(last?.top10_share, `top 10: ${pct(last?.top10_share)}`),
    xMarkers: [CHATGPT],
    valueFormat: (v) => pct(v),
    emptyHint: 'Load index constituent snapshots (pipeline index-constituents).',
  });
  const lastN = latest(snaps, (c) => c.effective_n);
  const effectiveChart = lineChart({
    id: 'effective-n',
    title: 'Effective number of constituents (1 / HHI)',
    width: 470,
    height: 320,
    x: { kind: 'time', label: 'Snapshot date' },
    y: { label: 'Effective N, issuers', includeZero: true },
    series: [{ name: 'Effective N', color: PALETTE[2], width: 2.5, markers: true, points: snaps.map((c) => ({ x: dateValue(c.as_of), y: c.effective_n })) }],
    annotations: lastN ? [{ x: dateValue(lastN.as_of), y: lastN.effective_n!, label: num(lastN.effective_n, 0), placement: 'above' }] : [],
    valueFormat: (v) => num(v, 1),
    emptyHint: 'Load index constituent snapshots.',
  });
  const lastPs = latest(snaps, (c) => c.price_to_sales);
  const psChart = lineChart({
    id: 'price-to-sales',
    title: 'S&P 500 price-to-sales',
    width: 470,
    height: 320,
    x: { kind: 'time', label: 'Snapshot date' },
    y: { label: 'Index cap / TTM revenue, ×', format: multipleAxis, includeZero: true },
    series: [{ name: 'Price-to-sales', color: PALETTE[4], width: 2.5, markers: true, points: snaps.map((c) => ({ x: dateValue(c.as_of), y: c.price_to_sales, title: `${c.as_of}: ${num(c.price_to_sales, 2)}× (covers ${pct(c.price_to_sales_cap_coverage, 0)} of the cap)` })) }],
    referenceLines: thresholdLines(data, 'price_to_sales', index, (t) => `alert ${t.rule_id}: ${num(t.threshold, 1)}×`),
    annotations: lastPs ? [{ x: dateValue(lastPs.as_of), y: lastPs.price_to_sales!, label: `${num(lastPs.price_to_sales, 2)}×`, placement: 'above' }] : [],
    valueFormat: (v) => `${num(v, 2)}×`,
    emptyHint: 'Needs snapshots with a price/sales or revenue column.',
  });
  const body = html`<p class="lede">The bears' first exhibit: concentration. The commentary says the top 10 of the S&amp;P 500 are 36% of US market value, eight of them tech, and delivered 60% of the index's gain since April.</p>
<p>${last ? html`On <strong>${last.as_of}</strong> the ten largest issuers held <strong>${pct(last.top10_share)}</strong> of the index's market cap (${last.top10_tech_issuers ?? MISSING} of them in the tech sectors); the effective number of constituents was <strong>${num(last.effective_n, 0)}</strong> of ${last.issuers} issuers.${last.top10_contribution_to_change !== null ? html` The top 10 contributed ${pct(last.top10_contribution_to_change, 0)} of the change in index cap since the previous snapshot.` : ''}` : 'No index snapshots yet.'}</p>
${figure('top10-share', 'Top-10 share of the S&P 500', shareChart, SOURCES.index, html`Snapshots on the dates shown; lines join them. Share classes of one company (GOOGL and GOOG) count as one issuer.`)}
<div class="two-col">
${figure('effective-n', 'Effective N', effectiveChart, SOURCES.index, html`1 / Herfindahl index of issuer weights: how many equal-weighted issuers would give the same concentration.`)}
${figure('price-to-sales', 'Index price-to-sales', psChart, SOURCES.index, html`Summed cap / summed trailing-twelve-month revenue of the issuers with both. The commentary: above its 1999 level.`)}
</div>`;
  return { id: 'concentration', title: '4. Concentration: a market leaning on ten stocks', body };
}

// ------------------------------------------------------------------------------ 5. valuation

export function valuationSection(data: ReportData): Section {
  const months = data.cape.filter((c) => c.cape !== null);
  const last = months[months.length - 1];
  const peak = data.cape.find((c) => c.month === '1999-12-01' && c.cape !== null);
  const early = months.filter((c) => c.month < '1940-01-01').reduce<(typeof months)[number] | undefined>((best, c) => (best && best.cape! >= c.cape! ? best : c), undefined);
  const annotations: Annotation[] = [];
  if (peak) annotations.push({ x: dateValue(peak.month), y: peak.cape!, label: `Dec 1999 peak: ${num(peak.cape)}`, color: ALERT_RED, placement: 'above' });
  if (early) annotations.push({ x: dateValue(early.month), y: early.cape!, label: `${monthLabel(early.month)}: ${num(early.cape)}`, placement: 'above' });
  if (last) annotations.push({ x: dateValue(last.month), y: last.cape!, label: `${monthLabel(last.month)}: ${num(last.cape)}`, color: PALETTE[0], placement: 'left' });
  const refs: ReferenceLine[] = thresholdLines(data, 'cape', 'SP500', (t) => `alert ${t.rule_id}: ${num(t.threshold, 0)}`);
  if (last?.cape_mean_to_date) refs.push({ value: last.cape_mean_to_date, label: `long-run mean since 1881: ${num(last.cape_mean_to_date)}`, color: MUTED });
  const maxDiff = months.reduce((m, c) => (c.cape_shiller ? Math.max(m, Math.abs(c.cape! / c.cape_shiller - 1)) : m), 0);
  const hasShiller = months.some((c) => c.cape_shiller !== null);
  const capeChart = lineChart({
    id: 'cape',
    title: 'Shiller CAPE of the S&P Composite, monthly since 1881',
    height: 400,
    x: { kind: 'time', label: 'Month' },
    y: { label: 'CAPE: real price / 10-year mean real earnings, ×', format: multipleAxis, includeZero: true },
    series: [
      ...(hasShiller ? [{ name: "Shiller's published CAPE", color: '#f2b36b', width: 4.5, points: months.map((c) => ({ x: dateValue(c.month), y: c.cape_shiller })) }] : []),
      { name: 'CAPE computed by bubblewatch', color: PALETTE[0], width: 1.3, points: months.map((c) => ({ x: dateValue(c.month), y: c.cape })) },
    ],
    referenceLines: refs,
    annotations,
    valueFormat: (v) => num(v),
    emptyHint: 'Load Shiller monthly data (pipeline shiller).',
  });
  const quarters = data.buffett.filter((b) => b.buffett_indicator_pct !== null);
  const lastB = quarters[quarters.length - 1];
  const maxB = quarters.reduce<(typeof quarters)[number] | undefined>((best, b) => (best && best.buffett_indicator_pct! >= b.buffett_indicator_pct! ? best : b), undefined);
  const bRefs: ReferenceLine[] = thresholdLines(data, 'buffett_indicator_pct', 'US', (t) => `alert ${t.rule_id}: ${num(t.threshold, 0)}%`);
  if (lastB?.mean_pct_to_date) bRefs.push({ value: lastB.mean_pct_to_date, label: `long-run mean: ${num(lastB.mean_pct_to_date, 0)}%`, color: MUTED });
  const bAnnotations: Annotation[] = [];
  if (maxB && maxB !== lastB) bAnnotations.push({ x: dateValue(maxB.period_end), y: maxB.buffett_indicator_pct!, label: `${maxB.quarter}: ${num(maxB.buffett_indicator_pct, 0)}%`, placement: 'above' });
  if (lastB) bAnnotations.push({ x: dateValue(lastB.period_end), y: lastB.buffett_indicator_pct!, label: `${lastB.quarter}: ${num(lastB.buffett_indicator_pct, 0)}%`, placement: 'below', color: PALETTE[4] });
  const buffettChart = lineChart({
    id: 'buffett',
    title: 'Buffett indicator: US corporate equities at market value / GDP',
    x: { kind: 'time', label: 'Quarter end' },
    y: { label: 'Equities market value, % of GDP', format: axisFormat({ suffix: '%' }), includeZero: true },
    series: [{ name: 'Corporate equities / GDP', color: PALETTE[4], width: 2.5, markers: true, maxGap: QUARTER_GAP, points: quarters.map((b) => ({ x: dateValue(b.period_end), y: b.buffett_indicator_pct, title: `${b.quarter}: ${num(b.buffett_indicator_pct, 1)}% (equities ${usd((b.equities_usd_bn ?? 0) * 1e9)}, GDP ${usd((b.gdp_usd_bn_saar ?? 0) * 1e9)} SAAR)` })) }],
    referenceLines: bRefs,
    annotations: bAnnotations,
    valueFormat: (v) => `${num(v, 1)}%`,
    emptyHint: 'Load FRED NCBEILQ027S and GDP (pipeline fred).',
  });
  const body = html`<p class="lede">Valuation: the commentary puts the S&amp;P 500's CAPE near 40 against 44 at the 2000 peak, its price-to-sales above the 1999 level, and the Buffett indicator at a record 225% against a long-run mean near 85%.</p>
<p>${last ? html`CAPE was <strong>${num(last.cape)}</strong> in ${monthLabel(last.month)}${peak ? html`, ${num(peak.cape! - last.cape!)} points below the December 1999 peak of ${num(peak.cape)}` : ''}; higher than ${pct(last.cape_percentile, 1)} of all months since 1881${last.cape_zscore !== null ? html` (z-score ${num(last.cape_zscore, 2)})` : ''}.` : 'No CAPE yet.'}
${lastB ? html` US corporate equities were <strong>${num(lastB.buffett_indicator_pct, 0)}%</strong> of GDP in ${lastB.quarter}.` : ''}</p>
${figure('cape', 'CAPE since 1881, with the December 1999 peak', capeChart, SOURCES.shiller, hasShiller ? html`Computed here from Shiller's price, earnings and CPI; his published CAPE is drawn underneath (largest difference: ${maxDiff < 0.00001 ? 'under 0.001%' : pct(maxDiff, 3)}). Dashed lines: alert thresholds and the long-run mean.` : html`Computed here from Shiller's price, earnings and CPI.`)}
${figure('buffett', 'Buffett indicator', buffettChart, SOURCES.fred, html`Quarters with both series; gaps are quarters the loaded data lacks. Mean and z-score need 40 quarters of history${lastB && lastB.zscore === null ? ' (not yet reached)' : ''}.`)}`;
  return { id: 'valuation', title: '5. Valuation: CAPE, price-to-sales and the Buffett indicator', body };
}

// ------------------------------------------------------------------------------ 6. dashboard

function alertBadge(state: string | null): Markup {
  if (state === null) return html`<span class="muted">–</span>`;
  const cls = state.startsWith('firing (critical')
    ? 'badge critical'
    : state.startsWith('firing (warning')
      ? 'badge warning'
      : state.startsWith('firing')
        ? 'badge info'
        : state.startsWith('pending')
          ? 'badge pending'
          : 'badge ok';
  return html`<span class="${cls}">${state}</span>`;
}

export function dashboardSection(data: ReportData): Section {
  // Families in the order of the argument; any other family after them.
  const order = ['hyperscaler_group', 'hyperscaler', 'index_concentration', 'valuation', 'custom'];
  const rank = (f: string) => (order.includes(f) ? order.indexOf(f) : order.length);
  const families = [...new Set(data.dashboard.map((r) => r.family))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const rowFor = (r: DashboardRow): Markup => {
    const p = r.percentile;
    return html`<tr><td>${r.indicator}</td><td>${r.subject}</td><td class="date">${r.latest_period}</td><td class="num">${inUnit(r.latest_value, r.unit)}</td><td class="num">${changeInUnit(r.change, r.unit)}</td><td class="num pctile">${p === null ? MISSING : html`<span class="pbar"><span style="width:${Math.round(p * 100)}%"></span></span> ${Math.round(p * 100)}`}</td><td class="num">${r.z_score === null ? MISSING : num(r.z_score, 1)}</td><td class="num">${r.history_points}</td><td class="alert">${alertBadge(r.alert_state)}</td></tr>`;
  };
  const rows = families.flatMap((f) => [html`<tr class="family"><th colspan="9">${f}</th></tr>`, ...data.dashboard.filter((r) => r.family === f).map(rowFor)]);
  const body = html`<p class="lede">Every indicator against its own history: the latest value, its change since the previous period, where it ranks in its history and how many standard deviations it sits from its mean, and the state of any alert rule watching it.</p>
${table(['indicator', 'subject', 'latest', 'value', 'change', 'percentile', 'z-score', 'n', 'alert'], rows, { className: 'data dashboard', empty: 'The dashboard is empty; load data first (bubblewatch run --all).' })}
<p class="source"><span class="source-label">Source:</span> analytics.bubble_dashboard. Percentile: share of the indicator's own history at or below the latest value; statistics need at least 8 observations.</p>`;
  return { id: 'dashboard', title: '6. Dashboard: every indicator against its history', body };
}

// ------------------------------------------------------------------------------ 7. alerts

export function alertTimelineRows(events: readonly AlertEvent[], open: ReportData['alertsOpen'], until: number): TimelineRow[] {
  const keys = [...new Set([...events.map((e) => `${e.rule_id}|${e.subject}`), ...open.map((a) => `${a.rule_id}|${a.subject}`)])];
  return keys.map((key) => {
    const [rule, subject] = key.split('|') as [string, string];
    const evs = events.filter((e) => e.rule_id === rule && e.subject === subject);
    const spans: TimelineRow['spans'][number][] = [];
    let firedAt: AlertEvent | undefined;
    for (const e of evs) {
      if (e.transition === 'fired') firedAt = e;
      else if (e.transition === 'resolved' && firedAt) {
        spans.push({ from: dateValue(firedAt.period_end), to: dateValue(e.period_end), color: SEVERITY_COLOR[e.severity] ?? ALERT_RED, title: `${rule} ${subject}: firing ${firedAt.period_end} – ${e.period_end}` });
        firedAt = undefined;
      }
    }
    const openAlert = open.find((a) => a.rule_id === rule && a.subject === subject);
    if (openAlert) {
      const from = firedAt?.period_end ?? openAlert.since_period ?? openAlert.last_period;
      const to = openAlert.last_period ? Math.max(dateValue(openAlert.last_period), until) : until;
      if (from) spans.push({ from: dateValue(from), to, color: SEVERITY_COLOR[openAlert.severity] ?? ALERT_RED, open: true, title: `${rule} ${subject}: firing since ${from} (open)` });
    }
    return {
      label: `${rule} · ${subject}`,
      spans,
      events: evs.map((e) => ({
        x: dateValue(e.period_end),
        kind: e.transition,
        color: e.transition === 'pending' || e.transition === 'cleared' ? MUTED : (SEVERITY_COLOR[e.severity] ?? ALERT_RED),
        title: `${e.period_end} ${e.transition}${e.is_backfill ? ' (backfill)' : ''}: ${e.message}`,
      })),
    };
  });
}

/** Formats an alert's value in its indicator's unit (from the dashboard), else as a plain number. */
function alertValueFormat(data: ReportData): (rule: string, subject: string, value: number | null) => string {
  const units = new Map<string, string>();
  for (const r of data.dashboard) {
    units.set(`${r.indicator}|${r.subject}`, r.unit);
    if (!units.has(`${r.indicator}|*`)) units.set(`${r.indicator}|*`, r.unit);
  }
  return (rule, subject, value) => {
    const indicator = data.alertThresholds.find((t) => t.rule_id === rule && t.subject === subject)?.indicator;
    const unit = indicator ? (units.get(`${indicator}|${subject}`) ?? units.get(`${indicator}|*`)) : undefined;
    return unit ? inUnit(value, unit) : num(value, 3);
  };
}

export function alertsSection(data: ReportData, generatedAt: Date): Section {
  const fmt = alertValueFormat(data);
  const openRows = data.alertsOpen.map(
    (a) =>
      html`<tr><td><span class="badge ${a.severity === 'critical' ? 'critical' : a.severity === 'warning' ? 'warning' : 'info'}">${a.severity}</span></td><td class="id">${a.rule_id}</td><td>${a.subject}</td><td class="date">${a.since_period ?? MISSING}</td><td class="date">${a.last_period ?? MISSING}</td><td class="num">${fmt(a.rule_id, a.subject, a.value)}</td><td class="num">${fmt(a.rule_id, a.subject, a.threshold)}</td><td class="msg">${a.message ?? ''}</td></tr>`,
  );
  const lastEvent = data.alertHistory.reduce((m, e) => Math.max(m, dateValue(e.period_end)), 0);
  const until = Math.max(lastEvent, ...data.alertsOpen.map((a) => (a.last_period ? dateValue(a.last_period) : 0)));
  const timeline = timelineChart({
    id: 'alert-timeline',
    title: 'Alert events by rule and subject',
    xLabel: 'Period the transition refers to',
    rows: alertTimelineRows(data.alertHistory, data.alertsOpen, until || generatedAt.getTime()),
    legend: [
      { name: 'firing (critical)', color: SEVERITY_COLOR.critical!, shape: 'span' },
      { name: 'firing (warning)', color: SEVERITY_COLOR.warning!, shape: 'span' },
      { name: 'firing (info)', color: SEVERITY_COLOR.info!, shape: 'span' },
      { name: 'fired', color: INK, shape: 'fired' },
      { name: 'resolved', color: INK, shape: 'resolved' },
      { name: 'pending', color: MUTED, shape: 'pending' },
      { name: 'cleared before firing', color: MUTED, shape: 'cleared' },
    ],
    emptyHint: 'No alert has changed state yet; rules are evaluated after every run.',
  });
  const recent = [...data.alertHistory].sort((a, b) => b.period_end.localeCompare(a.period_end) || b.event_id - a.event_id).slice(0, 25);
  const eventRows = recent.map(
    (e) =>
      html`<tr><td class="date">${e.period_end}</td><td><span class="badge ${e.transition === 'fired' ? (e.severity === 'critical' ? 'critical' : 'warning') : e.transition === 'resolved' ? 'ok' : 'pending'}">${e.transition}</span></td><td class="id">${e.rule_id}</td><td>${e.subject}</td><td class="num">${fmt(e.rule_id, e.subject, e.value)}</td><td class="msg">${e.message}${e.is_backfill ? ' (backfill)' : ''}</td></tr>`,
  );
  const body = html`<p class="lede">The thresholds the argument names, watched continuously: CAPE above 35 and at the 1999 peak, the Buffett indicator above 200%, the top 10 above 35% of the index, capex above operating cash flow, capex growth far ahead of revenue growth, and stale sources.</p>
<h3>Open alerts (${data.alertsOpen.length})</h3>
${table(['severity', 'rule', 'subject', 'since', 'latest period', 'value', 'threshold', 'message'], openRows, { empty: 'No alert is firing.' })}
${figure('alert-timeline', 'Alert timeline', timeline, SOURCES.alerts, html`Bars: periods an alert was firing (solid while still open); markers: transitions. Hover for the message.`)}
<h3>Latest alert events</h3>
${table(['period', 'transition', 'rule', 'subject', 'value', 'message'], eventRows, { empty: 'No alert events yet.' })}`;
  return { id: 'alerts', title: '7. Alerts: which thresholds are breached', body };
}

// ------------------------------------------------------------------------------ 8. freshness

export function freshnessSection(status: readonly PipelineStatus[] | undefined): Section {
  if (!status) {
    return { id: 'freshness', title: '8. Data freshness per source', body: html`<p class="empty-table">Freshness was not collected for this report.</p>` };
  }
  const measured = status.filter((s) => s.state === 'enabled' && s.max_age_days !== null && s.age_days !== null);
  const chart = barChart({
    id: 'freshness',
    title: 'Age of each source\'s newest data, as a share of its freshness limit',
    height: 300,
    categories: measured.map((s) => s.pipeline),
    xLabel: 'Pipeline',
    y: { label: 'Age / freshness limit, %', format: percentAxis, includeZero: true },
    series: [
      { name: 'within its limit', color: PALETTE[2], values: measured.map((s) => (s.stale ? null : s.age_days! / s.max_age_days!)) },
      { name: 'stale', color: ALERT_RED, values: measured.map((s) => (s.stale ? s.age_days! / s.max_age_days! : null)) },
    ],
    stacked: true,
    referenceLines: [{ value: 1, label: '100%: freshness limit', color: ALERT_RED }],
    valueFormat: (v) => pct(v, 0),
    emptyHint: 'No source with a freshness limit has data yet.',
  });
  const rows = status.map(
    (s) =>
      html`<tr class="${s.stale || s.failures_in_a_row > 0 ? 'breach' : ''}"><td>${s.pipeline}</td><td>${s.state}</td><td>${s.last_run ? `#${s.last_run.run_id} ${s.last_run.status}` : MISSING}</td><td class="date">${s.last_run ? timestamp(s.last_run.started_at) : MISSING}</td><td class="date">${s.last_success_at ? timestamp(s.last_success_at) : MISSING}</td><td class="date">${s.newest_data ?? MISSING}</td><td class="num">${s.age_days ?? MISSING}</td><td class="num">${s.max_age_days ?? MISSING}</td><td>${s.flags.length > 0 ? s.flags.join('; ') : 'ok'}</td></tr>`,
  );
  const body = html`<p class="lede">How current each figure is: the newest data each source holds, against the age at which it counts as stale.</p>
${figure('freshness', 'Data freshness per source', chart, SOURCES.freshness, html`Enabled sources with a freshness limit and data; the table lists every pipeline.`)}
${table(['pipeline', 'state', 'last run', 'started', 'last success', 'newest data', 'age (days)', 'limit (days)', 'attention'], rows, { empty: 'No pipelines.' })}`;
  return { id: 'freshness', title: '8. Data freshness per source', body };
}

// ------------------------------------------------------------------------------ 9. other figures

export function customSection(data: ReportData): Section {
  const rows = data.customSeries.map(
    (c) =>
      html`<tr><td>${c.series}</td><td>${c.subject}</td><td class="date">${c.observation_date}</td><td class="num">${inUnit(c.value, c.unit)}</td><td class="cite">${c.source ?? ''}</td></tr>`,
  );
  const body = html`<p class="lede">Other figures the argument leans on (venture funding going to AI, AI labs' revenue run-rates, capex guidance, data-centre power), as supplied by analysts with their citations. Latest value per series and subject.</p>
${table(['series', 'subject', 'date', 'value', 'source (as cited)'], rows, { empty: 'No custom series loaded.' })}
<p class="source"><span class="source-label">Source:</span> analyst CSV files (analytics.custom_series), citations as given.</p>`;
  return { id: 'other', title: '9. Other figures the argument cites', body };
}


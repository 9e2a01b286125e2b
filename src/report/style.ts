/** The report's stylesheet, inlined into the page: system fonts only, nothing fetched. */
export const REPORT_CSS = `
:root { color-scheme: light; --ink: #1f2328; --muted: #6e7781; --line: #d0d7de; --soft: #f6f8fa; --accent: #0072B2; --red: #c62828; --amber: #e8710a; --blue: #1565c0; --green: #2e7d32; }
* { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif; color: var(--ink); background: #fff; }
body { margin: 0; line-height: 1.5; font-size: 15px; }
header.page, main, footer.page { max-width: 1040px; margin: 0 auto; padding: 0 24px; }
header.page { padding-top: 28px; padding-bottom: 8px; border-bottom: 1px solid var(--line); }
header.page h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
header.page .subtitle { margin: 0; color: var(--muted); }
header.page .meta { margin: 6px 0 0; color: var(--muted); font-size: 13px; }
nav.toc { margin: 12px 0 4px; font-size: 14px; display: flex; flex-wrap: wrap; gap: 4px 14px; }
nav.toc a { color: var(--accent); text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
h2 { font-size: 22px; margin: 40px 0 8px; padding-top: 8px; border-top: 3px solid var(--ink); }
h3 { font-size: 16px; margin: 20px 0 6px; }
p.lede { font-size: 16px; color: #30363d; margin: 6px 0 10px; }
.summary h2 { border-top: none; margin-top: 24px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 10px; }
.card { display: flex; flex-direction: column; padding: 10px 12px; border: 1px solid var(--line); border-radius: 8px; background: var(--soft); color: inherit; text-decoration: none; }
.card:hover { border-color: var(--accent); }
.card-label { font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); }
.card-value { font-size: 20px; font-weight: 700; margin: 2px 0; }
.card-detail { font-size: 12.5px; color: var(--muted); }
.card-empty .card-value { color: var(--muted); font-weight: 600; }
figure.chart { margin: 18px 0 22px; padding: 12px 14px 10px; border: 1px solid var(--line); border-radius: 10px; background: #fff; break-inside: avoid; }
figure.chart figcaption h3 { margin: 0 0 2px; }
figure.chart .caption { margin: 0 0 6px; font-size: 13.5px; color: #404850; }
.chart-box svg { display: block; width: 100%; height: auto; max-width: 100%; }
.chart-svg text { font-family: inherit; }
.chart-svg .halo { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.chart-svg .mark.point:hover, .chart-svg .mark.bar:hover { opacity: 0.75; }
footer.source, p.source { margin: 8px 0 0; font-size: 12px; color: var(--muted); border-top: 1px dotted var(--line); padding-top: 6px; }
.source-label { font-weight: 600; color: #57606a; }
.two-col { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.two-col figure.chart { margin: 8px 0; }
@media (max-width: 820px) { .two-col { grid-template-columns: 1fr; } }
.table-wrap { overflow-x: auto; margin: 8px 0 16px; }
table.data { border-collapse: collapse; width: 100%; font-size: 13px; }
table.data th, table.data td { padding: 4px 8px; border-bottom: 1px solid #eaeef2; text-align: left; vertical-align: top; }
table.data thead th { background: var(--soft); border-bottom: 2px solid var(--line); font-weight: 600; }
table.data td.date { white-space: nowrap; }
table.data td.msg { min-width: 300px; }
table.data td.id { overflow-wrap: anywhere; min-width: 120px; }
table.dashboard td.alert { min-width: 170px; }
table.dashboard .badge { white-space: normal; overflow-wrap: anywhere; }
table.data td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.data td.cite { font-size: 12px; color: #57606a; word-break: break-word; }
table.data tr.family th { background: #eef2f6; text-transform: uppercase; font-size: 12px; letter-spacing: 0.05em; color: #424a53; }
table.data tr.breach td { background: #fff4f2; }
.pbar { display: inline-block; width: 44px; height: 7px; background: #eaeef2; border-radius: 4px; vertical-align: middle; overflow: hidden; }
.pbar span { display: block; height: 100%; background: var(--accent); }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge.critical { background: #fde0dc; color: var(--red); }
.badge.warning { background: #fff0d9; color: #9a4a00; }
.badge.info { background: #e3eefc; color: var(--blue); }
.badge.pending { background: #eef0f2; color: #57606a; }
.badge.ok { background: #e3f4e5; color: var(--green); }
.muted { color: var(--muted); }
.empty-table { padding: 12px; border: 1px dashed var(--line); border-radius: 8px; color: var(--muted); background: var(--soft); }
footer.page { margin-top: 40px; padding-top: 12px; padding-bottom: 40px; border-top: 1px solid var(--line); font-size: 12.5px; color: var(--muted); }
@media print { figure.chart, table { break-inside: avoid; } nav.toc { display: none; } }
`;

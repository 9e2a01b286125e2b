import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { PipelineRuntime, SqlConnection } from '../../src/sdk.js';

/**
 * Companies and metrics are configuration, not code: ticker, CIK, fiscal-year end, the
 * groups a company belongs to (big5), and per metric an ordered list of XBRL tags to try.
 * A company may override a metric's default tag list (Amazon's capex tag differs).
 * Each run of a fundamentals pipeline writes this to core.companies, core.metrics and
 * core.company_metric_tags, where the SQL transforms read it.
 */

const TAG = /^[a-z][a-z0-9-]*:[A-Za-z][A-Za-z0-9_]*$/;
const taggedName = z
  .string()
  .regex(TAG, 'expected taxonomy:Tag, e.g. us-gaap:PaymentsToAcquirePropertyPlantAndEquipment');

const metricName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a snake_case metric name such as capex');

export const metricSchema = z.strictObject({
  /** flow: an amount over a period (capex, revenue, cash flow); instant: a balance at a date (RPO). */
  kind: z.enum(['flow', 'instant']),
  unit: z.string().min(1).default('USD'),
  /** XBRL tags to try, most preferred first. Empty for metrics that only analyst CSVs supply. */
  tags: z.array(taggedName).default([]),
});

const fiscalYearEnd = z
  .string()
  .regex(/^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'expected MM-DD, e.g. "06-30" for a year ending 30 June');

export const companySchema = z.strictObject({
  ticker: z.string().regex(/^[A-Z][A-Z0-9.]{0,9}$/, 'expected an upper-case ticker such as MSFT'),
  cik: z.number().int().positive().max(9_999_999_999),
  name: z.string().min(1),
  /** Last day of the fiscal year, MM-DD. For 52/53-week years give the usual month end (NVIDIA: "01-31"). */
  fiscal_year_end: fiscalYearEnd,
  groups: z.array(z.string().regex(/^[a-z][a-z0-9_]*$/)).default([]),
  enabled: z.boolean().default(true),
  /** Per-metric tag lists that replace the metric's default list for this company. */
  tags: z.record(metricName, z.array(taggedName).min(1)).default({}),
});

export const companiesSectionSchema = z.array(companySchema).default([]);
export const metricsSectionSchema = z.record(metricName, metricSchema).default({});

export type CompanyConfig = z.infer<typeof companySchema>;
export type MetricConfig = z.infer<typeof metricSchema>;

export const SHARED_SECTIONS = {
  companies: companiesSectionSchema,
  metrics: metricsSectionSchema,
} as const;

/** Cross-checks between companies and metrics, as `path: message`. */
export function validateCompanies(shared: Readonly<Record<string, unknown>>): string[] {
  const companies = (shared.companies ?? []) as CompanyConfig[];
  const metrics = (shared.metrics ?? {}) as Record<string, MetricConfig>;
  const problems: string[] = [];
  const tickers = new Map<string, number>();
  const ciks = new Map<number, number>();
  companies.forEach((c, i) => {
    if (tickers.has(c.ticker)) problems.push(`companies.${i}.ticker: ${c.ticker} is also companies.${tickers.get(c.ticker)}`);
    tickers.set(c.ticker, i);
    if (ciks.has(c.cik)) problems.push(`companies.${i}.cik: ${c.cik} is also companies.${ciks.get(c.cik)}`);
    ciks.set(c.cik, i);
    for (const metric of Object.keys(c.tags)) {
      if (!metrics[metric]) problems.push(`companies.${i}.tags.${metric}: no such metric (configured: ${Object.keys(metrics).join(', ')})`);
    }
  });
  return problems;
}

export interface CompanyView {
  readonly companies: readonly CompanyConfig[];
  readonly metrics: Readonly<Record<string, MetricConfig>>;
  readonly byCik: ReadonlyMap<number, CompanyConfig>;
  readonly byTicker: ReadonlyMap<string, CompanyConfig>;
  /** For an enabled company: "taxonomy:Tag" → metric, for every tag the company's metrics try. */
  tagsOf(company: CompanyConfig): ReadonlyMap<string, string>;
}

const views = new WeakMap<object, CompanyView>();

/** The validated companies and metrics of a run, with lookups (built once per runtime). */
export function companyView(runtime: PipelineRuntime): CompanyView {
  const cached = views.get(runtime);
  if (cached) return cached;
  const companies = (runtime.shared.companies ?? []) as CompanyConfig[];
  const metrics = (runtime.shared.metrics ?? {}) as Record<string, MetricConfig>;
  const enabled = companies.filter((c) => c.enabled);
  const tagCache = new Map<string, Map<string, string>>();
  const view: CompanyView = {
    companies,
    metrics,
    byCik: new Map(enabled.map((c) => [c.cik, c])),
    byTicker: new Map(enabled.map((c) => [c.ticker, c])),
    tagsOf(company) {
      let tags = tagCache.get(company.ticker);
      if (!tags) {
        tags = new Map();
        for (const [metric, m] of Object.entries(metrics)) {
          for (const tag of company.tags[metric] ?? m.tags) if (!tags.has(tag)) tags.set(tag, metric);
        }
        tagCache.set(company.ticker, tags);
      }
      return tags;
    },
  };
  views.set(runtime, view);
  return view;
}

export function cik10(cik: number): string {
  return String(cik).padStart(10, '0');
}

/** Expand {cik10}, {cik} and {ticker} in a URL template, once per enabled company. */
export function expandCompanyUrl(template: string, runtime: PipelineRuntime): string[] {
  if (!/\{(cik10|cik|ticker)\}/.test(template)) return [template];
  return companyView(runtime)
    .companies.filter((c) => c.enabled)
    .map((c) => template.replaceAll('{cik10}', cik10(c.cik)).replaceAll('{cik}', String(c.cik)).replaceAll('{ticker}', c.ticker));
}

/**
 * Write companies, metrics and tag lists to core.*. Returns fullRefresh when anything
 * changed since the last run, since every derived figure of a changed company may change.
 */
export async function syncCompanies(conn: SqlConnection, runtime: PipelineRuntime): Promise<{ fullRefresh: boolean }> {
  const { companies, metrics } = companyView(runtime);
  let changed = false;

  const { rows: existingMetrics } = await conn.query<{ metric: string; kind: string; unit: string }>('select metric, kind, unit from core.metrics');
  const wantedMetrics = Object.entries(metrics);
  const metricsSame =
    existingMetrics.length === wantedMetrics.length &&
    wantedMetrics.every(([name, m]) => existingMetrics.some((e) => e.metric === name && e.kind === m.kind && e.unit === m.unit));
  if (!metricsSame) {
    changed = true;
    for (const [name, m] of wantedMetrics) {
      await conn.query(
        `insert into core.metrics (metric, kind, unit) values ($1, $2, $3)
         on conflict (metric) do update set kind = excluded.kind, unit = excluded.unit`,
        [name, m.kind, m.unit],
      );
    }
    await conn.query('delete from core.metrics where not (metric = any($1::text[]))', [wantedMetrics.map(([n]) => n)]);
  }

  const { rows: existing } = await conn.query<{ ticker: string; config_sha256: string }>('select ticker, config_sha256 from core.companies');
  const stored = new Map(existing.map((r) => [r.ticker, r.config_sha256]));
  for (const company of companies) {
    const tags = Object.entries(metrics).flatMap(([metric, m]) =>
      (company.tags[metric] ?? m.tags).map((tag, i) => ({ metric, priority: i + 1, tag })),
    );
    const sha = createHash('sha256').update(JSON.stringify({ company, tags })).digest('hex');
    if (stored.get(company.ticker) === sha && metricsSame) continue;
    changed = true;
    const [month, day] = company.fiscal_year_end.split('-').map(Number);
    await conn.query(
      `insert into core.companies (ticker, cik, name, fiscal_year_end_month, fiscal_year_end_day, groups, is_enabled, config_sha256, updated_at)
       values ($1, $2, $3, $4, $5, $6::text[], $7, $8, now())
       on conflict (ticker) do update set cik = excluded.cik, name = excluded.name,
         fiscal_year_end_month = excluded.fiscal_year_end_month, fiscal_year_end_day = excluded.fiscal_year_end_day,
         groups = excluded.groups, is_enabled = excluded.is_enabled, config_sha256 = excluded.config_sha256, updated_at = now()`,
      [company.ticker, company.cik, company.name, month, day, company.groups, company.enabled, sha],
    );
    await conn.query('delete from core.company_metric_tags where ticker = $1', [company.ticker]);
    for (const t of tags) {
      const [taxonomy, name] = t.tag.split(':') as [string, string];
      await conn.query(
        'insert into core.company_metric_tags (ticker, metric, priority, taxonomy, tag) values ($1, $2, $3, $4, $5) on conflict do nothing',
        [company.ticker, t.metric, t.priority, taxonomy, name],
      );
    }
  }
  const configured = companies.map((c) => c.ticker);
  const { rowCount } = await conn.query(
    `update core.companies set is_enabled = false, config_sha256 = 'removed', updated_at = now()
     where not (ticker = any($1::text[])) and is_enabled`,
    [configured],
  );
  if (rowCount > 0) changed = true;
  return { fullRefresh: changed };
}

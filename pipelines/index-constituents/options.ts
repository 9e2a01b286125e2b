import { z } from 'zod';
import { formatIssues } from '../../src/sdk.js';
import { BUILT_IN_LAYOUTS, type LayoutName } from './layouts.js';

/**
 * The pipeline's options (`pipelines.index-constituents.options` in the config file).
 *
 * Two kinds of setting, applied at different times:
 *  - how to READ a file (its layout, the index it describes, the unit of its caps) applies
 *    when the file is loaded, and is recorded with its rows in raw.index_constituents;
 *  - how to COMPUTE (share-class rule, top-N list, base dates, tech sectors, rolling window,
 *    issuer and sector mappings) is written to core.index_settings by every run, and a
 *    change recomputes every date on the next run.
 *
 * Every problem is reported as `pipelines.index-constituents.options.<field>: message`.
 */

export const OPTIONS_PATH = ['pipelines', 'index-constituents', 'options'] as const;
export const OPTIONS_PREFIX = OPTIONS_PATH.join('.');

/** GICS sectors (2018 onward) and the pre-2018 Telecommunication Services, as the SQL seeds them in core.gics_sector_names. */
export const GICS_SECTORS = [
  'Communication Services',
  'Consumer Discretionary',
  'Consumer Staples',
  'Energy',
  'Financials',
  'Health Care',
  'Industrials',
  'Information Technology',
  'Materials',
  'Real Estate',
  'Utilities',
  'Telecommunication Services',
] as const;

const GICS_BY_KEY = new Map<string, string>(GICS_SECTORS.map((s) => [s.toLowerCase(), s]));

/** Tickers are compared upper-case with share-class separators unified: BRK-B, BRK/B and BRK B are BRK.B. */
export function tickerKey(ticker: string): string {
  return ticker.trim().toUpperCase().replace(/[-/ ]/g, '.');
}

/** Numeric issuer ids (CIKs) are compared without leading zeros: 0001652044 is 1652044. */
export function issuerKey(id: string): string {
  const trimmed = id.trim();
  return /^\d+$/.test(trimmed) ? trimmed.replace(/^0+(?=\d)/, '') : trimmed;
}

const indexCode = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/, 'expected an index code of letters, digits, . _ - such as SP500');

const columnName = z
  .string({ error: (issue) => (issue.input === undefined ? 'required: name the header column that holds it' : 'expected a column name as written in the header') })
  .trim()
  .min(1, 'expected a column name as written in the header');

const NAMED_UNITS: Readonly<Record<string, number>> = { usd: 1, thousands: 1e3, millions: 1e6, billions: 1e9 };

/** auto = detect per file and date from the size of the largest cap; else the USD value of one unit. */
const marketCapUnit = z.union([
  z.literal('auto'),
  z.number().positive('expected a positive multiplier such as 1 or 1e9').finite(),
  z.enum(['usd', 'thousands', 'millions', 'billions']).transform((u) => NAMED_UNITS[u]!),
], { error: 'expected auto, a multiplier such as 1 or 1e9, or one of usd, thousands, millions, billions' });

const fileNameRegex = z.string().min(1).transform((source, ctx) => {
  let re: RegExp;
  try {
    re = new RegExp(source);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(error as Error).message}` });
    return z.NEVER;
  }
  const groups = (new RegExp(`${source}|`).exec('') ?? []).length - 1;
  if (groups < 1) {
    ctx.addIssue({ code: 'custom', message: `"${source}" has no capture group; expected one that captures the date, e.g. "_(\\d{4}-\\d{2}-\\d{2})\\.csv$"` });
    return z.NEVER;
  }
  return re;
});

const delimiter = z.enum([',', ';', '\t', '|']).default(',');

const customCapsLayout = z
  .strictObject({
    kind: z.literal('caps').default('caps'),
    /** Canonical field → the column's name in the file's header. */
    columns: z.strictObject({
      ticker: columnName,
      market_cap: columnName,
      as_of: columnName.optional(),
      issuer_id: columnName.optional(),
      name: columnName.optional(),
      sector: columnName.optional(),
      float_factor: columnName.optional(),
      /** Price / trailing-twelve-month sales: the row's TTM revenue is its cap / this. */
      price_to_sales: columnName.optional(),
      /** Trailing-twelve-month revenue, in the unit of the caps; used over price_to_sales where a row gives both. */
      revenue_ttm: columnName.optional(),
    }),
    /** A regular expression whose capture group (or group named as_of) takes the date from the file name. */
    as_of_from_filename: fileNameRegex.optional(),
    delimiter,
  })
  .superRefine((layout, ctx) => {
    const fromColumn = layout.columns.as_of !== undefined;
    const fromName = layout.as_of_from_filename !== undefined;
    if (fromColumn === fromName) {
      ctx.addIssue({
        code: 'custom',
        path: fromColumn ? ['as_of_from_filename'] : ['columns', 'as_of'],
        message: fromColumn
          ? 'give the date either as a column (columns.as_of) or from the file name (as_of_from_filename), not both'
          : 'the date is needed: name its column (columns.as_of) or give as_of_from_filename',
      });
    }
  });

const customIssuersLayout = z.strictObject({
  kind: z.literal('issuers'),
  columns: z.strictObject({
    ticker: columnName,
    issuer_id: columnName,
    name: columnName.optional(),
    sector: columnName.optional(),
    sub_industry: columnName.optional(),
  }),
  delimiter,
});

export type CustomCapsLayout = z.infer<typeof customCapsLayout>;
export type CustomIssuersLayout = z.infer<typeof customIssuersLayout>;
export type LayoutOption = LayoutName | CustomCapsLayout | CustomIssuersLayout;

const builtInNames = Object.keys(BUILT_IN_LAYOUTS) as LayoutName[];

/** A layout is a built-in name, or a custom mapping of columns ({ kind: issuers } for a ticker → issuer file). */
const layout = z.unknown().transform((value, ctx): LayoutOption => {
  if (typeof value === 'string') {
    if ((builtInNames as string[]).includes(value)) return value as LayoutName;
    ctx.addIssue({ code: 'custom', message: `unknown layout "${value}"; expected one of ${builtInNames.join(', ')}, or a custom { columns: {...} } mapping` });
    return z.NEVER;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: `expected a layout name (${builtInNames.join(', ')}) or a custom { columns: {...} } mapping` });
    return z.NEVER;
  }
  const schema = (value as { kind?: unknown }).kind === 'issuers' ? customIssuersLayout : customCapsLayout;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const message = formatIssues(new z.ZodError([issue]))[0]!.replace(/^[^:]*: /, '');
    ctx.addIssue({ code: 'custom', path: issue.path as PropertyKey[], message });
  }
  return z.NEVER;
});

const isoDate = z.string().refine((s) => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}, 'expected a date written YYYY-MM-DD');

const gicsSector = z.string().transform((s, ctx) => {
  const sector = GICS_BY_KEY.get(s.trim().toLowerCase());
  if (sector) return sector;
  ctx.addIssue({ code: 'custom', message: `"${s}" is not a GICS sector; expected one of ${GICS_SECTORS.join(', ')}` });
  return z.NEVER;
});

/**
 * Where a cap file's snapshot date comes from:
 *   layout      the layout's own: its date column (canonical, a custom columns.as_of) or its file-name pattern (sp500-financials, as_of_from_filename);
 *   column      the layout's date column (the file fails when its layout has none);
 *   file_name   the date in the file's name (for a URL, the last segment of its path): the layout's pattern, else the last YYYY-MM-DD or YYYYMMDD in the name;
 *   fetch_time  the date, in fetch_time_zone, on which the file's bytes were fetched (a URL's download; a local file's modification time):
 *               for a publisher's "latest" file whose name and rows carry no date.
 */
export const AS_OF_SOURCES = ['layout', 'column', 'file_name', 'fetch_time'] as const;
export type AsOfSource = (typeof AS_OF_SOURCES)[number];
const asOfFrom = z.enum(AS_OF_SOURCES, { error: `expected one of ${AS_OF_SOURCES.join(', ')}` });

const timeZone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-CA', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'expected an IANA time zone such as America/New_York or UTC');

const fileRule = z
  .strictObject({
    /** File-name pattern (glob on the name, e.g. "constituents-financials_201[0-7]-*.csv"); a URL's name is the last segment of its path. */
    match: z.string().min(1),
    layout: layout.optional(),
    index: indexCode.optional(),
    market_cap_unit: marketCapUnit.optional(),
    as_of_from: asOfFrom.optional(),
  })
  .refine((r) => r.layout !== undefined || r.index !== undefined || r.market_cap_unit !== undefined || r.as_of_from !== undefined, {
    message: 'a file rule must set layout, index, market_cap_unit or as_of_from',
  });

export const optionsSchema = z.strictObject({
  /** The index the cap files describe (a file rule can say otherwise for some files). */
  index: indexCode.default('SP500'),
  /** How cap files are laid out, unless a file rule says otherwise. */
  layout: layout.default('canonical'),
  market_cap_unit: marketCapUnit.default('auto'),
  /** Where cap files' snapshot dates come from, unless a file rule says otherwise (see AS_OF_SOURCES). */
  as_of_from: asOfFrom.default('layout'),
  /** The time zone whose calendar dates a fetch time (as_of_from: fetch_time) is read in: the index's market's. */
  fetch_time_zone: timeZone.default('America/New_York'),
  /** Rules by file name, first match wins for each setting. constituents.csv is read as a ticker → CIK map unless a rule says otherwise. */
  files: z.array(fileRule).default([]),
  /**
   * whole_company: the source gives each share class the whole company's cap (Yahoo: GOOGL and GOOG);
   * an issuer counts once, with the largest of its classes' caps. per_class: each class carries its
   * own cap, and an issuer's cap is their sum.
   */
  share_class_caps: z.enum(['whole_company', 'per_class']).default('whole_company'),
  top_n: z
    .array(z.number().int('expected whole numbers').min(1).max(1000))
    .min(1)
    .default([5, 10, 20])
    .refine((ns) => new Set(ns).size === ns.length, 'each N once')
    .transform((ns) => [...ns].sort((a, b) => a - b)),
  /** Sectors whose combined share is tech_sector_share (the article's "8 of 10 are tech"). */
  tech_sectors: z.array(gicsSector).min(1).default(['Information Technology', 'Communication Services']),
  /** Dates to measure cap changes from (the latest snapshot on or before each date is the base). */
  base_dates: z.array(isoDate).default([]),
  /** Rolling averages cover the snapshots of this many days up to each date. */
  rolling_window_days: z.number().int().min(1).max(36600).default(365),
  /** Ticker → issuer id (CIK), overriding the files: e.g. { GOOG: 1652044, GOOGL: 1652044 }. */
  issuer_ids: z
    .record(z.string().min(1), z.union([z.string().min(1), z.number().int().nonnegative()]))
    .default({})
    .transform((m) => Object.fromEntries(Object.entries(m).map(([t, id]) => [tickerKey(t), issuerKey(String(id))]))),
  /**
   * A snapshot whose size departs from its neighbours' is held back (a truncated download would
   * make a 10-row "index" whose top 10 hold 100%): its file fails alone, and nothing of it feeds the
   * indicators or alerts. The reference is the median of the nearest two snapshots on each side.
   */
  plausibility: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Constituent count: at most this relative change from the reference (0.2 = ±20%). */
      max_count_change: z.number().positive().default(0.2),
      /** Total cap: at most this relative change from the reference of snapshots within max_gap_days. */
      max_cap_change: z.number().positive().default(0.4),
      max_gap_days: z.number().int().min(1).max(3660).default(31),
    })
    .default({ enabled: true, max_count_change: 0.2, max_cap_change: 0.4, max_gap_days: 31 }),
  /** A source's sector label → GICS sector, for labels the issuer map cannot resolve: { "Drug Retail": "Consumer Staples" }. */
  sector_map: z
    .record(z.string().min(1), gicsSector)
    .default({})
    .transform((m) => Object.fromEntries(Object.entries(m).map(([label, sector]) => [label.trim(), sector]))),
});

export type IndexOptions = z.infer<typeof optionsSchema>;

/** Applied after the configured rules: the datasets/s-and-p-500-companies list is a ticker → CIK and sector map. */
export const DEFAULT_FILE_RULES: IndexOptions['files'] = [{ match: 'constituents.csv', layout: 'sp500-constituents' }];

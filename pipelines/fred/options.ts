import { z } from 'zod';
import { formatIssues } from '../../src/sdk.js';

/**
 * `pipelines.fred.options` in config/bubblewatch.yaml: the unit and scale of each series,
 * which FRED's CSV does not carry, and whether the series is an indicator of its own. GDP is in
 * billions of dollars (SAAR) and NCBEILQ027S in millions; the Buffett indicator converts both to
 * dollars with these scales before dividing.
 *
 *   series:
 *     GDP:         { unit: USD, scale: billions, description: "Nominal GDP, SAAR" }
 *     NCBEILQ027S: { unit: USD, scale: millions, description: "…" }
 *     UNRATE:
 *       unit: percent
 *       description: Unemployment rate
 *       indicator: { name: unemployment_rate, frequency: month, direction: higher, unit: percent }
 *
 * `indicator: true` makes the series an indicator named after its ID in lower case (unrate);
 * the long form names it (snake_case) and gives its subject (default US), family (default
 * macro), frequency (default irregular), the direction in which it signals excess (higher,
 * lower or neither) and its unit. Its description is the series' description.
 *
 * The two series the Buffett indicator needs have built-in entries; the config can
 * override them and add others. A series loaded without an entry keeps unit NULL (and a
 * data check warns).
 */

export const SCALES = { ones: 1, thousands: 1e3, millions: 1e6, billions: 1e9, trillions: 1e12 } as const;
export type Scale = keyof typeof SCALES;

const seriesId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_]*$/, 'expected a FRED series ID such as GDP or NCBEILQ027S');

const SNAKE_CASE = /^[a-z][a-z0-9_]*$/;
const snakeCase = z.string().max(63).regex(SNAKE_CASE, 'expected a snake_case name such as unemployment_rate');

export const INDICATOR_FREQUENCIES = ['day', 'week', 'month', 'quarter', 'year', 'irregular'] as const;
export const INDICATOR_DIRECTIONS = ['higher', 'lower', 'neither'] as const;

const indicatorObject = z.strictObject({
  /** Default: the series ID in lower case. */
  name: snakeCase.optional(),
  subject: z.string().min(1).max(40).default('US'),
  family: snakeCase.default('macro'),
  frequency: z.enum(INDICATOR_FREQUENCIES).default('irregular'),
  /** Which way the indicator moves when it signals excess. */
  direction: z.enum(INDICATOR_DIRECTIONS).optional(),
  unit: z.string().min(1).max(40).optional(),
});

/** `true`, or the long form; its problems are reported field by field (a union would only say neither matched). */
const indicatorSchema = z.unknown().transform((value, ctx): true | z.output<typeof indicatorObject> => {
  if (value === true) return true;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const parsed = indicatorObject.safeParse(value);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) {
      const message = formatIssues(new z.ZodError([issue]))[0]!.replace(/^[^:]*: /, '');
      ctx.addIssue({ code: 'custom', path: issue.path as PropertyKey[], message });
    }
    return z.NEVER;
  }
  ctx.addIssue({ code: 'custom', message: `got ${JSON.stringify(value)}, expected true or { name, subject, family, frequency, direction, unit } (each optional)` });
  return z.NEVER;
});

export const fredSeriesSchema = z.strictObject({
  unit: z.string().min(1).max(40),
  scale: z.enum(Object.keys(SCALES) as [Scale, ...Scale[]]).default('ones'),
  description: z.string().max(500).optional(),
  indicator: indicatorSchema.optional(),
});

export const fredOptionsSchema = z
  .strictObject({
    series: z.record(seriesId, fredSeriesSchema).default({}),
  })
  .superRefine((options, ctx) => {
    // Two series may not publish under one indicator name: their values would mix in one series.
    const byName = new Map<string, string>();
    for (const [id, series] of Object.entries(options.series)) {
      const name = indicatorOf(id, series)?.name;
      if (name === undefined) continue;
      if (!SNAKE_CASE.test(name)) {
        ctx.addIssue({ code: 'custom', path: ['series', id, 'indicator'], message: `"${name}" (the series ID in lower case) is not snake_case; expected indicator: { name: … }` });
      }
      const other = byName.get(name);
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['series', id, 'indicator'], message: `indicator "${name}" is already the indicator of series ${other}; expected a name of its own` });
      }
      byName.set(name, id);
    }
  });

export type FredSeries = z.infer<typeof fredSeriesSchema>;
export type FredOptions = z.infer<typeof fredOptionsSchema>;

/** Built-in descriptions of the Buffett indicator's inputs (config entries replace them). */
export const DEFAULT_SERIES: Readonly<Record<string, FredSeries>> = {
  GDP: { unit: 'USD', scale: 'billions', description: 'Gross domestic product, nominal, billions of dollars, seasonally adjusted annual rate (BEA via FRED)' },
  NCBEILQ027S: {
    unit: 'USD',
    scale: 'millions',
    description: 'Nonfinancial corporate business; corporate equities; liability, level: market value, millions of dollars, end of quarter (Federal Reserve Z.1 via FRED)',
  },
};

/** A series published as an indicator, with the defaults filled in. */
export interface FredIndicator {
  readonly series_id: string;
  readonly name: string;
  readonly subject: string;
  readonly family: string;
  readonly frequency: (typeof INDICATOR_FREQUENCIES)[number];
  readonly direction: (typeof INDICATOR_DIRECTIONS)[number] | null;
  readonly unit: string | null;
  readonly description: string | null;
}

/** The indicator a configured series declares, or undefined when it declares none. */
export function indicatorOf(id: string, series: FredSeries): FredIndicator | undefined {
  const declared = series.indicator;
  if (declared === undefined) return undefined;
  const given = declared === true ? undefined : declared;
  return {
    series_id: id.toUpperCase(),
    name: given?.name ?? id.toLowerCase(),
    subject: given?.subject ?? 'US',
    family: given?.family ?? 'macro',
    frequency: given?.frequency ?? 'irregular',
    direction: given?.direction ?? null,
    unit: given?.unit ?? null,
    description: series.description ?? null,
  };
}

/** The configured series (built-in entries first, the config's on top), keyed by upper-case ID. */
export function fredSeries(options: FredOptions): ReadonlyMap<string, FredSeries> {
  const series = new Map<string, FredSeries>();
  for (const [id, s] of Object.entries(DEFAULT_SERIES)) series.set(id, s);
  for (const [id, s] of Object.entries(options.series)) series.set(id.toUpperCase(), s);
  return series;
}

/** One row of core.fred_series as the fred pipeline writes it (the indicator columns need migration 0017). */
export interface FredSeriesRow {
  readonly series_id: string;
  readonly unit: string;
  readonly scale: Scale;
  readonly multiplier: string;
  readonly description: string | null;
  readonly indicator: string | null;
  readonly indicator_subject: string | null;
  readonly indicator_family: string | null;
  readonly indicator_frequency: string | null;
  readonly indicator_direction: string | null;
  readonly indicator_unit: string | null;
  readonly indicator_description: string | null;
}

/** The rows of core.fred_series the options describe: every series, with its indicator columns NULL when it declares none. */
export function fredSeriesRows(options: FredOptions): FredSeriesRow[] {
  return [...fredSeries(options)].map(([id, s]) => {
    const indicator = indicatorOf(id, s);
    return {
      series_id: id,
      unit: s.unit,
      scale: s.scale,
      multiplier: String(SCALES[s.scale]),
      description: s.description ?? null,
      indicator: indicator?.name ?? null,
      indicator_subject: indicator?.subject ?? null,
      indicator_family: indicator?.family ?? null,
      indicator_frequency: indicator?.frequency ?? null,
      indicator_direction: indicator?.direction ?? null,
      indicator_unit: indicator?.unit ?? null,
      indicator_description: indicator?.description ?? null,
    };
  });
}

import { z } from 'zod';
import { formatIssues } from '../../src/config/schema.js';
import type { PipelineRuntime } from '../../src/engine/pipeline.js';
import { ConfigError } from '../../src/errors.js';

/**
 * `pipelines.fred.options` in config/bubblewatch.yaml: the unit and scale of each series,
 * which FRED's CSV does not carry. GDP is in billions of dollars (SAAR) and NCBEILQ027S in
 * millions; the Buffett indicator converts both to dollars with these scales before dividing.
 *
 *   series:
 *     GDP:         { unit: USD, scale: billions, description: "Nominal GDP, SAAR" }
 *     NCBEILQ027S: { unit: USD, scale: millions, description: "…" }
 *
 * The two series the Buffett indicator needs have built-in entries; the config can
 * override them and add others. A series loaded without an entry keeps unit NULL (and a
 * data check warns).
 */

export const SCALES = { ones: 1, thousands: 1e3, millions: 1e6, billions: 1e9, trillions: 1e12 } as const;
export type Scale = keyof typeof SCALES;

const seriesId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_]*$/, 'expected a FRED series ID such as GDP or NCBEILQ027S');

export const fredSeriesSchema = z.strictObject({
  unit: z.string().min(1).max(40),
  scale: z.enum(Object.keys(SCALES) as [Scale, ...Scale[]]).default('ones'),
  description: z.string().max(500).optional(),
});

export const fredOptionsSchema = z.strictObject({
  series: z.record(seriesId, fredSeriesSchema).default({}),
});

export type FredSeries = z.infer<typeof fredSeriesSchema>;

/** Built-in descriptions of the Buffett indicator's inputs (config entries replace them). */
export const DEFAULT_SERIES: Readonly<Record<string, FredSeries>> = {
  GDP: { unit: 'USD', scale: 'billions', description: 'Gross domestic product, nominal, billions of dollars, seasonally adjusted annual rate (BEA via FRED)' },
  NCBEILQ027S: {
    unit: 'USD',
    scale: 'millions',
    description: 'Nonfinancial corporate business; corporate equities; liability, level: market value, millions of dollars, end of quarter (Federal Reserve Z.1 via FRED)',
  },
};

/** Problems with the options as `path: message` lines (empty when they are valid). */
export function fredOptionProblems(options: unknown, pipeline = 'fred'): string[] {
  const parsed = fredOptionsSchema.safeParse(options ?? {});
  return parsed.success ? [] : formatIssues(parsed.error, ['pipelines', pipeline, 'options']);
}

/** The configured series (built-in entries first, the config's on top), keyed by upper-case ID. */
export function fredSeries(runtime: PipelineRuntime): ReadonlyMap<string, FredSeries> {
  const parsed = fredOptionsSchema.safeParse(runtime.options ?? {});
  if (!parsed.success) {
    throw new ConfigError(`invalid options for pipeline ${runtime.pipeline}`, formatIssues(parsed.error, ['pipelines', runtime.pipeline, 'options']));
  }
  const series = new Map<string, FredSeries>();
  for (const [id, s] of Object.entries(DEFAULT_SERIES)) series.set(id, s);
  for (const [id, s] of Object.entries(parsed.data.series)) series.set(id.toUpperCase(), s);
  return series;
}

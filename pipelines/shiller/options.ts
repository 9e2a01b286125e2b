import { z } from 'zod';

/**
 * `pipelines.shiller.options` in config/bubblewatch.yaml:
 *
 *   layout: auto | shiller-xls | datasets-sp500    (default auto)
 *   header_search_lines: 50                       (how far to look for Shiller's header row)
 *
 * `auto` recognises either layout by its header. Naming one makes a file in the other
 * layout fail with a message that says which header was expected.
 */

export const SHILLER_LAYOUTS = ['shiller-xls', 'datasets-sp500'] as const;
export type ShillerLayout = (typeof SHILLER_LAYOUTS)[number];

export const shillerOptionsSchema = z.strictObject({
  layout: z.enum(['auto', ...SHILLER_LAYOUTS]).default('auto'),
  header_search_lines: z.number().int().min(1).max(1000).default(50),
});

export type ShillerOptions = z.infer<typeof shillerOptionsSchema>;

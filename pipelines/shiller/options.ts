import { z } from 'zod';

/**
 * `pipelines.shiller.options` in config/bubblewatch.yaml:
 *
 *   layout: auto | shiller-xls | datasets-sp500    (default auto)
 *   header_search_lines: 50                       (how far to look for Shiller's header row)
 *   sheet: Data                                   (the worksheet read from an .xls/.xlsx workbook)
 *   workbook_link: 'ie_data\.xls'                 (for a URL source that is a web page: the link
 *                                                  to follow, a regular expression matched against
 *                                                  each href; shillerdata.com's file URL changes
 *                                                  with every release)
 *
 * `auto` recognises either layout by its header. Naming one makes a file in the other
 * layout fail with a message that says which header was expected.
 */

export const SHILLER_LAYOUTS = ['shiller-xls', 'datasets-sp500'] as const;
export type ShillerLayout = (typeof SHILLER_LAYOUTS)[number];

export const shillerOptionsSchema = z.strictObject({
  layout: z.enum(['auto', ...SHILLER_LAYOUTS]).default('auto'),
  header_search_lines: z.number().int().min(1).max(1000).default(50),
  sheet: z.string().min(1).default('Data'),
  workbook_link: z
    .string()
    .min(1)
    .refine((pattern) => {
      try {
        new RegExp(pattern, 'i');
        return true;
      } catch {
        return false;
      }
    }, 'expected a regular expression (e.g. ie_data\\.xls)')
    .default('ie_data\\.xls'),
});

export type ShillerOptions = z.infer<typeof shillerOptionsSchema>;

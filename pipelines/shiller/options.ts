import { z } from 'zod';
import { formatIssues } from '../../src/config/schema.js';
import type { PipelineRuntime } from '../../src/engine/pipeline.js';
import { ConfigError } from '../../src/errors.js';

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

/** Problems with the options as `path: message` lines (empty when they are valid). */
export function shillerOptionProblems(options: unknown, pipeline = 'shiller'): string[] {
  const parsed = shillerOptionsSchema.safeParse(options ?? {});
  return parsed.success ? [] : formatIssues(parsed.error, ['pipelines', pipeline, 'options']);
}

export function shillerOptions(runtime: PipelineRuntime): ShillerOptions {
  const parsed = shillerOptionsSchema.safeParse(runtime.options ?? {});
  if (!parsed.success) {
    throw new ConfigError(`invalid options for pipeline ${runtime.pipeline}`, formatIssues(parsed.error, ['pipelines', runtime.pipeline, 'options']));
  }
  return parsed.data;
}

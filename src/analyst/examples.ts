import { loadModels } from '../models/load-models.js';
import type { ExampleQuery } from '../models/model-file.js';

/**
 * Example queries for each analytics view, shown in docs/views.md. They live in each model's
 * yml (sql/models/analytics/<view>.yml, `examples:`); this reads them from there. Hand-written,
 * but not trusted: a test runs every one on a database loaded with the bundled sample and
 * expects rows back, and another fails when a view has no examples or an example names no view.
 */

export type { ExampleQuery };

/** Examples by view name (without the schema), from the models under `dir` (sql/models by default). */
export function viewExamples(dir?: string): Readonly<Record<string, readonly ExampleQuery[]>> {
  return Object.fromEntries(loadModels(dir).map((m) => [m.view, m.doc.examples]));
}

export const VIEW_EXAMPLES: Readonly<Record<string, readonly ExampleQuery[]>> = viewExamples();

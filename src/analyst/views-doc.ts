import { join } from 'node:path';
import type { DatabaseHandle } from '../db/connect.js';
import { PACKAGE_ROOT } from '../paths.js';
import { readViews } from './catalog.js';
import { loadModels } from '../models/load-models.js';
import { renderViewsMarkdown } from './views-markdown.js';

/** Where the checked-in reference of the analytics views lives. */
export const VIEWS_DOC_PATH = join(PACKAGE_ROOT, 'docs', 'views.md');

/** docs/views.md as the database's catalog describes the analytics views now. */
export async function generateViewsDoc(handle: DatabaseHandle): Promise<string> {
  const views = await handle.withConnection((conn) => readViews(conn, 'analytics'));
  const models = loadModels();
  return renderViewsMarkdown({
    views,
    examples: Object.fromEntries(models.map((m) => [m.view, m.doc.examples])),
    units: Object.fromEntries(models.map((m) => [m.view, Object.fromEntries(m.doc.columns.map((c) => [c.name, c.unit ?? '']))])),
  });
}

import { join } from 'node:path';
import type { DatabaseHandle } from '../db/connect.js';
import { PACKAGE_ROOT } from '../paths.js';
import { readViews } from './catalog.js';
import { VIEW_EXAMPLES } from './examples.js';
import { renderViewsMarkdown } from './views-markdown.js';

/** Where the checked-in reference of the analytics views lives. */
export const VIEWS_DOC_PATH = join(PACKAGE_ROOT, 'docs', 'views.md');

/** docs/views.md as the database's catalog describes the analytics views now. */
export async function generateViewsDoc(handle: DatabaseHandle): Promise<string> {
  const views = await handle.withConnection((conn) => readViews(conn, 'analytics'));
  return renderViewsMarkdown({ views, examples: VIEW_EXAMPLES });
}

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { generateViewsDoc, VIEWS_DOC_PATH } from '../../analyst/views-doc.js';
import { EXIT_OK, EXIT_RUN_FAILED } from '../../errors.js';
import { print, withDatabase, type CliContext } from '../context.js';

/**
 * `bubblewatch docs [--out FILE] [--check]`: write the reference of the analytics views
 * (docs/views.md) from the database catalog: each view's and column's COMMENT, column types
 * and units, and example queries. `--check` writes nothing and fails (exit 1) when the file
 * differs from what the database would generate, for CI. `--out -` prints it instead.
 */

export interface DocsOptions {
  /** File to write or check; docs/views.md in the bubblewatch folder by default; `-` for stdout. */
  readonly out?: string;
  readonly check?: boolean;
}

export async function docsCommand(ctx: CliContext, options: DocsOptions = {}): Promise<number> {
  const target = options.out === undefined ? VIEWS_DOC_PATH : options.out === '-' ? '-' : resolve(options.out);
  return withDatabase(
    ctx,
    'bubblewatch docs',
    async (handle) => {
      const text = await generateViewsDoc(handle);
      if (target === '-') {
        ctx.out.write(text);
        return EXIT_OK;
      }
      const shown = relative(process.cwd(), target) || target;
      const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
      if (options.check) {
        if (current === text) {
          print(ctx, `${shown} is up to date with the database catalog`);
          return EXIT_OK;
        }
        print(ctx, current === undefined ? `${shown} does not exist` : `${shown} is out of date: ${firstDifference(current, text)}`);
        print(ctx, 'Regenerate it with: npx bubblewatch docs');
        return EXIT_RUN_FAILED;
      }
      if (current === text) {
        print(ctx, `${shown} is already up to date`);
        return EXIT_OK;
      }
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, text);
      print(ctx, `wrote ${shown} (${text.split('\n').filter((l) => l.startsWith('## ')).length} views)`);
      return EXIT_OK;
    },
    { migrateFirst: true },
  );
}

function firstDifference(current: string, expected: string): string {
  const a = current.split('\n');
  const b = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      return `line ${i + 1} is ${JSON.stringify((a[i] ?? '<end of file>').slice(0, 100))}, expected ${JSON.stringify((b[i] ?? '<end of file>').slice(0, 100))}`;
    }
  }
  return 'they differ';
}

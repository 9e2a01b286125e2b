import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';

/**
 * Pipelines use the engine only through its SDK (src/sdk.ts), so the engine can change behind
 * it. Every import and export specifier of every file under pipelines/ is resolved, and one that
 * lands in src/ anywhere but the SDK fails this test.
 */

const PIPELINES = join(PACKAGE_ROOT, 'pipelines');
const SRC = join(PACKAGE_ROOT, 'src');
const SDK = join(SRC, 'sdk.js');


/** `from '…'`, `import '…'`, `import('…')` and `export … from '…'`, also across lines. */
const SPECIFIER = /\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(entry.name) ? [path] : [];
  });
}

export function engineImports(file: string, text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(SPECIFIER)) {
    const specifier = match[1]!;
    if (!specifier.startsWith('.')) continue;
    const target = resolve(dirname(file), specifier);
    if ((target === SRC || target.startsWith(SRC + '/')) && target !== SDK) found.push(specifier);
  }
  return found;
}

it('finds imports of src/ other than the SDK, in every form', () => {
  const file = join(PIPELINES, 'x', 'pipeline.ts');
  const text = [
    "import { a } from '../../src/sdk.js';",
    "import type { B } from '../../src/engine/pipeline.js';",
    "import {\n  c,\n} from '../../src/errors.js';",
    "export { d } from '../../src/config/schema.js';",
    "const e = await import('../../src/db/connect.js');",
    "import '../../src/log/logger.js';",
    "import { f } from './reader.js';",
    "import { z } from 'zod';",
  ].join('\n');
  expect(engineImports(file, text)).toEqual([
    '../../src/engine/pipeline.js',
    '../../src/errors.js',
    '../../src/config/schema.js',
    '../../src/db/connect.js',
    '../../src/log/logger.js',
  ]);
});

it('pipelines import nothing of src/ but the SDK', () => {
  const offending = sourceFiles(PIPELINES)
    .flatMap((file) => engineImports(file, readFileSync(file, 'utf8')).map((specifier) => `${relative(PACKAGE_ROOT, file)}: ${specifier}`));
  expect(offending).toEqual([]);
});

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder that holds bubblewatch's package.json. Code runs both from src/ (tests)
 * and from dist/src/ (the built CLI), so walk up rather than assume a depth.
 */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string };
      if (pkg.name === 'bubblewatch') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the bubblewatch package.json above ' + import.meta.url);
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot();
export const MIGRATIONS_DIR = join(PACKAGE_ROOT, 'sql', 'migrations');
export const SQL_DIR = join(PACKAGE_ROOT, 'sql');
export const DEFAULT_CONFIG_FILE = join(PACKAGE_ROOT, 'config', 'bubblewatch.yaml');

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

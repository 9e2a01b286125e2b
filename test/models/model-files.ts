import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { MODELS_DIR } from '../../src/models/index.js';

/** A copy of sql/models to change in a test, removed afterwards. */
export function modelsCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bubblewatch-models-'));
  cpSync(MODELS_DIR, dir, { recursive: true });
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Change one file of a models copy; an edit that changes nothing is a mistake in the test. */
export function edit(dir: string, file: string, change: (text: string) => string): void {
  const path = join(dir, 'analytics', file);
  const before = readFileSync(path, 'utf8');
  const after = change(before);
  if (after === before) throw new Error(`the edit of ${file} changed nothing`);
  writeFileSync(path, after);
}

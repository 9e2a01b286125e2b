import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { InputFileError } from '../errors.js';

/**
 * Find the files a pipeline's sources point at: a file, a folder (an inbox analysts drop
 * files into, filtered by a pattern) or a glob such as data/**\/*.csv. Files that are
 * hidden or still being written (.part, .tmp, ~$…) are left for a later run.
 */

export interface ResolvedSource {
  /** Absolute path: a file, a folder, or a glob. */
  readonly path: string;
  /** With a folder: which file names to take (a glob on the name, e.g. *.csv). */
  readonly pattern: string;
}

export interface DiscoveredFile {
  readonly path: string;
  /** Stable identity of the file within its pipeline: its path relative to `baseDir`. */
  readonly sourceKey: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

const IN_PROGRESS = /(^\.|^~\$|\.(part|partial|tmp|crdownload|swp|download)$)/i;

/** A path for people to read: relative to the working folder when inside it, else absolute. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

export function hasGlob(path: string): boolean {
  return /[*?[]/.test(path);
}

/** Glob → RegExp over '/'-separated paths: * and ? stay within a segment, ** crosses segments. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slash = glob[i + 2] === '/';
        re += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) {
        re += '\\[';
      } else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else {
      re += c.replace(/[.+^${}()|\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

async function walk(dir: string, recursive: boolean): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries) {
    if (IN_PROGRESS.test(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recursive) out.push(...(await walk(full, true)));
    } else if (entry.isFile()) {
      out.push(full);
    }
  }
  return out;
}

function toSlashes(path: string): string {
  return path.split(sep).join('/');
}

async function listSource(source: ResolvedSource): Promise<string[]> {
  if (hasGlob(source.path)) {
    const parts = toSlashes(source.path).split('/');
    const firstGlob = parts.findIndex(hasGlob);
    const base = parts.slice(0, firstGlob).join('/') || '/';
    const rest = parts.slice(firstGlob).join('/');
    const matcher = globToRegExp(rest);
    const recursive = rest.includes('/') || rest.includes('**');
    let files: string[];
    try {
      files = await walk(base, recursive);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return files.filter((f) => matcher.test(toSlashes(relative(base, f))));
  }
  let info;
  try {
    info = await stat(source.path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InputFileError({ file: source.path }, 'the configured source does not exist', 'no such file or folder', 'a file, a folder or a glob');
    }
    throw error;
  }
  if (info.isFile()) return [source.path];
  const matcher = globToRegExp(source.pattern);
  const files = await walk(source.path, false);
  return files.filter((f) => matcher.test(f.slice(f.lastIndexOf(sep) + 1)));
}

export function sha256File(path: string): Promise<{ sha256: string; sizeBytes: number }> {
  return new Promise((resolvePromise, rejectPromise) => {
    const hash = createHash('sha256');
    let size = 0;
    createReadStream(path)
      .on('data', (chunk) => {
        size += chunk.length;
        hash.update(chunk);
      })
      .on('error', rejectPromise)
      .on('end', () => resolvePromise({ sha256: hash.digest('hex'), sizeBytes: size }));
  });
}

export async function discoverFiles(sources: readonly ResolvedSource[], baseDir: string): Promise<DiscoveredFile[]> {
  const seen = new Set<string>();
  const paths: string[] = [];
  for (const source of sources) {
    for (const path of (await listSource(source)).sort()) {
      if (seen.has(path)) continue;
      seen.add(path);
      paths.push(path);
    }
  }
  const files: DiscoveredFile[] = [];
  for (const path of paths) {
    const { sha256, sizeBytes } = await sha256File(path);
    const rel = relative(baseDir, path);
    const sourceKey = isAbsolute(rel) ? toSlashes(path) : toSlashes(rel);
    files.push({ path, sourceKey, sizeBytes, sha256 });
  }
  return files;
}

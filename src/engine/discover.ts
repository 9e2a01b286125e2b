import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { ResolvedSource } from '../config/load.js';
import { InputFileError } from '../errors.js';
import { ConfigError } from '../errors.js';
import { fillPartition, PARTITION_PLACEHOLDER } from './partitions.js';
import type { PartitionSpec, PipelineRuntime, SourceSpec } from './pipeline.js';

/**
 * Find the files a pipeline's sources point at: a file, a folder (an inbox analysts drop
 * files into, filtered by a pattern) or a glob such as data/**\/*.csv. Files that are
 * hidden or still being written (.part, .tmp, ~$…) are left for a later run.
 */

/** What a URL source was fetched into. */
export interface Fetched {
  readonly path: string;
  readonly status: 'downloaded' | 'not-modified';
}

/** Fetches a URL into a local file (cached, polite, retried); injected so tests can use a fake. */
export type Fetcher = (url: string, expect: SourceSpec['expectContentType']) => Promise<Fetched>;

/** One unit of source data: a file, a dataset folder, or a fetched URL. */
export interface DiscoveredFile {
  /** Local path to read (for a URL, the cached download). */
  readonly path: string;
  /** Where the data came from, for provenance: the path, or the URL. */
  readonly uri: string;
  /** Stable identity within its pipeline: path relative to the config folder, or the URL. */
  readonly sourceKey: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  /**
   * The file system's record of the bytes hashed (see fileStamp): the run compares it before and
   * after reading, so that what it loads is what it hashed. Undefined: the unit was not stable
   * while it was hashed (a writer is still at work), and is left for a later run.
   */
  readonly stamp?: string | undefined;
  /** The unit cannot be read as a whole (a dataset folder without one of its files): it fails alone. */
  readonly problem?: InputFileError | undefined;
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

/**
 * Glob → RegExp over '/'-separated paths: * and ? stay within a segment, ** crosses segments.
 * {a,b} matches either alternative (`*.{csv,xls}`).
 * Case-insensitive: an inbox's `*.csv` takes DATA.CSV too (spreadsheet programs on some
 * systems save upper-case extensions).
 */
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
    } else if (c === '{' && glob.indexOf('}', i + 1) > i) {
      // {csv,xls}: one of the alternatives (plain names, no nested globs).
      const end = glob.indexOf('}', i + 1);
      re += `(?:${glob.slice(i + 1, end).split(',').map((a) => a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`;
      i = end;
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
  return new RegExp(`^${re}$`, 'i');
}

/** Called for a file a source will not read: a link that points outside the source's folder. */
export type RefusedHandler = (path: string, reason: string) => void;

/**
 * A symbolic link is followed only when its target is inside the source's own folder: a file
 * source reads what its folder holds, never /etc/passwd through a link dropped into an inbox.
 */
async function followLink(full: string, root: string, onRefused: RefusedHandler): Promise<'file' | 'dir' | undefined> {
  let target: string;
  try {
    target = await realpath(full);
  } catch {
    onRefused(full, 'a broken symbolic link');
    return undefined;
  }
  const rootReal = await realpath(root);
  if (target !== rootReal && !target.startsWith(rootReal + sep)) {
    onRefused(full, `a symbolic link to ${target}, outside the source folder ${rootReal}`);
    return undefined;
  }
  const info = await stat(target);
  return info.isDirectory() ? 'dir' : info.isFile() ? 'file' : undefined;
}

async function walk(dir: string, recursive: boolean, root: string, onRefused: RefusedHandler): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries) {
    if (IN_PROGRESS.test(entry.name)) continue;
    const full = join(dir, entry.name);
    const kind = entry.isSymbolicLink() ? await followLink(full, root, onRefused) : entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : undefined;
    if (kind === 'dir') {
      if (recursive && !entry.isSymbolicLink()) out.push(...(await walk(full, true, root, onRefused)));
    } else if (kind === 'file') {
      out.push(full);
    }
  }
  return out;
}

function toSlashes(path: string): string {
  return path.split(sep).join('/');
}

/** Called with the files of an inbox folder that its pattern does not take (READMEs aside). */
export type IgnoredHandler = (folder: string, pattern: string, names: readonly string[]) => void;

async function listSource(
  source: Extract<ResolvedSource, { kind: 'path' }>,
  spec: SourceSpec,
  onRefused: RefusedHandler,
  onIgnored?: IgnoredHandler,
): Promise<string[]> {
  if (hasGlob(source.path)) {
    const parts = toSlashes(source.path).split('/');
    const firstGlob = parts.findIndex(hasGlob);
    const base = parts.slice(0, firstGlob).join('/') || '/';
    const rest = parts.slice(firstGlob).join('/');
    const matcher = globToRegExp(rest);
    const recursive = rest.includes('/') || rest.includes('**');
    let files: string[];
    try {
      files = await walk(base, recursive, base, onRefused);
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
  const marker = spec.datasetMarker;
  if (marker && existsSync(join(source.path, marker))) return [source.path];
  const matcher = globToRegExp(source.pattern);
  const entries = await readdir(source.path, { withFileTypes: true });
  const out: string[] = [];
  const ignored: string[] = [];
  for (const entry of entries) {
    if (IN_PROGRESS.test(entry.name)) continue;
    const full = join(source.path, entry.name);
    const kind = entry.isSymbolicLink() ? await followLink(full, source.path, onRefused) : entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : undefined;
    if (kind === 'file' && matcher.test(entry.name)) out.push(full);
    else if (kind === 'dir' && marker && existsSync(join(full, marker))) out.push(full);
    else if (kind === 'file' && !/^readme(\.[a-z]+)?$|^provenance/i.test(entry.name)) ignored.push(entry.name);
  }
  if (ignored.length > 0) onIgnored?.(source.path, source.pattern, ignored.sort());
  return out;
}

/**
 * What the file system says about a file's bytes: device, inode, size, and the modification and
 * status-change times in nanoseconds. Any write, truncation or replacement changes it; the
 * status-change time (ctime) cannot be set back by a program, as the modification time can.
 * Equal stamps before hashing and after reading mean the bytes read are the bytes hashed.
 */
export async function fileStamp(path: string): Promise<string> {
  const s = await stat(path, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/** The stamp of a unit: a file, or the content files of a dataset folder. */
export async function unitStamp(path: string, members?: readonly string[]): Promise<string> {
  if (!members) return fileStamp(path);
  const parts: string[] = [];
  for (const name of [...members].sort()) parts.push(`${name}=${await fileStamp(join(path, name))}`);
  return parts.join(';');
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

async function requireMembers(path: string, files: readonly string[]): Promise<void> {
  for (const name of files) {
    if (!existsSync(join(path, name))) {
      throw new InputFileError({ file: path }, `the dataset folder has no ${name}`, `files ${(await readdir(path)).join(', ')}`, `${files.join(' and ')}`);
    }
  }
}

/** A dataset folder's identity: the SHA-256 over its content files' names and hashes. */
async function sha256Folder(path: string, files: readonly string[]): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for (const name of [...files].sort()) {
    const file = join(path, name);
    await requireMembers(path, [name]);
    const one = await sha256File(file);
    hash.update(`${name}\0${one.sha256}\n`);
    size += one.sizeBytes;
  }
  return { sha256: hash.digest('hex'), sizeBytes: size };
}

export interface DiscoverOptions {
  readonly sources: readonly ResolvedSource[];
  readonly baseDir: string;
  readonly spec: SourceSpec;
  readonly runtime: PipelineRuntime;
  readonly fetch?: Fetcher | undefined;
  /** Fill partition placeholders of URL templates ({yyyy}, {q}, …) for this partition. */
  readonly partitionKey?: string | undefined;
  readonly partitions?: PartitionSpec | undefined;
  readonly now?: Date;
  readonly onRefused?: RefusedHandler;
  readonly onIgnored?: IgnoredHandler;
}

export async function discoverFiles(options: DiscoverOptions): Promise<DiscoveredFile[]> {
  const { sources, baseDir, spec } = options;
  const seen = new Set<string>();
  const found: { path: string; uri: string; key?: string }[] = [];
  for (const source of sources) {
    if (source.kind === 'url') {
      const urls = (spec.expandUrl ? spec.expandUrl(source.url, options.runtime) : [source.url]).map((url) => {
        if (!PARTITION_PLACEHOLDER.test(url)) return url;
        const key = options.partitionKey ?? options.partitions?.current?.(options.now ?? new Date());
        if (!key) throw new ConfigError(`the source URL ${url} has partition placeholders, but pipeline ${options.runtime.pipeline} has no partitions to fill them`);
        return fillPartition(url, key);
      });
      for (const url of urls) {
        if (seen.has(url)) continue;
        seen.add(url);
        if (!options.fetch) throw new Error(`no fetcher configured for URL sources (${url})`);
        const fetched = await options.fetch(url, spec.expectContentType);
        // A page that links to the data (a file whose URL changes with each release): fetch what it
        // links to, kept under the page's URL so that a new release replaces the previous one.
        const linked = spec.linkedData ? await spec.linkedData({ path: fetched.path, url }, options.runtime) : undefined;
        if (linked !== undefined) {
          const data = await options.fetch(linked, spec.expectContentType);
          found.push({ path: data.path, uri: linked, key: url });
          continue;
        }
        found.push({ path: fetched.path, uri: url, key: url });
      }
      continue;
    }
    for (const path of (await listSource(source, spec, options.onRefused ?? (() => {}), options.onIgnored)).sort()) {
      if (seen.has(path)) continue;
      seen.add(path);
      found.push({ path, uri: path });
    }
  }
  const files: DiscoveredFile[] = [];
  for (const f of found) {
    let isFolder: boolean;
    try {
      isFolder = (await stat(f.path)).isDirectory();
    } catch (error) {
      // Listed a moment ago, gone now (moved away by whoever tidies the inbox): not a source any more.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const members = isFolder ? (spec.datasetFiles ?? [spec.datasetMarker ?? '']) : undefined;
    let hashed: { sha256: string; sizeBytes: number };
    let before: string;
    const rel = relative(baseDir, f.path);
    const sourceKey = f.key ?? (isAbsolute(rel) ? toSlashes(f.path) : toSlashes(rel));
    try {
      if (members) await requireMembers(f.path, members);
      before = await unitStamp(f.path, members);
      hashed = members ? await sha256Folder(f.path, members) : await sha256File(f.path);
    } catch (error) {
      if (error instanceof InputFileError) {
        files.push({ path: f.path, uri: f.uri, sourceKey, sizeBytes: 0, sha256: '', problem: error });
        continue;
      }
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    // A writer still at work changes the stamp while the bytes are hashed: no stamp, so the run
    // leaves the unit for later instead of loading bytes other than those it hashed.
    const after = await unitStamp(f.path, members).catch(() => undefined);
    files.push({ path: f.path, uri: f.uri, sourceKey, sizeBytes: hashed.sizeBytes, sha256: hashed.sha256, stamp: after === before ? after : undefined });
  }
  return files;
}

/** A short name for a unit in messages: the URL, or the path relative to the working folder. */
export function describeUnit(file: DiscoveredFile): string {
  return file.uri === file.path ? displayPath(file.path) : file.uri;
}

/** A discovered unit's stamp as it is now: a file, or a dataset folder's content files. */
export async function stampOf(path: string, spec: SourceSpec): Promise<string> {
  const isFolder = (await stat(path)).isDirectory();
  return unitStamp(path, isFolder ? (spec.datasetFiles ?? [spec.datasetMarker ?? '']) : undefined);
}

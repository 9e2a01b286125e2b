import { closeSync, cpSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, makeZip, patchEntryName, type ZipEntry } from '../fixtures/sec/fsds/make-zip.js';
import { BAD_DIR, type GeneratorSpec } from './cases.js';

/**
 * Inputs too large or too binary to commit, written at test time into a temporary folder:
 * a byte-order mark, CRLF line ends, Latin-1 bytes, a 50 MB line, a truncated document,
 * JSON nested 10,000 deep, and zips (truncated, an entry escaping the archive, 100× a size cap,
 * a CRC-32 that does not match, num.txt twice), and one piece of text replaced in a fixture.
 * Each generator starts from a small committed fixture (real figures) and breaks it.
 */

function source(spec: GeneratorSpec): string {
  if (!spec.from) throw new Error(`generator ${spec.kind} (${spec.name}) needs from`);
  return join(BAD_DIR, spec.from);
}

function num(spec: GeneratorSpec, key: string): number {
  const value = spec[key];
  if (typeof value !== 'number') throw new Error(`generator ${spec.kind} (${spec.name}) needs a number ${key}`);
  return value;
}

function str(spec: GeneratorSpec, key: string): string {
  const value = spec[key];
  if (typeof value !== 'string') throw new Error(`generator ${spec.kind} (${spec.name}) needs ${key}`);
  return value;
}

/** Write `bytes` copies of `fill` (one byte) in 1 MiB blocks, without building the whole string. */
function writeFill(fd: number, fill: string, bytes: number): void {
  const block = Buffer.alloc(Math.min(bytes, 1024 * 1024), fill);
  let left = bytes;
  while (left > 0) {
    const n = Math.min(left, block.length);
    writeSync(fd, block, 0, n);
    left -= n;
  }
}

/** The lines of num.txt repeated (after its header) until the text reaches `size` bytes. */
function inflate(text: string, size: number): Buffer {
  const [header, ...rows] = text.split('\n').filter((l) => l !== '');
  const body = rows.join('\n') + '\n';
  const parts = [header + '\n'];
  let length = parts[0]!.length;
  while (length < size) {
    parts.push(body);
    length += body.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

/** `find` replaced by `with`, once; a fixture that no longer holds `find` is an error, not a case that tests nothing. */
function replaceOnce(spec: GeneratorSpec, text: string): string {
  const find = str(spec, 'find');
  // A {fill} in `with` becomes `bytes` copies of `fill` (a number with 17,000 decimals).
  const by = spec.fill === undefined ? str(spec, 'with') : str(spec, 'with').replace('{fill}', str(spec, 'fill').repeat(num(spec, 'bytes')));
  const at = text.indexOf(find);
  if (at === -1) throw new Error(`generator ${spec.kind} (${spec.name}): ${JSON.stringify(find)} is not in ${spec.from}`);
  return text.slice(0, at) + by + text.slice(at + find.length);
}

/** One entry of a zip listed in the spec: a file of the folder under another name, perhaps cut to its header or edited. */
interface ZipEntrySpec {
  readonly name: string;
  /** The folder's file it holds (default: name). */
  readonly from?: string;
  /** Only the header line. */
  readonly header_only?: boolean;
  /** [find, with]: the text edited after its CRC-32 was taken, so the headers keep the CRC of the text as filed. */
  readonly edit_after_crc?: readonly [string, string];
}

function listedEntry(spec: GeneratorSpec, folder: string, e: ZipEntrySpec, method: 'store' | 'deflate'): ZipEntry {
  const original = readFileSync(join(folder, e.from ?? e.name), 'utf8');
  const text = e.header_only ? original.slice(0, original.indexOf('\n') + 1) : original;
  if (!e.edit_after_crc) return { name: e.name, data: text, method };
  const [find, by] = e.edit_after_crc;
  if (!text.includes(find)) throw new Error(`generator ${spec.kind} (${spec.name}): ${JSON.stringify(find)} is not in ${e.from ?? e.name}`);
  return { name: e.name, data: text.replace(find, by), method, crc: crc32(Buffer.from(text, 'utf8')) };
}

/** Bytes of the finished zip changed in place, as a bad disk or a damaged download would: [find, with], same length, found once. */
function corrupt(spec: GeneratorSpec, zip: Buffer): Buffer {
  const [find, by] = (spec.corrupt as [string, string]).map((t) => Buffer.from(t, 'utf8')) as [Buffer, Buffer];
  const at = zip.indexOf(find);
  if (find.length !== by.length || at === -1 || zip.indexOf(find, at + 1) !== -1) {
    throw new Error(`generator ${spec.kind} (${spec.name}): corrupt needs two texts of one length, the first found once in the zip (stored entries)`);
  }
  const out = Buffer.from(zip);
  by.copy(out, at);
  return out;
}

/** Build the input the spec describes inside `dir`; returns its path (a file or a dataset folder). */
export function generate(spec: GeneratorSpec, dir: string): string {
  const out = join(dir, spec.name);
  switch (spec.kind) {
    case 'bom':
      writeFileSync(out, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(source(spec))]));
      return out;
    case 'crlf':
      writeFileSync(out, readFileSync(source(spec), 'utf8').replace(/\r?\n/g, '\r\n'));
      return out;
    case 'mixed-eol': {
      // CRLF line ends, but the lines listed in lf_lines end in a bare LF (a file edited in two editors).
      const lf = new Set(spec.lf_lines as number[] | undefined);
      const lines = readFileSync(source(spec), 'utf8').replace(/\r?\n$/, '').split(/\r?\n/);
      writeFileSync(out, lines.map((l, i) => l + (lf.has(i + 1) ? '\n' : '\r\n')).join(''));
      return out;
    }
    case 'copy':
      // The file under another name (an upper-case extension, say).
      cpSync(source(spec), out, { recursive: true });
      return out;
    case 'latin1': {
      // Text re-encoded as Latin-1: é and ü become the single bytes 0xe9 and 0xfc, which are not UTF-8.
      const from = source(spec);
      const replace = spec.replace as [string, string] | undefined;
      const recode = (text: string) => Buffer.from(replace ? text.split(replace[0]).join(replace[1]) : text, 'latin1');
      if (statSync(from).isDirectory()) {
        cpSync(from, out, { recursive: true });
        const file = join(out, str(spec, 'file'));
        writeFileSync(file, recode(readFileSync(file, 'utf8')));
      } else {
        writeFileSync(out, recode(readFileSync(from, 'utf8')));
      }
      return out;
    }
    case 'append-line': {
      // The base file, then one line whose {fill} is `bytes` bytes long (a 50 MB field).
      const [before, after] = str(spec, 'line').split('{fill}') as [string, string];
      const fd = openSync(out, 'w');
      try {
        writeSync(fd, readFileSync(source(spec)));
        writeSync(fd, before);
        writeFill(fd, str(spec, 'fill'), num(spec, 'bytes'));
        writeSync(fd, `${after}\n`);
      } finally {
        closeSync(fd);
      }
      return out;
    }
    case 'one-line': {
      // A single line of `bytes` bytes with no line end at all.
      const fd = openSync(out, 'w');
      try {
        writeFill(fd, str(spec, 'fill'), num(spec, 'bytes'));
      } finally {
        closeSync(fd);
      }
      return out;
    }
    case 'truncate': {
      const whole = readFileSync(source(spec));
      writeFileSync(out, whole.subarray(0, Math.floor(whole.length * num(spec, 'keep'))));
      return out;
    }
    case 'deep-json': {
      // [[[[…]]]] nested `depth` deep: valid JSON, but no companyfacts document.
      const depth = num(spec, 'depth');
      writeFileSync(out, '['.repeat(depth) + ']'.repeat(depth) + '\n');
      return out;
    }
    case 'deep-json-value': {
      // One fact's value replaced by {"a":{"a":…1…}} nested `depth` deep.
      const depth = num(spec, 'depth');
      const text = readFileSync(source(spec), 'utf8');
      const find = str(spec, 'find');
      if (!text.includes(find)) throw new Error(`generator ${spec.name}: ${find} is not in ${spec.from}`);
      const key = find.slice(0, find.indexOf(':') + 1);
      writeFileSync(out, text.replace(find, `${key} ${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));
      return out;
    }
    case 'empty':
      writeFileSync(out, '');
      return out;
    case 'replace': {
      // One piece of text replaced: in a file, or in one `file` of a dataset folder.
      const from = source(spec);
      if (statSync(from).isDirectory()) {
        cpSync(from, out, { recursive: true });
        const file = join(out, str(spec, 'file'));
        writeFileSync(file, replaceOnce(spec, readFileSync(file, 'utf8')));
      } else {
        writeFileSync(out, replaceOnce(spec, readFileSync(from, 'utf8')));
      }
      return out;
    }
    case 'zip': {
      // A data set zip from a folder, optionally broken: truncated, an entry renamed to
      // ../num.txt, only some entries, num.txt inflated (and its declared size falsified),
      // entries listed one by one (a second num.txt, another name, text that no longer matches
      // the CRC-32 in the headers), stored instead of deflated, or bytes of the finished zip changed.
      const from = source(spec);
      const only = spec.only as string[] | undefined;
      const escape = spec.escape === true;
      const method = spec.method === 'store' ? 'store' : 'deflate';
      const listed = spec.entries as ZipEntrySpec[] | undefined;
      const entries: ZipEntry[] = listed
        ? listed.map((e) => listedEntry(spec, from, e, method))
        : readdirSync(from)
            .sort()
            .filter((name) => !only || only.includes(name))
            .map((name) => {
              let data: Buffer = readFileSync(join(from, name));
              let declaredSize: number | undefined;
              if (name === 'num.txt' && typeof spec.inflate_num_to === 'number') {
                data = inflate(data.toString('utf8'), spec.inflate_num_to);
                if (typeof spec.declare_num_size === 'number') declaredSize = spec.declare_num_size;
              }
              return { name: escape && name === 'num.txt' ? 'ab/num.txt' : name, data, method, ...(declaredSize !== undefined ? { declaredSize } : {}) };
            });
      let zip = makeZip(entries);
      if (escape) zip = patchEntryName(zip, 'ab/num.txt', '../num.txt');
      if (spec.corrupt !== undefined) zip = corrupt(spec, zip);
      if (typeof spec.truncate === 'number') zip = zip.subarray(0, Math.floor(zip.length * spec.truncate));
      writeFileSync(out, zip);
      return out;
    }
  }
}

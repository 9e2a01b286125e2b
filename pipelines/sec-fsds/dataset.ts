import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import { InputFileError } from '../../src/sdk.js';

/**
 * An SEC financial statement data set is a quarter's folder or zip holding sub.txt,
 * num.txt and friends. This opens either form and hands out its files as streams, checking
 * an archive before anything is read: it must be a complete zip, no entry may point outside
 * the archive, and entries may not expand beyond the configured size or ratio (a zip bomb).
 * Each member a reader needs must be there exactly once: names are compared without case (and,
 * in a zip, without folder), so a second num.txt is an error instead of a silent choice.
 * Every entry read from a zip is checked against the CRC-32 the archive records for it
 * (yauzl does not check it): a flipped digit in a stored entry fails the file instead of loading.
 */

export interface ArchiveLimits {
  readonly max_uncompressed_bytes: number;
  readonly max_expansion_ratio: number;
}

export interface Dataset {
  /** Name used in messages, e.g. 2025q1.zip or the folder. */
  readonly label: string;
  /** Fails unless each member (lower case, e.g. num.txt) is in the data set exactly once. */
  require(names: readonly string[]): void;
  open(name: string): Promise<NodeJS.ReadableStream>;
  close(): void;
}

/** `"a" (entry 2) and "b" (entry 3)`: a list for a message. */
function listed(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function missingMember(path: string, name: string): InputFileError {
  return new InputFileError({ file: path }, `the data set has no ${name}`, undefined, 'an SEC financial statement data set with sub.txt and num.txt');
}

export async function openDataset(path: string, limits: ArchiveLimits): Promise<Dataset> {
  if (statSync(path).isDirectory()) return openFolder(path);
  return openZip(path, limits);
}

function openFolder(path: string): Dataset {
  // Lower-case name → the folder's files of that name (two on a case-sensitive file system).
  const files = new Map<string, string[]>();
  for (const n of readdirSync(path).sort()) {
    const key = n.toLowerCase();
    files.set(key, [...(files.get(key) ?? []), n]);
  }
  const only = (name: string): string => {
    const found = files.get(name) ?? [];
    if (found.length > 1) {
      throw new InputFileError(
        { file: path },
        `the data set holds more than one ${name}`,
        `files ${listed(found.map((n) => JSON.stringify(n)))}`,
        `exactly one ${name} (names compared without case)`,
      );
    }
    if (found.length === 0 || !existsSync(join(path, found[0]!))) {
      throw new InputFileError({ file: path }, `the data set has no ${name}`, `files ${[...files.values()].flat().join(', ')}`, 'sub.txt and num.txt');
    }
    return found[0]!;
  };
  return {
    label: path,
    require(names) {
      for (const name of names) only(name);
    },
    async open(name) {
      return createReadStream(join(path, only(name)));
    },
    close() {},
  };
}

function zipError(path: string, error: Error): InputFileError {
  const message = error.message;
  if (/end of central directory record signature not found|truncated|unexpected EOF|invalid .* signature/i.test(message)) {
    return new InputFileError({ file: path }, `not a complete zip archive (${message})`, undefined, 'a whole SEC financial statement data set zip (download it again)');
  }
  if (/invalid relative path|absolute path/i.test(message)) {
    return new InputFileError({ file: path }, `the archive has an entry that points outside it (${message})`, undefined, 'entries named like num.txt');
  }
  return new InputFileError({ file: path }, `cannot read the zip archive: ${message}`);
}

/** An error while an entry is read: a size that differs from its header is a bomb or a corrupt archive. */
function entryError(path: string, name: string, declared: number, error: Error): InputFileError {
  if (/too many bytes in the stream|not enough bytes in the stream/i.test(error.message)) {
    return new InputFileError(
      { file: `${path}:${name}` },
      'the archive entry does not hold the number of bytes its header declares (a zip bomb, or a corrupt archive)',
      error.message,
      `${declared} bytes uncompressed, as declared`,
    );
  }
  return zipError(path, error);
}

function openZip(path: string, limits: ArchiveLimits): Promise<Dataset> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: false, validateEntrySizes: true, decodeStrings: true }, (error, zip) => {
      if (error || !zip) {
        reject(zipError(path, error ?? new Error('unknown error')));
        return;
      }
      // Lower-case base name → the entries of that name, with their ordinal in the archive.
      const entries = new Map<string, ZipMember[]>();
      let ordinal = 0;
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        zip.close();
        reject(e instanceof InputFileError ? e : zipError(path, e));
      };
      zip.on('error', fail);
      zip.on('entry', (entry: yauzl.Entry) => {
        ordinal++;
        const name = entry.fileName;
        if (name.split(/[\\/]/).includes('..') || name.startsWith('/') || /^[a-z]:/i.test(name)) {
          fail(new InputFileError({ file: path }, `the archive entry "${name}" points outside the archive`, JSON.stringify(name), 'entries named like num.txt'));
          return;
        }
        if (!name.endsWith('/')) {
          const base = name.slice(name.lastIndexOf('/') + 1).toLowerCase();
          entries.set(base, [...(entries.get(base) ?? []), { entry, ordinal }]);
        }
        zip.readEntry();
      });
      zip.on('end', () => {
        if (failed) return;
        resolve(zipDataset(path, zip, entries, limits));
      });
      zip.readEntry();
    });
  });
}

interface ZipMember {
  readonly entry: yauzl.Entry;
  /** 1-based position in the archive's central directory, for messages. */
  readonly ordinal: number;
}

function hex(crc: number): string {
  return `0x${crc.toString(16).padStart(8, '0')}`;
}

function zipDataset(path: string, zip: yauzl.ZipFile, entries: Map<string, ZipMember[]>, limits: ArchiveLimits): Dataset {
  const only = (name: string): yauzl.Entry => {
    const found = entries.get(name) ?? [];
    if (found.length === 0) throw missingMember(path, name);
    if (found.length > 1) {
      throw new InputFileError(
        { file: path },
        `the archive holds more than one ${name}`,
        `entries ${listed(found.map((m) => `${JSON.stringify(m.entry.fileName)} (entry ${m.ordinal})`))}`,
        `exactly one ${name} (names compared without case or folder)`,
      );
    }
    return found[0]!.entry;
  };
  return {
    label: path,
    require(names) {
      for (const name of names) only(name);
    },
    open(name) {
      let entry: yauzl.Entry;
      try {
        entry = only(name);
      } catch (error) {
        return Promise.reject(error as Error);
      }
      const declared = entry.uncompressedSize;
      const ratio = declared / Math.max(1, entry.compressedSize);
      if (declared > limits.max_uncompressed_bytes) {
        return Promise.reject(
          new InputFileError({ file: `${path}:${name}` }, 'the archive entry is too large to read', `${declared} bytes uncompressed`, `at most ${limits.max_uncompressed_bytes} (archives.max_uncompressed_bytes)`),
        );
      }
      if (ratio > limits.max_expansion_ratio) {
        return Promise.reject(
          new InputFileError(
            { file: `${path}:${name}` },
            'the archive entry expands suspiciously (a zip bomb?)',
            `${ratio.toFixed(0)}× its compressed size`,
            `at most ${limits.max_expansion_ratio}× (archives.max_expansion_ratio)`,
          ),
        );
      }
      return new Promise((resolve, reject) => {
        zip.openReadStream(entry, (error, stream) => {
          if (error || !stream) {
            reject(zipError(path, error ?? new Error('cannot open entry')));
            return;
          }
          // Count what actually comes out, whatever the header declared, and check its CRC-32
          // at the end: rows already handed on are discarded with the failed file.
          let seen = 0;
          let crc = 0;
          const guard = new Transform({
            transform(chunk: Buffer, _enc, done) {
              seen += chunk.length;
              if (seen > limits.max_uncompressed_bytes) {
                done(new InputFileError({ file: `${path}:${name}` }, 'the archive entry expands beyond the limit', `more than ${limits.max_uncompressed_bytes} bytes`, 'archives.max_uncompressed_bytes at most'));
                return;
              }
              crc = crc32(chunk, crc);
              done(null, chunk);
            },
            flush(done) {
              if (crc !== entry.crc32) {
                done(
                  new InputFileError(
                    { file: `${path}:${entry.fileName}` },
                    'the archive entry is corrupt: its bytes do not match the CRC-32 the archive records',
                    hex(crc),
                    hex(entry.crc32),
                  ),
                );
                return;
              }
              done();
            },
          });
          stream.on('error', (e: Error) => guard.destroy(entryError(path, name, declared, e)));
          resolve(stream.pipe(guard));
        });
      });
    },
    close() {
      zip.close();
    },
  };
}

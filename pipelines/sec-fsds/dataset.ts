import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import yauzl from 'yauzl';
import { InputFileError } from '../../src/errors.js';

/**
 * An SEC financial statement data set is a quarter's folder or zip holding sub.txt,
 * num.txt and friends. This opens either form and hands out its files as streams, checking
 * an archive before anything is read: it must be a complete zip, no entry may point outside
 * the archive, and entries may not expand beyond the configured size or ratio (a zip bomb).
 */

export interface ArchiveLimits {
  readonly max_uncompressed_bytes: number;
  readonly max_expansion_ratio: number;
}

export interface Dataset {
  /** Name used in messages, e.g. 2025q1.zip or the folder. */
  readonly label: string;
  has(name: string): boolean;
  open(name: string): Promise<NodeJS.ReadableStream>;
  close(): void;
}

export async function openDataset(path: string, limits: ArchiveLimits): Promise<Dataset> {
  if (statSync(path).isDirectory()) return openFolder(path);
  return openZip(path, limits);
}

function openFolder(path: string): Dataset {
  const names = new Map(readdirSync(path).map((n) => [n.toLowerCase(), n]));
  return {
    label: path,
    has: (name) => names.has(name),
    async open(name) {
      const actual = names.get(name);
      if (!actual || !existsSync(join(path, actual))) {
        throw new InputFileError({ file: path }, `the data set has no ${name}`, `files ${[...names.values()].join(', ')}`, 'sub.txt and num.txt');
      }
      return createReadStream(join(path, actual));
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
      const entries = new Map<string, yauzl.Entry>();
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        zip.close();
        reject(e instanceof InputFileError ? e : zipError(path, e));
      };
      zip.on('error', fail);
      zip.on('entry', (entry: yauzl.Entry) => {
        const name = entry.fileName;
        if (name.split(/[\\/]/).includes('..') || name.startsWith('/') || /^[a-z]:/i.test(name)) {
          fail(new InputFileError({ file: path }, `the archive entry "${name}" points outside the archive`, JSON.stringify(name), 'entries named like num.txt'));
          return;
        }
        if (!name.endsWith('/')) {
          const base = name.slice(name.lastIndexOf('/') + 1).toLowerCase();
          if (!entries.has(base)) entries.set(base, entry);
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

function zipDataset(path: string, zip: yauzl.ZipFile, entries: Map<string, yauzl.Entry>, limits: ArchiveLimits): Dataset {
  return {
    label: path,
    has: (name) => entries.has(name),
    open(name) {
      const entry = entries.get(name);
      if (!entry) {
        return Promise.reject(
          new InputFileError({ file: path }, `the archive has no ${name}`, `entries ${[...entries.keys()].join(', ') || '(none)'}`, 'sub.txt and num.txt'),
        );
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
          // Count what actually comes out, whatever the header declared.
          let seen = 0;
          const guard = new Transform({
            transform(chunk: Buffer, _enc, done) {
              seen += chunk.length;
              if (seen > limits.max_uncompressed_bytes) {
                done(new InputFileError({ file: `${path}:${name}` }, 'the archive entry expands beyond the limit', `more than ${limits.max_uncompressed_bytes} bytes`, 'archives.max_uncompressed_bytes at most'));
                return;
              }
              done(null, chunk);
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

import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import Papa from 'papaparse';
import { InputFileError } from '../errors.js';

/**
 * Streams a delimited text file through papaparse in chunk mode (the fast one: the
 * duplex-stream mode is ~30× slower) and hands rows on in batches, each with the line it
 * starts on. Encoding is checked strictly: bytes that are not UTF-8 fail the file with their
 * byte offset and line, instead of turning into U+FFFD and loading as garbage.
 */

export interface CsvRecord {
  /** 1-based line on which the row starts. */
  readonly line: number;
  readonly fields: readonly string[];
  /** papaparse found a stray quote inside this row; the row's fields may be wrong. */
  readonly malformedQuotes: boolean;
}

export interface CsvReadOptions {
  /** The file to read, and the name used in messages. */
  readonly file: string;
  /** Opens the bytes to read instead of `file` (an entry inside an archive). */
  readonly open?: () => NodeJS.ReadableStream;
  readonly delimiter: string;
  /**
   * false for formats without quoting (SEC financial statement data sets): a double quote
   * is data, fields never span lines, and papaparse's fast mode applies.
   */
  readonly quoting?: boolean;
  /** Called once with the first non-blank row. */
  readonly onHeader: (fields: readonly string[], line: number) => void;
  /** Called with each batch of data rows; reading waits for the promise. */
  readonly onRows: (rows: readonly CsvRecord[]) => Promise<void>;
}

export interface CsvReadResult {
  readonly dataRows: number;
  readonly blankLines: number;
  readonly lines: number;
}

/** Decodes UTF-8 strictly; reports the first invalid byte's offset and line. */
class StrictUtf8Decoder extends Transform {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private offset = 0;
  private newlines = 0;
  /**
   * Text held back until a line ends. papaparse parses its unfinished last line again with
   * every chunk, so a 50 MB line fed in 64 KB chunks took minutes (quadratic); fed whole, it
   * takes a moment. Chunks of ordinary files all hold line ends and pass straight through.
   */
  private held: string[] = [];
  /** A carriage return that ended the last text passed on: it may pair with a line feed that starts the next. */
  private pendingCr = false;

  constructor(private readonly file: string) {
    super({ readableObjectMode: false, decodeStrings: true, encoding: 'utf8' });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      const text = this.decoder.decode(chunk, { stream: true });
      this.offset += chunk.length;
      const newlines = countByte(chunk, 0x0a);
      this.newlines += newlines;
      if (newlines === 0) {
        this.held.push(text);
        done();
        return;
      }
      done(null, this.release(text));
    } catch {
      done(this.encodingError(chunk));
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      const rest = this.release(this.decoder.decode());
      const cr = this.pendingCr ? '\r' : '';
      this.pendingCr = false;
      done(null, rest + cr);
    } catch {
      done(
        new InputFileError(
          { file: this.file, line: this.newlines + 1 },
          'the file ends in the middle of a UTF-8 character (truncated?)',
          `${this.offset} bytes`,
          'complete UTF-8 text',
        ),
      );
    }
  }

  private release(text: string): string {
    if (this.held.length === 0) return this.lineFeeds(text);
    this.held.push(text);
    const all = this.held.join('');
    this.held = [];
    return this.lineFeeds(all);
  }

  /**
   * CRLF becomes LF. papaparse takes the first line ending it meets as the file's and splits on
   * that alone, so in a CRLF file a line that ends in a bare LF ran on into the next line (and
   * that line was neither loaded nor counted). Line numbers count LFs, which this keeps.
   */
  private lineFeeds(text: string): string {
    if (this.pendingCr) {
      text = '\r' + text;
      this.pendingCr = false;
    }
    if (text.indexOf('\r') === -1) return text;
    if (text.endsWith('\r')) {
      this.pendingCr = true;
      text = text.slice(0, -1);
    }
    return text.replace(/\r\n/g, '\n');
  }

  private encodingError(chunk: Buffer): InputFileError {
    const bad = firstInvalidUtf8(chunk);
    const at = this.offset + bad;
    const line = this.newlines + countByte(chunk.subarray(0, bad), 0x0a) + 1;
    const byte = chunk[bad];
    return new InputFileError(
      { file: this.file, line },
      `bytes that are not UTF-8 at byte offset ${at}`,
      byte === undefined ? 'an incomplete character' : `0x${byte.toString(16).padStart(2, '0')}`,
      'UTF-8 text (re-save the file as UTF-8)',
    );
  }
}

function countByte(buf: Buffer, byte: number): number {
  let n = 0;
  let i = buf.indexOf(byte);
  while (i !== -1) {
    n++;
    i = buf.indexOf(byte, i + 1);
  }
  return n;
}

/** Index of the first byte that starts an invalid UTF-8 sequence (approximate at chunk starts). */
export function firstInvalidUtf8(buf: Buffer): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    let need = 0;
    if (b < 0x80) need = 0;
    else if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) need = 2;
    else if (b >= 0xf0 && b <= 0xf4) need = 3;
    else return i;
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined) return i;
      if ((c & 0xc0) !== 0x80) return i;
    }
    i += need + 1;
  }
  return Math.max(0, buf.length - 1);
}

function countNewlines(fields: readonly string[]): number {
  let n = 0;
  for (const field of fields) {
    let i = field.indexOf('\n');
    while (i !== -1) {
      n++;
      i = field.indexOf('\n', i + 1);
    }
  }
  return n;
}

export function readCsvFile(options: CsvReadOptions): Promise<CsvReadResult> {
  const { file, delimiter } = options;
  return new Promise<CsvReadResult>((resolvePromise, rejectPromise) => {
    let line = 1;
    let headerSeen = false;
    let dataRows = 0;
    let blankLines = 0;
    let failed = false;
    const input = options.open ? options.open() : createReadStream(file);
    const decoded = input.pipe(new StrictUtf8Decoder(file));

    // Mark the failure before aborting the parser: papaparse's abort() calls complete() synchronously.
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      (input as { destroy?: () => void }).destroy?.();
      decoded.destroy();
      rejectPromise(error);
    };
    (input as NodeJS.ReadableStream & { on(event: 'error', cb: (e: Error) => void): void }).on('error', fail);
    decoded.on('error', fail);

    const quoting = options.quoting ?? true;
    Papa.parse<string[]>(decoded as unknown as File, {
      delimiter,
      header: false,
      ...(quoting ? {} : { fastMode: true, quoteChar: '\u0000' }),
      skipEmptyLines: false,
      dynamicTyping: false,
      chunk(results, parser) {
        if (failed) return;
        const stray = new Set<number>();
        for (const error of results.errors) {
          if (error.code === 'MissingQuotes') {
            const row = results.data[error.row ?? 0] ?? [];
            const startLine = line + lineOffsetOfRow(results.data, error.row ?? 0);
            fail(
              new InputFileError(
                { file, line: startLine },
                'a quoted field is never closed, so the rest of the file cannot be read',
                JSON.stringify(Papa.unparse([row as string[]], { delimiter }).slice(0, 80)),
                'a closing double quote before the end of the field',
              ),
            );
            parser.abort();
            return;
          }
          if (error.code === 'InvalidQuotes' && error.row !== undefined) stray.add(error.row);
        }
        const batch: CsvRecord[] = [];
        const rows = results.data;
        for (let r = 0; r < rows.length; r++) {
          const fields = rows[r]!;
          const startLine = line;
          line += 1 + countNewlines(fields);
          if (fields.length === 1 && fields[0] === '') {
            blankLines++;
            continue;
          }
          if (!headerSeen) {
            headerSeen = true;
            try {
              options.onHeader(fields, startLine);
            } catch (error) {
              fail(error);
              parser.abort();
              return;
            }
            continue;
          }
          dataRows++;
          batch.push({ line: startLine, fields, malformedQuotes: stray.has(r) });
        }
        if (batch.length === 0) return;
        // Pause the byte stream too: papaparse's own pause keeps queueing incoming data.
        parser.pause();
        decoded.pause();
        options.onRows(batch).then(
          () => {
            if (failed) return;
            decoded.resume();
            parser.resume();
          },
          (error: unknown) => {
            fail(error);
            parser.abort();
          },
        );
      },
      complete() {
        if (failed) return;
        if (!headerSeen) {
          fail(new InputFileError({ file, line: 1 }, 'the file is empty', 'no header line', 'a header line naming the columns'));
          return;
        }
        // The last line of a file that ends with a newline is not a line of its own.
        resolvePromise({ dataRows, blankLines: Math.max(0, blankLines - 1), lines: line - 1 });
      },
      error(error: Error) {
        fail(error);
      },
    });
  });
}

function lineOffsetOfRow(rows: readonly (readonly string[])[], index: number): number {
  let offset = 0;
  for (let r = 0; r < index && r < rows.length; r++) offset += 1 + countNewlines(rows[r]!);
  return offset;
}

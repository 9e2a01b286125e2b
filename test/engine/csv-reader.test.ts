import { expect, it } from 'vitest';
import { readCsvFile, type CsvRecord } from '../../src/engine/csv-reader.js';
import { InputFileError } from '../../src/errors.js';
import { makeInbox, writeFile } from '../helpers/pipelines.js';

async function read(content: string | Buffer, delimiter = ',') {
  const path = writeFile(makeInbox(), 'f.csv', content);
  let header: { fields: readonly string[]; line: number } | undefined;
  const records: CsvRecord[] = [];
  const result = await readCsvFile({
    file: path,
    delimiter,
    onHeader: (fields, line) => (header = { fields, line }),
    onRows: async (rows) => void records.push(...rows),
  });
  return { header, records, result, path };
}

it('gives each row the line it starts on, across quoted newlines and blank lines', async () => {
  const { header, records, result } = await read('\nseries,note\na,"two\nlines"\n\nb,plain\nc,"x ""quoted"" y"\n');
  expect(header).toEqual({ fields: ['series', 'note'], line: 2 });
  expect(records.map((r) => [r.line, ...r.fields])).toEqual([
    [3, 'a', 'two\nlines'],
    [6, 'b', 'plain'],
    [7, 'c', 'x "quoted" y'],
  ]);
  expect(result).toMatchObject({ dataRows: 3 });
});

it('reads CRLF line endings and strips a byte-order mark', async () => {
  const { header, records } = await read(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a,b\r\n1,2\r\n3,4\r\n')]));
  expect(header!.fields).toEqual(['a', 'b']);
  expect(records.map((r) => [r.line, ...r.fields])).toEqual([
    [2, '1', '2'],
    [3, '3', '4'],
  ]);
});

it('reads tab-separated text when told to', async () => {
  const { records } = await read('adsh\tvalue\n0000320193-25-000079\t1.5\n', '\t');
  expect(records[0]!.fields).toEqual(['0000320193-25-000079', '1.5']);
});

it('keeps multi-byte characters split across stream chunks intact', async () => {
  const long = 'é'.repeat(70_000); // > 64 KiB read-stream chunk, 2 bytes each
  const { records } = await read(`a\n${long}\n`);
  expect(records[0]!.fields[0]).toBe(long);
});

it('fails an empty file with a clear message', async () => {
  const error = await read('').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InputFileError);
  expect((error as Error).message).toMatch(/f\.csv:1: the file is empty; got no header line; expected a header line naming the columns/);
});

it('fails on bytes that are not UTF-8, naming the line and byte offset', async () => {
  const error = await read(Buffer.from('a,b\n1,2\n3,\xff\n', 'latin1')).catch((e: unknown) => e);
  expect((error as Error).message).toMatch(/f\.csv:3: bytes that are not UTF-8 at byte offset 10; got 0xff; expected UTF-8 text/);
});

it('fails on a quote that never closes, naming the line where it opened', async () => {
  const error = await read('a,b\n1,2\n3,"open\n4,5\n').catch((e: unknown) => e);
  expect((error as Error).message).toMatch(/f\.csv:3: a quoted field is never closed/);
});

it('reads a quote inside an unquoted field as data, like PostgreSQL COPY does', async () => {
  const { records } = await read('a,b\n1,x"y\n2,"ok" \n');
  expect(records.map((r) => [...r.fields, r.malformedQuotes])).toEqual([
    ['1', 'x"y', false],
    ['2', 'ok', false],
  ]);
});

it('fails a file whose quoted field has text after its closing quote (the rest of the file would be swallowed)', async () => {
  const error = await read('a,b\n1,"ab"c\n2,3\n').catch((e: unknown) => e);
  expect((error as Error).message).toMatch(/f\.csv:2: a quoted field is never closed/);
});

import { open, readFile } from 'node:fs/promises';
import * as XLSX from '@e965/xlsx';
import { InputFileError } from '../../src/sdk.js';

/**
 * Shiller's workbook as he publishes it: ie_data.xls (Excel 97–2003, BIFF8), read with SheetJS
 * (the @e965/xlsx republication of SheetJS's own builds; the `xlsx` package on npm is a stale
 * release with known advisories). .xlsx is read the same way, should he switch.
 */

/** The first bytes of an OLE2 compound file (.xls) and of a zip (.xlsx). */
const OLE2 = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
const ZIP = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/** Whether the file is a workbook, by its bytes (a download's cached name says nothing). */
export async function isWorkbook(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await handle.read(head, 0, 8, 0);
    return (bytesRead === 8 && head.equals(OLE2)) || (bytesRead >= 4 && head.subarray(0, 4).equals(ZIP));
  } finally {
    await handle.close();
  }
}

export interface SheetRow {
  /** The spreadsheet's row number (1-based), so a reject points at the row Excel shows. */
  readonly line: number;
  readonly fields: readonly string[];
}

/**
 * The cells of one worksheet as text, row by row, as the sheet saved as CSV would hold them:
 * a number as JavaScript writes it in full (1999.1, not Excel's rounded display), text as it is,
 * an empty cell as '', an error cell as Excel shows it (#N/A).
 */
export async function readSheetRows(path: string, sheet: string): Promise<SheetRow[]> {
  let workbook: XLSX.WorkBook;
  try {
    workbook = XLSX.read(await readFile(path), { type: 'buffer', sheets: [sheet], cellFormula: false, cellHTML: false, cellStyles: false });
  } catch (error) {
    throw new InputFileError({ file: path }, 'not a readable Excel workbook', (error as Error).message, 'an .xls (BIFF8) or .xlsx workbook');
  }
  const ws = workbook.Sheets[sheet];
  if (!ws) {
    throw new InputFileError(
      { file: path },
      `the workbook has no sheet ${JSON.stringify(sheet)}`,
      `sheets ${workbook.SheetNames.map((n) => JSON.stringify(n)).join(', ')}`,
      `a sheet ${JSON.stringify(sheet)} (pipelines.shiller.options.sheet)`,
    );
  }
  const ref = ws['!ref'];
  if (!ref) return [];
  const range = XLSX.utils.decode_range(ref);
  const rows: SheetRow[] = [];
  for (let r = range.s.r; r <= range.e.r; r++) {
    const fields: string[] = [];
    for (let c = 0; c <= range.e.c; c++) fields.push(cellText(ws[XLSX.utils.encode_cell({ r, c })] as XLSX.CellObject | undefined));
    rows.push({ line: r + 1, fields });
  }
  return rows;
}

function cellText(cell: XLSX.CellObject | undefined): string {
  if (!cell || cell.v === undefined || cell.v === null) return '';
  switch (cell.t) {
    case 'n':
      return String(cell.v);
    case 'e':
      return cell.w ?? '#N/A';
    case 'b':
      return cell.v ? 'TRUE' : 'FALSE';
    case 'd':
      return cell.v instanceof Date ? cell.v.toISOString() : String(cell.v);
    default:
      return String(cell.v);
  }
}

/**
 * The URL of the workbook on a publisher's page: the first link (href) matching `pattern`,
 * resolved against the page's URL. Undefined when the body is not a web page (a direct link
 * to the workbook); an InputFileError when it is a page without such a link.
 */
export async function findWorkbookLink(path: string, pageUrl: string, pattern: string): Promise<string | undefined> {
  if (await isWorkbook(path)) return undefined;
  const head = (await readFile(path)).subarray(0, 1_000_000).toString('utf8');
  // A web page, not data: HTML markup with links (a CSV or a workbook has none).
  if (!/<html[\s>]|<a\s[^>]*href/i.test(head)) return undefined;
  const wanted = new RegExp(pattern, 'i');
  const hrefs = [...head.matchAll(/\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)].map((m) => decodeEntities(m[1] ?? m[2] ?? m[3] ?? ''));
  const href = hrefs.find((h) => wanted.test(h));
  if (href === undefined) {
    throw new InputFileError(
      { file: pageUrl },
      `the page holds no link matching ${JSON.stringify(pattern)} (pipelines.shiller.options.workbook_link)`,
      hrefs.length === 0 ? 'no links' : `${hrefs.length} link(s), e.g. ${hrefs.slice(0, 3).map((h) => JSON.stringify(h)).join(', ')}`,
      'a link to the workbook, or the workbook itself',
    );
  }
  try {
    return new URL(href, pageUrl).href;
  } catch {
    throw new InputFileError({ file: pageUrl }, 'the workbook link is not a URL', JSON.stringify(href), 'an absolute or relative URL');
  }
}

function decodeEntities(text: string): string {
  return text.replace(/&amp;/g, '&').replace(/&#x2f;/gi, '/').replace(/&#47;/g, '/').trim();
}

/**
 * A strict well-formedness check for the markup the report writes: every tag closed in
 * order (HTML void elements excepted, `/>` allowed), every attribute value quoted, no stray
 * `<` or bare `&`, and ids unique. Stricter than an HTML parser, which forgives all of these.
 */

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);
const RAW_TEXT = new Set(['style', 'script']);
const TAG = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[^\s=>/"']+(?:\s*=\s*(?:"[^"<]*"|'[^'<]*'))?)*)\s*(\/?)>/y;
const BARE_AMPERSAND = /&(?!(?:[a-zA-Z][a-zA-Z0-9]*|#\d+|#x[0-9a-fA-F]+);)/;

export function markupProblems(text: string): string[] {
  const problems: string[] = [];
  const stack: { name: string; at: number }[] = [];
  const ids = new Map<string, number>();
  let i = 0;
  const line = (at: number) => text.slice(0, at).split('\n').length;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = text.slice(i, lt === -1 ? text.length : lt);
    if (BARE_AMPERSAND.test(chunk)) problems.push(`line ${line(i)}: bare & in text: ${JSON.stringify(chunk.slice(0, 80))}`);
    if (lt === -1) break;
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt);
      i = end === -1 ? text.length : end + 3;
      continue;
    }
    if (/^<!DOCTYPE html>/i.test(text.slice(lt, lt + 15))) {
      i = lt + 15;
      continue;
    }
    TAG.lastIndex = lt;
    const m = TAG.exec(text);
    if (!m) {
      problems.push(`line ${line(lt)}: stray or malformed tag: ${JSON.stringify(text.slice(lt, lt + 60))}`);
      i = lt + 1;
      continue;
    }
    const [whole, closing, rawName, attrs, selfClosing] = m;
    const name = rawName!.toLowerCase();
    if (BARE_AMPERSAND.test(attrs!)) problems.push(`line ${line(lt)}: bare & in attributes of <${name}>`);
    for (const a of attrs!.matchAll(/\s([^\s=>/"']+)(\s*=\s*(?:"([^"]*)"|'([^']*)'))?/g)) {
      if (a[1] === 'id') {
        const id = a[3] ?? a[4] ?? '';
        if (ids.has(id)) problems.push(`line ${line(lt)}: duplicate id "${id}"`);
        ids.set(id, lt);
      }
    }
    i = lt + whole.length;
    if (closing) {
      const top = stack.pop();
      if (!top) problems.push(`line ${line(lt)}: </${name}> closes nothing`);
      else if (top.name !== name) problems.push(`line ${line(lt)}: </${name}> closes <${top.name}> opened on line ${line(top.at)}`);
      continue;
    }
    if (selfClosing || VOID.has(name)) continue;
    if (RAW_TEXT.has(name)) {
      const end = text.toLowerCase().indexOf(`</${name}>`, i);
      if (end === -1) problems.push(`line ${line(lt)}: <${name}> never closed`);
      i = end === -1 ? text.length : end + name.length + 3;
      continue;
    }
    stack.push({ name, at: lt });
  }
  for (const open of stack) problems.push(`line ${line(open.at)}: <${open.name}> never closed`);
  return problems;
}

/** Every tag of the document (text left out), to check that nothing in markup points at the network. */
export function tagsOf(text: string): string[] {
  return [...text.replace(/<style>[\s\S]*?<\/style>/g, '<style></style>').matchAll(/<[^>]*>/g)].map((m) => m[0]);
}

export function count(text: string, needle: string | RegExp): number {
  if (typeof needle === 'string') return text.split(needle).length - 1;
  return [...text.matchAll(new RegExp(needle.source, needle.flags.includes('g') ? needle.flags : needle.flags + 'g'))].length;
}

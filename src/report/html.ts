/**
 * HTML and SVG text built with a tagged template that escapes every interpolated value.
 * Data can hold `<`, `&` or quotes (alert messages, series names, source citations), so
 * nothing reaches the page unescaped unless it is already `Markup` built by `html`.
 */

/** Text that is already safe markup: the only values `html` does not escape. */
export class Markup {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for an HTML or SVG text node or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Interpolation rules: Markup as is, arrays joined, null/undefined/false as nothing, anything else escaped. */
function render(value: unknown): string {
  if (value instanceof Markup) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

const BARE_AMPERSAND = /&(?!(?:[a-zA-Z][a-zA-Z0-9]*|#\d+|#x[0-9a-fA-F]+);)/;

export function html(strings: TemplateStringsArray, ...values: readonly unknown[]): Markup {
  // The literal parts are markup written in code: a bare & there is a bug (write &amp;).
  for (const part of strings) {
    if (BARE_AMPERSAND.test(part)) throw new Error(`html template has a bare & in its markup: ${JSON.stringify(part.slice(0, 80))}`);
  }
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new Markup(out);
}

/** Trusted markup written in code (never data). */
export function trusted(text: string): Markup {
  return new Markup(text);
}

export function joinMarkup(parts: readonly Markup[], separator = ''): Markup {
  return new Markup(parts.map((p) => p.text).join(separator));
}

/**
 * JSON.parse, except that numbers keep the text they were written with. A double holds 15 to 17
 * significant digits: JSON.parse turns 9007199254740993 into 9007199254740992 and
 * 2303000000.123456789 into 2303000000.123457, and Node 20 has no reviver that sees the source
 * text. Here every number becomes a JsonNumber holding its text, which goes to a numeric column
 * as written; everything else is what JSON.parse gives (the same strict RFC 8259 grammar, the last
 * of two equal keys wins, "__proto__" is an ordinary key).
 *
 * The parser is iterative, so nesting is bounded by memory rather than by the call stack, as with
 * JSON.parse (a companyfacts value nested 10,000 deep is a rejected fact, not a crash). A syntax
 * error says what was found and expected, with the line, column and character position.
 *
 * Why not a library: lossless-json (the well-kept one that keeps number text) parsed the
 * benchmark's companyfacts documents at 0.25-0.35 of JSON.parse's speed, this parser at
 * 0.75-0.9 of it (best of 30 passes each, Node 20.20). The companyfacts reader as a whole takes
 * about 10% more CPU time than it did with JSON.parse.
 */

/** A JSON number exactly as written in the document, e.g. 9007199254740993 or 2.5E-7. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | { [key: string]: JsonValue };

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    /** 0-based character position; undefined for a document with no value at all. */
    readonly position: number | undefined,
    readonly line: number | undefined,
    readonly column: number | undefined,
  ) {
    super(message);
  }
}

type Container = JsonValue[] | { [key: string]: JsonValue };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/** Parse a JSON document; numbers become JsonNumber. Throws JsonSyntaxError. */
export function parseJson(text: string): JsonValue {
  return new Parser(text).document();
}

class Parser {
  private pos = 0;
  /**
   * For each depth, the keys of the last object read there, in order. Objects in an array
   * usually repeat their keys (a companyfacts fact: start, end, val, accn, …): a key that
   * matches the text is reused instead of sliced again, and an object built from reused keys
   * is built about 1.7× faster than one from fresh strings.
   */
  private readonly shapes: (string | undefined)[][] = [];

  constructor(private readonly text: string) {}

  document(): JsonValue {
    const text = this.text;
    this.skipSpace();
    if (this.pos >= text.length) throw new JsonSyntaxError('Unexpected end of JSON input', undefined, undefined, undefined);
    // Open containers, innermost last, with the key their next value goes under (objects only).
    const open: Container[] = [];
    const arrays: boolean[] = [];
    const keys: string[] = [];
    // The ordinal of the current key in each open object.
    const ordinals: number[] = [];
    for (;;) {
      // A value starts here.
      this.skipSpace();
      let value: JsonValue;
      const c = text.charCodeAt(this.pos);
      if (c === QUOTE) {
        value = this.string();
      } else if (c === MINUS || isDigit(c)) {
        value = this.number();
      } else if (c === OPEN_BRACE) {
        this.pos++;
        this.skipSpace();
        if (text.charCodeAt(this.pos) === CLOSE_BRACE) {
          this.pos++;
          value = {};
        } else {
          open.push({});
          arrays.push(false);
          ordinals.push(0);
          keys.push(this.key(open.length - 1, 0));
          continue;
        }
      } else if (c === OPEN_BRACKET) {
        this.pos++;
        this.skipSpace();
        if (text.charCodeAt(this.pos) === CLOSE_BRACKET) {
          this.pos++;
          value = [];
        } else {
          open.push([]);
          arrays.push(true);
          ordinals.push(0);
          keys.push('');
          continue;
        }
      } else {
        value = this.literal();
      }

      // Store the value, then close every container that ends after it.
      for (;;) {
        const top = open.length - 1;
        if (top < 0) {
          this.skipSpace();
          if (this.pos < text.length) this.fail('a single JSON value (the document goes on after it)');
          return value;
        }
        const container = open[top]!;
        const isArray = arrays[top]!;
        if (isArray) (container as JsonValue[]).push(value);
        else setKey(container as { [key: string]: JsonValue }, keys[top]!, value);
        this.skipSpace();
        const d = text.charCodeAt(this.pos);
        if (d === COMMA) {
          this.pos++;
          if (!isArray) {
            this.skipSpace();
            keys[top] = this.key(top, ++ordinals[top]!);
          }
          break;
        }
        if (d === (isArray ? CLOSE_BRACKET : CLOSE_BRACE)) {
          this.pos++;
          value = container;
          open.pop();
          arrays.pop();
          ordinals.pop();
          keys.pop();
          continue;
        }
        this.fail(isArray ? "',' or ']' after an array element" : "',' or '}' after a property value");
      }
    }
  }

  /** A property name and its colon: the `ordinal`-th key of an object at `depth`. */
  private key(depth: number, ordinal: number): string {
    const text = this.text;
    if (text.charCodeAt(this.pos) !== QUOTE) this.fail("a property name in double quotes or '}'");
    const shape = (this.shapes[depth] ??= []);
    const known = shape[ordinal];
    let key: string;
    // A known key holds no quote, backslash or control character (it was read without escapes),
    // so the text holds exactly this key when it is followed by the closing quote.
    if (known !== undefined && text.startsWith(known, this.pos + 1) && text.charCodeAt(this.pos + 1 + known.length) === QUOTE) {
      key = known;
      this.pos += known.length + 2;
    } else {
      const start = this.pos;
      key = this.string();
      // Only a key read without escapes can be matched against the text later.
      shape[ordinal] = this.pos - start === key.length + 2 ? key : undefined;
    }
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) !== COLON) this.fail("':' after a property name");
    this.pos++;
    return key;
  }

  private skipSpace(): void {
    const text = this.text;
    let pos = this.pos;
    let c = text.charCodeAt(pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++pos);
    this.pos = pos;
  }

  /** A string at pos (its opening quote). Most strings hold no escape and are one slice. */
  private string(): string {
    const text = this.text;
    const start = this.pos + 1;
    let i = start;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return text.slice(start, i);
      }
      if (c === BACKSLASH) return this.escapedString(start, i);
      // Control characters must be escaped; NaN is the end of the text.
      if (c < 0x20 || c !== c) {
        this.pos = i;
        this.fail(c !== c ? "'\"' to close the string" : 'a control character to be escaped in a string');
      }
      i++;
    }
  }

  private escapedString(start: number, firstEscape: number): string {
    const text = this.text;
    const parts: string[] = [text.slice(start, firstEscape)];
    let i = firstEscape;
    let run = i;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        parts.push(text.slice(run, i));
        this.pos = i + 1;
        return parts.join('');
      }
      if (c === BACKSLASH) {
        parts.push(text.slice(run, i));
        const e = text[i + 1];
        if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos = i;
            this.fail('four hexadecimal digits after \\u');
          }
          parts.push(String.fromCharCode(parseInt(hex, 16)));
          i += 6;
        } else {
          const escaped = e === undefined ? undefined : ESCAPES[e];
          if (escaped === undefined) {
            this.pos = i;
            this.fail('an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX');
          }
          parts.push(escaped!);
          i += 2;
        }
        run = i;
        continue;
      }
      if (c < 0x20 || c !== c) {
        this.pos = i;
        this.fail(c !== c ? "'\"' to close the string" : 'a control character to be escaped in a string');
      }
      i++;
    }
  }

  /** -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, kept as written. */
  private number(): JsonNumber {
    const text = this.text;
    const start = this.pos;
    let pos = start;
    let c = text.charCodeAt(pos);
    if (c === MINUS) c = text.charCodeAt(++pos);
    if (c === ZERO) {
      c = text.charCodeAt(++pos);
    } else if (isDigit(c)) {
      do c = text.charCodeAt(++pos);
      while (isDigit(c));
    } else {
      this.pos = pos;
      this.fail('a digit after the minus sign');
    }
    if (c === DOT) {
      c = text.charCodeAt(++pos);
      if (!isDigit(c)) {
        this.pos = pos;
        this.fail('a digit after the decimal point');
      }
      do c = text.charCodeAt(++pos);
      while (isDigit(c));
    }
    if (c === 0x65 || c === 0x45) {
      c = text.charCodeAt(++pos);
      if (c === PLUS || c === MINUS) c = text.charCodeAt(++pos);
      if (!isDigit(c)) {
        this.pos = pos;
        this.fail('a digit in the exponent');
      }
      do c = text.charCodeAt(++pos);
      while (isDigit(c));
    }
    this.pos = pos;
    return new JsonNumber(text.slice(start, pos));
  }

  private literal(): JsonValue {
    const text = this.text;
    const pos = this.pos;
    if (text.startsWith('true', pos)) {
      this.pos = pos + 4;
      return true;
    }
    if (text.startsWith('false', pos)) {
      this.pos = pos + 5;
      return false;
    }
    if (text.startsWith('null', pos)) {
      this.pos = pos + 4;
      return null;
    }
    return this.fail('a JSON value (a string, number, object, array, true, false or null)');
  }

  private fail(expected: string): never {
    const text = this.text;
    const pos = this.pos;
    let line = 1;
    let lineStart = 0;
    for (let i = text.indexOf('\n'); i !== -1 && i < pos; i = text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    const column = pos - lineStart + 1;
    const found = pos >= text.length ? 'Unexpected end of JSON input' : `Unexpected ${describe(text.codePointAt(pos)!)}`;
    throw new JsonSyntaxError(`${found}; expected ${expected} at line ${line} column ${column} (position ${pos})`, pos, line, column);
  }
}

function describe(code: number): string {
  const char = String.fromCodePoint(code);
  if (code < 0x20 || code === 0x7f) return `control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return JSON.stringify(char);
}

/** As JSON.parse does: every key is an own data property, "__proto__" included (never the prototype). */
function setKey(object: { [key: string]: JsonValue }, key: string, value: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  else object[key] = value;
}

/**
 * JSON text of a parsed value, numbers as written. A companyfacts fact (an object of scalars) is
 * written directly; anything deeper without recursion, so that a value nested 10,000 deep is
 * written back like any other, to be rejected with its text.
 */
export function jsonText(root: unknown): string {
  return flatText(root) ?? deepText(root);
}

function scalarText(value: unknown): string | undefined {
  if (value instanceof JsonNumber) return value.text;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  return undefined;
}

/** A scalar, or an array or object of scalars; undefined when something in it is deeper. */
function flatText(value: unknown): string | undefined {
  const scalar = scalarText(value);
  if (scalar !== undefined) return scalar;
  const parts: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      const text = scalarText(item);
      if (text === undefined) return undefined;
      parts.push(text);
    }
    return `[${parts.join(',')}]`;
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    const text = scalarText(object[key]);
    if (text === undefined) return undefined;
    parts.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}

function deepText(root: unknown): string {
  const out: string[] = [];
  // Values still to write, and the punctuation between them, last first.
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const part = stack.pop();
    if (part instanceof Punctuation) {
      out.push(part.text);
      continue;
    }
    if (part instanceof JsonNumber) {
      out.push(part.text);
    } else if (Array.isArray(part)) {
      out.push('[');
      stack.push(new Punctuation(']'));
      for (let i = part.length - 1; i >= 0; i--) {
        stack.push(part[i] ?? null);
        if (i > 0) stack.push(new Punctuation(','));
      }
    } else if (part !== null && typeof part === 'object') {
      const entries = Object.entries(part);
      out.push('{');
      stack.push(new Punctuation('}'));
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i]!;
        stack.push(item);
        stack.push(new Punctuation(`${JSON.stringify(key)}:`));
        if (i > 0) stack.push(new Punctuation(','));
      }
    } else {
      out.push(JSON.stringify(part) ?? 'null');
    }
  }
  return out.join('');
}

class Punctuation {
  constructor(readonly text: string) {}
}

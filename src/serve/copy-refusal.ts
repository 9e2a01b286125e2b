/**
 * COPY statements that would end the embedded database, refused before PGlite sees them.
 *
 * PGlite answers each call with what one input buffer produces. COPY FROM STDIN makes the
 * backend read the copy data from its client, and PGlite's backend has nothing more to read
 * in that call: it fails with a FATAL error and exits ("Program terminated with exit(1)"),
 * and the embedded database, shared with the engine, is gone for every client and for the
 * scheduler. COPY … PROGRAM (from or to) never returns: PGlite cannot start a program, and
 * its backend spins with the event loop blocked. So such a statement is refused with an ERROR
 * that changes the transaction as any other error would (the statement is replaced by one
 * that raises it). COPY … TO STDOUT only writes, and works.
 */

export type CopyRefusal = 'from-stdin' | 'program';

const REFUSALS: Readonly<Record<CopyRefusal, { readonly message: string; readonly hint: string }>> = {
  'from-stdin': {
    message: "COPY FROM STDIN is not supported by the embedded database's wire server: PGlite cannot read copy data from a client",
    hint: 'Load files through a pipeline (bubblewatch run), or use a PostgreSQL server (DATABASE_URL). COPY ... TO STDOUT works, and so does psql \\copy ... to.',
  },
  program: {
    message: 'COPY ... PROGRAM is not supported by the embedded database: PGlite cannot run programs',
    hint: 'Export with COPY ... TO STDOUT (psql \\copy ... to), or use a PostgreSQL server (DATABASE_URL).',
  },
};

/**
 * Whether a statement of `sql` is a COPY that reads from the client (`COPY t FROM STDIN`) or
 * runs a program (`COPY t TO PROGRAM 'cmd'`), and which. A small lexer, enough to skip what
 * can hide the words: comments (nested block comments too), string literals (E'' with
 * backslash escapes), quoted identifiers, dollar quoting, and parentheses
 * (`COPY (select … from stdin) TO STDOUT` reads a table called stdin).
 */
export function copyRefusal(sql: string): CopyRefusal | undefined {
  let words: string[] = [];
  let depth = 0;
  const refusal = (): CopyRefusal | undefined => {
    if (words[0] !== 'COPY') return undefined;
    for (let w = 1; w + 1 < words.length; w++) {
      if (words[w] !== 'FROM' && words[w] !== 'TO') continue;
      if (words[w + 1] === 'PROGRAM') return 'program';
      if (words[w] === 'FROM' && words[w + 1] === 'STDIN') return 'from-stdin';
    }
    return undefined;
  };
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (ch === '/' && next === '*') {
      let nesting = 1;
      i += 2;
      while (i < sql.length && nesting > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          nesting++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          nesting--;
          i += 2;
        } else i++;
      }
    } else if (ch === "'") {
      i = skipQuoted(sql, i, "'", false);
      if (depth === 0) words.push('');
    } else if (ch === '"') {
      i = skipQuoted(sql, i, '"', false);
      if (depth === 0) words.push('"');
    } else if (ch === '$') {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 64))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? sql.length : end + tag.length;
        if (depth === 0) words.push('');
      } else i++;
    } else if (ch === ';') {
      const found = refusal();
      if (found) return found;
      words = [];
      depth = 0;
      i++;
    } else if (ch === '(') {
      depth++;
      i++;
    } else if (ch === ')') {
      depth = Math.max(0, depth - 1);
      i++;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(ch)) {
      const word = /^[\w$\u0080-\uffff]+/.exec(sql.slice(i, i + 128))![0];
      i += word.length;
      if ((word === 'E' || word === 'e') && sql[i] === "'") {
        i = skipQuoted(sql, i, "'", true);
        if (depth === 0) words.push('');
      } else if (depth === 0) words.push(word.toUpperCase());
    } else i++;
  }
  return refusal();
}

/** The index just past the literal that starts at `start` (a doubled quote is a quote). */
function skipQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (backslashEscapes && ch === '\\') i += 2;
    else if (ch === quote && sql[i + 1] === quote) i += 2;
    else if (ch === quote) return i + 1;
    else i++;
  }
  return sql.length;
}

/** A statement that raises the refusal as an ERROR with SQLSTATE 0A000, in PL/pgSQL (which PGlite has). */
function refusalStatement(refusal: CopyRefusal): string {
  const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const { message, hint } = REFUSALS[refusal];
  return `do $bubblewatch$ begin raise exception using errcode = 'feature_not_supported', message = ${literal(message)}, hint = ${literal(hint)}; end $bubblewatch$`;
}

/**
 * The message to run instead of `message` when it is a Query or Parse whose SQL is a refused
 * COPY, and why; undefined to run it as it is. A Query keeps its place in the protocol
 * (ErrorResponse then ReadyForQuery), and a Parse its statement name and parameter types, so
 * the error comes where the client expects one. (A Query holding several statements is
 * refused whole.)
 */
export function refuseCopy(message: Uint8Array): { readonly replacement: Uint8Array; readonly refusal: CopyRefusal } | undefined {
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const type = String.fromCharCode(bytes[0]!);
  if (type === 'Q') {
    const end = bytes.indexOf(0, 5);
    if (end < 0) return undefined; // malformed: PGlite answers it with an ERROR of its own
    const refusal = copyRefusal(bytes.subarray(5, end).toString('utf8'));
    if (!refusal) return undefined;
    return { refusal, replacement: build('Q', [Buffer.from(`${refusalStatement(refusal)}\0`, 'utf8')]) };
  }
  if (type === 'P') {
    const nameEnd = bytes.indexOf(0, 5);
    const queryEnd = nameEnd < 0 ? -1 : bytes.indexOf(0, nameEnd + 1);
    if (queryEnd < 0) return undefined;
    const refusal = copyRefusal(bytes.subarray(nameEnd + 1, queryEnd).toString('utf8'));
    if (!refusal) return undefined;
    const statement = Buffer.from(`${refusalStatement(refusal)}\0`, 'utf8');
    return { refusal, replacement: build('P', [bytes.subarray(5, nameEnd + 1), statement, bytes.subarray(queryEnd + 1)]) };
  }
  return undefined;
}

function build(type: 'Q' | 'P', parts: Buffer[]): Uint8Array {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(4 + body.length, 1);
  return new Uint8Array(Buffer.concat([head, body]));
}

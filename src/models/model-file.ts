import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { formatIssues } from '../config/schema.js';
import { MigrationError } from '../errors.js';

/**
 * The documentation file of a model, `sql/models/<schema>/<view>.yml`: what the view holds,
 * every column with its meaning and unit, example queries, and the indicators it is the source
 * of. Parsed as YAML, then validated with zod; every problem is reported as
 * `file:line: path: message`.
 */

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const identifier = z.string().regex(IDENTIFIER, 'expected a snake_case identifier (a-z, 0-9, _)');
/** A fragment of SQL (an expression, a FROM list, a condition); checked by the database when the view is built. */
const sql = z.string().trim().min(1, 'expected a SQL expression');

export const DIRECTIONS = ['higher', 'lower', 'neither'] as const;
export type Direction = (typeof DIRECTIONS)[number];
export const FREQUENCIES = ['day', 'week', 'month', 'quarter', 'year', 'irregular'] as const;
export type Frequency = (typeof FREQUENCIES)[number];

const columnSchema = z
  .object({
    name: identifier,
    description: z.string().trim().min(1),
    /** For numeric columns: USD, fraction, percent, … (shown in docs/views.md). */
    unit: z.string().trim().min(1).optional(),
  })
  .strict();

const exampleSchema = z.object({ title: z.string().trim().min(1), sql: z.string().trim().min(1) }).strict();

/** One indicator with a fixed name: its value is a SQL expression over the set's `from`. */
const indicatorSchema = z
  .object({
    name: identifier,
    value: sql,
    unit: z.string().trim().min(1),
    /** Which way is frothier. */
    direction: z.enum(DIRECTIONS),
    description: z.string().trim().min(1),
  })
  .strict();

/**
 * Indicators whose names come from the data (custom series ids, top-N for every N loaded,
 * FRED series marked as indicators). `pattern` says what the names look like, for people and for
 * declaredIndicators(); `matches` is a regular expression a name must match, when the names are
 * known ahead of the data; `name`, `value` and `unit` are SQL. `sql` holds per-row overrides of
 * the set's constants (FRED series carry their own family, frequency, direction, description).
 */
const dynamicSchema = z
  .object({
    pattern: z.string().trim().min(1),
    matches: z
      .string()
      .refine((s) => {
        try {
          new RegExp(s);
          return true;
        } catch {
          return false;
        }
      }, 'expected a regular expression')
      .optional(),
    name: sql,
    value: sql,
    unit: sql,
    direction: z.enum(DIRECTIONS),
    description: z.string().trim().min(1),
    sql: z
      .object({ family: sql.optional(), frequency: sql.optional(), direction: sql.optional(), description: sql.optional() })
      .strict()
      .optional(),
  })
  .strict();

/**
 * A group of indicators read from one source in one scan: a `from` list, the subject and
 * period-end expressions, a family and frequency, an optional filter, and either fixed
 * `values` (one `cross join lateral (values …)`) or one `dynamic` declaration.
 */
const indicatorSetSchema = z
  .object({
    from: sql,
    subject: sql,
    period_end: sql,
    family: identifier,
    frequency: z.enum(FREQUENCIES),
    where: sql.optional(),
    /** Keep one row per key (`select distinct on (keys) … order by keys, order_by`) before reading values; the filter applies first. */
    distinct_on: z.object({ keys: sql, order_by: sql }).strict().optional(),
    values: z.array(indicatorSchema).min(1).optional(),
    dynamic: dynamicSchema.optional(),
  })
  .strict()
  .refine((s) => (s.values === undefined) !== (s.dynamic === undefined), { message: 'give either values (indicators with fixed names) or dynamic (names from the data), not both or neither' });

export const GENERATED_MODELS = ['indicator_values', 'indicators'] as const;
export type GeneratedModel = (typeof GENERATED_MODELS)[number];

export const modelFileSchema = z
  .object({
    description: z.string().trim().min(1),
    /** No .sql file: the body is generated from the indicator declarations of every model. */
    generated: z.enum(GENERATED_MODELS).optional(),
    columns: z.array(columnSchema).min(1),
    examples: z.array(exampleSchema).min(1).max(3),
    indicators: z.array(indicatorSetSchema).optional(),
  })
  .strict();

export type ModelFile = z.infer<typeof modelFileSchema>;
export type ModelColumn = z.infer<typeof columnSchema>;
export type ExampleQuery = z.infer<typeof exampleSchema>;
export type IndicatorSet = z.infer<typeof indicatorSetSchema>;
export type IndicatorDeclaration = z.infer<typeof indicatorSchema>;

export function readModelFile(path: string, file: string = path): ModelFile {
  const text = readFileSync(path, 'utf8');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new MigrationError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const result = modelFileSchema.safeParse(doc.toJS());
  if (!result.success) {
    const problems = formatIssues(result.error).map((p, i) => {
      const line = lineOf(doc, lines, result.error.issues[i]!.path as readonly PropertyKey[]);
      return `${file}${line ? `:${line}` : ''}: ${p}`;
    });
    throw new MigrationError(`model documentation is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  const names = new Set<string>();
  for (const column of result.data.columns) {
    if (names.has(column.name)) throw new MigrationError(`${file}: column "${column.name}" is listed twice`);
    names.add(column.name);
  }
  return result.data;
}

/** The line of the deepest YAML node on `path` that exists, for pointing at a problem. */
function lineOf(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const key of path) {
    if (isMap(node)) node = node.get(key as string, true);
    else if (isSeq(node)) node = node.get(key as number, true);
    else break;
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) offset = range[0];
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

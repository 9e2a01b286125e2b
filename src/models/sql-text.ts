/** Small helpers for reading and writing SQL text; nothing here parses SQL beyond comments and literals. */

/** A SQL string literal. */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * The text with comments and the contents of string literals and quoted identifiers blanked
 * out, so that a schema-qualified name found in it is a reference, not prose or data.
 */
export function codeOnly(sql: string): string {
  return sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''");
}

/** Schema-qualified relations the SQL names in one of `schemas`, as `schema.name`, sorted. */
export function referencedRelations(sql: string, schemas: ReadonlySet<string>): string[] {
  const found = new Set<string>();
  for (const m of codeOnly(sql).matchAll(/(?<![\w."])("?)([a-z_][a-z0-9_]*)\1\s*\.\s*("?)([a-z_][a-z0-9_]*)\3(?![\w"])/gi)) {
    const schema = m[2]!.toLowerCase();
    if (schemas.has(schema)) found.add(`${schema}.${m[4]!.toLowerCase()}`);
  }
  return [...found].sort();
}

import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InputFileError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import type { PipelineRuntime } from '../../src/engine/pipeline.js';
import type { RecordReader, SourceRecord } from '../../src/engine/readers/types.js';
import { companyView } from '../shared/companies.js';

/**
 * SEC XBRL companyfacts JSON (data.sec.gov/api/xbrl/companyfacts/CIK##########.json):
 *   { cik, entityName, facts: { <taxonomy>: { <Tag>: { label, description, units: { <unit>: [fact, …] } } } } }
 * with each fact { start?, end, val, accn, fy, fp, form, filed, frame? } as filed.
 *
 * Every fact in the file is a record read; facts of tags no configured metric uses (most
 * of a companyfacts file) are skipped. A file that is not JSON, or not in this layout,
 * fails as a whole; a single malformed fact is rejected with its JSON path.
 */

const BATCH = 5000;

const documentSchema = z.object({
  cik: z.union([z.number(), z.string()]),
  entityName: z.string().optional(),
  facts: z.record(z.string(), z.record(z.string(), z.object({ units: z.record(z.string(), z.array(z.unknown())) }).passthrough())),
});

function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return jsonText(value);
}

/**
 * JSON text of a parsed value. JSON.parse accepts nesting that JSON.stringify cannot write
 * back (it recurses: a fact value nested 10,000 deep overflows the stack), so such a value
 * is written without recursion, to be rejected with its text like any other malformed fact.
 */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'undefined';
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return deepJsonText(value);
  }
}

type JsonPart = { readonly literal: string } | { readonly value: unknown };

function deepJsonText(root: unknown): string {
  const out: string[] = [];
  const stack: JsonPart[] = [{ value: root }];
  while (stack.length > 0) {
    const part = stack.pop()!;
    if ('literal' in part) {
      out.push(part.literal);
      continue;
    }
    const v = part.value;
    if (Array.isArray(v)) {
      out.push('[');
      stack.push({ literal: ']' });
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ value: v[i] ?? null });
        if (i > 0) stack.push({ literal: ',' });
      }
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      out.push('{');
      stack.push({ literal: '}' });
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i]!;
        stack.push({ value: item });
        stack.push({ literal: `${JSON.stringify(key)}:` });
        if (i > 0) stack.push({ literal: ',' });
      }
    } else {
      out.push(JSON.stringify(v) ?? 'null');
    }
  }
  return out.join('');
}

export function companyfactsReader(runtime: PipelineRuntime, logger: Logger): RecordReader {
  return {
    async read(path, sink) {
      const content = await readFile(path, 'utf8');
      let doc: unknown;
      try {
        doc = JSON.parse(content);
      } catch (error) {
        const message = (error as Error).message;
        const position = /position (\d+)/.exec(message)?.[1];
        const line = position === undefined ? undefined : content.slice(0, Number(position)).split('\n').length;
        throw new InputFileError(
          { file: path, ...(line !== undefined ? { line } : {}) },
          `not valid JSON (${message})`,
          `${content.length} characters starting ${JSON.stringify(content.slice(0, 40))}`,
          'an SEC companyfacts JSON document',
        );
      }
      const parsed = documentSchema.safeParse(doc);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new InputFileError(
          { file: path },
          `not an SEC companyfacts document: ${issue.path.join('.') || '(top level)'}: ${issue.message}`,
          undefined,
          '{ "cik": …, "entityName": …, "facts": { "us-gaap": { "<Tag>": { "units": { "USD": [ … ] } } } } }',
        );
      }
      const cik = Number(parsed.data.cik);
      const view = companyView(runtime);
      const company = view.byCik.get(cik);
      if (!company) {
        logger.warn({ file: path, cik }, `${path}: CIK ${cik} (${parsed.data.entityName ?? 'unnamed'}) is not an enabled company in the config; its facts are skipped`);
      }
      const tags = company ? view.tagsOf(company) : new Map<string, string>();

      let read = 0;
      let skipped = 0;
      let batch: SourceRecord[] = [];
      for (const [taxonomy, concepts] of Object.entries(parsed.data.facts)) {
        for (const [tag, concept] of Object.entries(concepts)) {
          const wanted = tags.has(`${taxonomy}:${tag}`);
          for (const [unit, facts] of Object.entries(concept.units)) {
            if (!wanted) {
              read += facts.length;
              skipped += facts.length;
              continue;
            }
            for (let i = 0; i < facts.length; i++) {
              read++;
              const fact = facts[i];
              const locator = `facts.${taxonomy}.${tag}.units.${unit}[${i}]`;
              const f = (fact !== null && typeof fact === 'object' ? fact : {}) as Record<string, unknown>;
              batch.push({
                line: read,
                locator,
                rawText: jsonText(fact),
                fields: {
                  cik: String(cik),
                  taxonomy,
                  tag,
                  unit,
                  start: text(f.start),
                  end: text(f.end),
                  val: text(f.val),
                  accn: text(f.accn),
                  fy: text(f.fy),
                  fp: text(f.fp),
                  form: text(f.form),
                  filed: text(f.filed),
                  frame: text(f.frame),
                },
                ...(fact === null || typeof fact !== 'object' || Array.isArray(fact)
                  ? { problems: [{ column: null, column_no: null, value: text(fact) ?? null, message: 'expected a fact object { end, val, accn, form, filed, … }' }] }
                  : {}),
              });
              if (batch.length >= BATCH) {
                await sink(batch);
                batch = [];
              }
            }
          }
        }
      }
      if (batch.length > 0) await sink(batch);
      return { read, skipped };
    },
  };
}

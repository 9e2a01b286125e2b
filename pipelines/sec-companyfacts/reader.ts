import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InputFileError, type Logger, type PipelineRuntime, type RecordReader, type SourceRecord } from '../../src/sdk.js';
import { companyView } from '../shared/companies.js';
import { JsonNumber, JsonSyntaxError, jsonText, parseJson } from './exact-json.js';

/**
 * SEC XBRL companyfacts JSON (data.sec.gov/api/xbrl/companyfacts/CIK##########.json):
 *   { cik, entityName, facts: { <taxonomy>: { <Tag>: { label, description, units: { <unit>: [fact, …] } } } } }
 * with each fact { start?, end, val, accn, fy, fp, form, filed, frame? } as filed.
 *
 * Every fact in the file is a record read; facts of tags no configured metric uses (most
 * of a companyfacts file) are skipped. A file that is not JSON, or not in this layout,
 * fails as a whole; a single malformed fact is rejected with its JSON path.
 *
 * Numbers are read as the text they were written with (exact-json.ts), never through a
 * double, so a val of 9007199254740993 or 2303000000.123456789 is stored as written. A number
 * written as a JSON string ("val": "2303000000") is read as its text too, as in a CSV.
 */

const BATCH = 5000;

const documentSchema = z.object({
  cik: z.union([z.instanceof(JsonNumber), z.string()]),
  entityName: z.string().optional(),
  facts: z.record(z.string(), z.record(z.string(), z.object({ units: z.record(z.string(), z.array(z.unknown())) }).passthrough())),
});

/** A fact field as text: a number exactly as written, a string as is, anything else as its JSON. */
function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (value instanceof JsonNumber) return value.text;
  if (typeof value === 'boolean') return String(value);
  return jsonText(value);
}

/**
 * A JSON key as it goes into a locator: control characters written \uXXXX. A unit key holding a
 * NUL (written "\u0000" in the JSON) is a rejected fact, and PostgreSQL text cannot hold NUL.
 */
function printable(key: string): string {
  if (!/[\u0000-\u001f\u007f]/.test(key)) return key;
  return key.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function companyfactsReader(runtime: PipelineRuntime, logger: Logger): RecordReader {
  return {
    async read(path, sink) {
      const content = await readFile(path, 'utf8');
      let doc: unknown;
      try {
        doc = parseJson(content);
      } catch (error) {
        if (!(error instanceof JsonSyntaxError)) throw error;
        throw new InputFileError(
          { file: path, ...(error.line !== undefined ? { line: error.line } : {}) },
          `not valid JSON (${error.message})`,
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
      const cik = Number(text(parsed.data.cik));
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
              const locator = `facts.${taxonomy}.${tag}.units.${printable(unit)}[${i}]`;
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

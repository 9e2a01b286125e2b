import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../../src/paths.js';

/**
 * The bad-input corpus table, validated: test/fixtures/bad/cases.yaml (the companions and the
 * first cases) and every cases-<topic>.yaml beside it (more cases, under `cases:` only). See the
 * comment at the top of cases.yaml (and README.md) for what each field means.
 */

export const BAD_DIR = join(PACKAGE_ROOT, 'test', 'fixtures', 'bad');
export const CASES_FILE = join(BAD_DIR, 'cases.yaml');

export const PIPELINES = ['custom-series', 'company-metrics', 'index-constituents', 'shiller', 'fred', 'sec-companyfacts', 'sec-fsds'] as const;
export type PipelineName = (typeof PIPELINES)[number];

const counts = z.strictObject({
  read: z.number().int().min(0),
  loaded: z.number().int().min(0),
  rejected: z.number().int().min(0),
  skipped: z.number().int().min(0),
});
export type Counts = z.infer<typeof counts>;

const generator = z
  .object({
    kind: z.enum(['bom', 'crlf', 'mixed-eol', 'copy', 'latin1', 'append-line', 'one-line', 'truncate', 'deep-json', 'deep-json-value', 'zip', 'empty', 'replace']),
    name: z.string().min(1),
    from: z.string().optional(),
  })
  .passthrough();
export type GeneratorSpec = z.infer<typeof generator> & Record<string, unknown>;

/** One run in a sequence of steps, and what is done to the inbox around it. */
const runStep = z.strictObject({
  full_refresh: z.boolean().optional(),
  retry_failed: z.boolean().optional(),
  /** A writer appends this text to the file as the reader starts reading it. */
  append_while_reading: z.strictObject({ name: z.string().min(1), text: z.string() }).optional(),
  /** The file is deleted after the run listed the inbox and before it reads it. */
  delete_after_listing: z.string().min(1).optional(),
  /** The status this run must end with (only for runs among the steps; the checked run has `outcome`). */
  status: z.enum(['succeeded', 'partial', 'failed']).optional(),
});
export type RunStep = z.infer<typeof runStep>;

/** What a user does to the inbox between runs: write a file (text, or a copy of a fixture), delete, rename, run. */
const step = z.union([
  z.strictObject({ write: z.strictObject({ name: z.string().min(1), text: z.string().optional(), from: z.string().optional() }) }),
  z.strictObject({ delete: z.string().min(1) }),
  z.strictObject({ rename: z.strictObject({ from: z.string().min(1), to: z.string().min(1) }) }),
  z.strictObject({ run: runStep }),
]);
export type Step = z.infer<typeof step>;

const regex = z.string().transform((source, ctx) => {
  try {
    return new RegExp(source, 's');
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(error as Error).message}` });
    return z.NEVER;
  }
});

const caseSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    pipeline: z.enum(PIPELINES),
    input: z.string().optional(),
    generate: generator.optional(),
    http: z.string().optional(),
    /**
     * A sequence instead of one input: what a user does to the inbox (write, delete, rename) and
     * the runs in between; the checked run comes after the last step, with `final`'s settings.
     */
    steps: z.array(step).min(1).optional(),
    final: runStep.default({}),
    /** For steps: the action the checked run took on each named file. */
    actions: z.record(z.string(), z.enum(['loaded', 'skipped', 'failed', 'missing', 'retired', 'changed'])).optional(),
    /**
     * For steps: inbox (the default) compares raw (current file versions) and core with a clean load
     * of the inbox as it stands; none leaves it to `assert` (a policy that keeps the rows of files gone).
     */
    compare: z.enum(['inbox', 'none']).default('inbox'),
    on_missing: z.enum(['keep', 'retire']).optional(),
    /**
     * For `fails`: file (the default) — the bad file fails alone, its companion loads; run — the
     * failure is the run's (a data check after the transforms cannot tell which file is at fault),
     * so the run fails and changes nothing, the companion included.
     */
    scope: z.enum(['file', 'run']).default('file'),
    outcome: z.enum(['loads', 'rejects', 'fails']),
    counts: counts.optional(),
    message: regex.optional(),
    reject_lines: z.array(z.number().int().min(1)).optional(),
    clean: z.string().optional(),
    /** The good file loaded before a failing one (default: the pipeline's in `companions`; null: none). */
    companion: z.string().nullable().optional(),
    assert: z.array(z.strictObject({ sql: z.string(), rows: z.array(z.array(z.string().nullable())) })).default([]),
    options: z.record(z.string(), z.unknown()).default({}),
    archives: z.record(z.string(), z.unknown()).optional(),
    fetch: z.record(z.string(), z.unknown()).default({}),
    timeout_s: z.number().positive().default(60),
  })
  .superRefine((c, ctx) => {
    const sources = [c.input, c.generate, c.http, c.steps].filter((s) => s !== undefined).length;
    if (sources !== 1) ctx.addIssue({ code: 'custom', message: `${c.id}: give exactly one of input, generate, http, steps` });
    if (c.steps && c.outcome === 'rejects' && !c.reject_lines) ctx.addIssue({ code: 'custom', message: `${c.id}: a rejecting case lists its reject_lines` });
    if (c.outcome === 'fails' && !c.message) ctx.addIssue({ code: 'custom', message: `${c.id}: a failing case needs the expected message` });
    if (c.outcome === 'rejects' && !c.steps) {
      if (!c.message) ctx.addIssue({ code: 'custom', message: `${c.id}: a rejecting case needs the expected reject reason` });
      if (!c.reject_lines) ctx.addIssue({ code: 'custom', message: `${c.id}: a rejecting case lists its reject_lines` });
      if (!c.clean && !c.input) ctx.addIssue({ code: 'custom', message: `${c.id}: a rejecting case without an input file needs clean` });
    }
    if (c.outcome !== 'fails' && !c.counts) ctx.addIssue({ code: 'custom', message: `${c.id}: give the expected counts` });
    if (c.counts && c.counts.read !== c.counts.loaded + c.counts.rejected + c.counts.skipped) {
      ctx.addIssue({ code: 'custom', message: `${c.id}: expected counts do not reconcile` });
    }
    if (c.outcome === 'rejects' && c.counts && c.counts.rejected === 0) ctx.addIssue({ code: 'custom', message: `${c.id}: rejects but expects none rejected` });
    if (c.outcome === 'loads' && c.counts && c.counts.rejected !== 0) ctx.addIssue({ code: 'custom', message: `${c.id}: loads but expects rejects` });
    if (c.reject_lines && c.counts && c.reject_lines.length !== c.counts.rejected) {
      ctx.addIssue({ code: 'custom', message: `${c.id}: reject_lines and counts.rejected differ` });
    }
  });

export type BadCase = z.infer<typeof caseSchema>;

const fileSchema = z.strictObject({
  companions: z.record(z.enum(PIPELINES), z.string()),
  cases: z.array(caseSchema).min(1),
});
const moreCasesSchema = z.strictObject({ cases: z.array(caseSchema).min(1) });

/** The extra case files, in name order: cases-<topic>.yaml. */
export function caseFiles(): string[] {
  const extra = readdirSync(BAD_DIR).filter((n) => /^cases-[a-z0-9-]+\.yaml$/.test(n)).sort();
  return [CASES_FILE, ...extra.map((n) => join(BAD_DIR, n))];
}

function parseFile<T>(file: string, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export interface Corpus {
  readonly companions: Readonly<Partial<Record<PipelineName, string>>>;
  readonly cases: readonly BadCase[];
}

let cached: Corpus | undefined;

export function loadCorpus(): Corpus {
  if (cached) return cached;
  const [first, ...rest] = caseFiles();
  const main = parseFile(first!, fileSchema);
  const cases: BadCase[] = [];
  const where = new Map<string, string>();
  for (const [file, list] of [[first!, main.cases], ...rest.map((f) => [f, parseFile(f, moreCasesSchema).cases] as const)] as const) {
    for (const c of list) {
      const seen = where.get(c.id);
      if (seen) throw new Error(`${file}: case id ${c.id} appears twice (also in ${seen})`);
      where.set(c.id, file);
      cases.push(c);
    }
  }
  cached = { companions: main.companions, cases };
  return cached;
}

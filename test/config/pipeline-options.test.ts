import { expect, it } from 'vitest';
import { z } from 'zod';
import { REGISTRY } from '../../pipelines/registry.js';
import { resolveConfig, type Registry } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { definePipeline, noOptions, rowSchema, text, type PipelineRuntime } from '../../src/sdk.js';

/** Options declared as a zod schema in the pipeline definition: validated when the config loads, parsed once, typed in the pipeline. */

const FILE = '/etc/bubblewatch/test.yaml';

function problems(raw: unknown, registry: Registry = REGISTRY): readonly string[] {
  try {
    resolveConfig(FILE, raw, {}, registry);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

/** A pipeline whose options schema counts its parses and whose functions record the options they see. */
function probe() {
  let parses = 0;
  const seen: { readonly where: string; readonly options: { readonly factor: number; readonly label: string } }[] = [];
  const schema = z
    .strictObject({ factor: z.number().int().min(1), label: z.string().default('none') })
    .transform((o) => {
      parses++;
      return { ...o, factor: o.factor * 10 };
    });
  const row = rowSchema({ value: text() });
  const pipeline = definePipeline({
    name: 'probe',
    description: 'test pipeline',
    source: { pattern: '*.csv', expandUrl: (template, runtime) => (seen.push({ where: 'expandUrl', options: runtime.options }), [template]) },
    options: schema,
    reader: (runtime) => {
      seen.push({ where: 'reader', options: runtime.options });
      return { read: () => Promise.resolve({ read: 0, skipped: 0 }) };
    },
    row,
    naturalKey: ['value'],
    load: {
      table: 'raw.probe',
      columns: ['value'],
      values: (r, runtime) => (seen.push({ where: 'values', options: runtime.options }), [r.value]),
    },
    transforms: [],
    checks: [],
    fileChecks: [{ name: 'f', description: 'f', sql: 'select 1', enabled: (runtime) => (seen.push({ where: 'enabled', options: runtime.options }), true) }],
    defaults: { schedule: { cron: '0 0 * * *' } },
    views: [],
  });
  const registry: Registry = { pipelines: [pipeline], sharedSections: {} };
  return { pipeline, registry, seen, parses: () => parses };
}

it('parses a pipeline\'s options once, when the config loads, and hands the typed output to every function', () => {
  const { pipeline, registry, seen, parses } = probe();
  const config = resolveConfig(FILE, { pipelines: { probe: { sources: [{ path: 'x' }], options: { factor: 2 } } } }, {}, registry);
  const options = config.pipelines.get('probe')!.options;
  expect(options).toEqual({ factor: 20, label: 'none' });
  expect(parses()).toBe(1);

  const runtime: PipelineRuntime = { pipeline: 'probe', options, shared: {} };
  pipeline.reader(runtime, undefined as never);
  pipeline.source.expandUrl!('https://example.com/x', runtime);
  for (let i = 0; i < 3; i++) pipeline.load.values({ value: 'a' } as never, runtime);
  pipeline.fileChecks![0]!.enabled!(runtime);
  // A second run of the same config gets a runtime of its own: still no second parse.
  pipeline.reader({ pipeline: 'probe', options, shared: {} }, undefined as never);
  expect(parses()).toBe(1);
  expect(seen.map((s) => s.where)).toEqual(['reader', 'expandUrl', 'values', 'values', 'values', 'enabled', 'reader']);
  for (const s of seen) expect(s.options).toBe(options);
});

it('reports invalid options with their full config path, and parses options built by hand on first use', () => {
  const { pipeline, registry, parses } = probe();
  expect(problems({ pipelines: { probe: { sources: [{ path: 'x' }], options: { factor: 0, colour: 'red' } } } }, registry)).toEqual([
    'pipelines.probe.options.factor: Too small: expected number to be >=1',
    'pipelines.probe.options: unknown key "colour"',
  ]);
  // Options that never went through the loader (a test's config, a tool's) are parsed once per object.
  const raw = { factor: 3 };
  const seen: unknown[] = [];
  const runtime = (): PipelineRuntime => ({ pipeline: 'probe', options: raw, shared: {} });
  const before = parses();
  pipeline.load.values({ value: 'a' } as never, runtime());
  pipeline.load.values({ value: 'a' } as never, runtime());
  seen.push(pipeline.optionsOf(raw));
  expect(parses() - before).toBe(1);
  expect(seen).toEqual([{ factor: 30, label: 'none' }]);
  expect(() => pipeline.reader({ pipeline: 'probe', options: { factor: 'x' }, shared: {} }, undefined as never)).toThrow(
    /pipelines\.probe\.options: invalid options for pipeline probe/,
  );
});

it('validates each bundled pipeline\'s options with its own schema', () => {
  const sources = [{ path: 'x' }];
  expect(
    problems({
      pipelines: {
        shiller: { sources, options: { layout: 'xls' } },
        fred: { sources, options: { series: { GDP: { unit: 'USD', scale: 'billion' } } } },
        'index-constituents': { sources, options: { top_n: [0] } },
      },
    }),
  ).toEqual([
    expect.stringMatching(/^pipelines\.index-constituents\.options\.top_n\.0: /),
    expect.stringMatching(/^pipelines\.shiller\.options\.layout: /),
    expect.stringMatching(/^pipelines\.fred\.options\.series\.GDP\.scale: /),
  ]);
  // A pipeline that declares no options takes whatever old config files gave it, as before.
  expect(problems({ pipelines: { 'custom-series': { sources, options: { anything: 1 } } } })).toEqual([]);
  expect(noOptions.parse({ anything: 1 })).toEqual({ anything: 1 });
});

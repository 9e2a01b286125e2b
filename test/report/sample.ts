import { Writable } from 'node:stream';
import type { CliContext } from '../../src/cli/context.js';
import { loadConfig } from '../../src/config/load.js';
import { REGISTRY } from '../../pipelines/registry.js';
import { replaceWithSample, type TestDatabase } from '../helpers/databases.js';
import { memoryLogger } from '../helpers/pipelines.js';

/** The charts the report draws, in page order. */
export const CHART_IDS = [
  'capex-quarterly',
  'capex-vs-revenue-growth',
  'self-funding',
  'rpo',
  'top10-share',
  'effective-n',
  'price-to-sales',
  'cape',
  'buffett',
  'alert-timeline',
  'freshness',
] as const;

/** The sections and how many charts each holds. */
export const SECTION_CHARTS: Readonly<Record<string, number>> = {
  spend: 2,
  funding: 1,
  backlog: 1,
  concentration: 3,
  valuation: 2,
  dashboard: 0,
  alerts: 1,
  freshness: 1,
  other: 0,
};

/**
 * The bundled sample (data/sample) in the test database as a user's first `start --once` with
 * the bundled config leaves it, alert evaluation included (the database is closed; reopen it).
 * The sample is loaded that way once per `npm test` and database kind, and copied here
 * (test/helpers/databases.ts, sampleTemplate).
 */
export async function loadBundledSample(db: TestDatabase): Promise<void> {
  await replaceWithSample(db);
}

/** A CLI context on the test database, with stdout captured. */
export function reportContext(env: Readonly<Record<string, string>>): { ctx: CliContext; stdout: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  const ctx: CliContext = { config: loadConfig({ registry: REGISTRY, env: { ...env } }), logger: memoryLogger().logger, registry: REGISTRY.pipelines, out };
  return { ctx, stdout: () => text };
}

/** The markup of one `<section id="…">` of the report. */
export function sectionOf(report: string, id: string): string {
  const start = report.indexOf(`<section id="${id}">`);
  if (start === -1) return '';
  return report.slice(start, report.indexOf('</section>', start) + '</section>'.length);
}

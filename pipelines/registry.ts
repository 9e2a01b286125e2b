import type { Registry } from '../src/config/load.js';
import type { AnyPipeline } from '../src/engine/pipeline.js';
import { companyMetrics } from './company-metrics/pipeline.js';
import { customSeries } from './custom-series/pipeline.js';
import { fred } from './fred/pipeline.js';
import { indexConstituents } from './index-constituents/pipeline.js';
import { shiller } from './shiller/pipeline.js';
import { secCompanyfacts } from './sec-companyfacts/pipeline.js';
import { secFsds } from './sec-fsds/pipeline.js';
import { SHARED_SECTIONS, validateCompanies } from './shared/companies.js';

/** Every pipeline bubblewatch can run, in the order `run --all` runs them. */
export const PIPELINES: readonly AnyPipeline[] = [
  secCompanyfacts as unknown as AnyPipeline,
  secFsds as unknown as AnyPipeline,
  companyMetrics as unknown as AnyPipeline,
  indexConstituents as unknown as AnyPipeline,
  shiller as unknown as AnyPipeline,
  fred as unknown as AnyPipeline,
  customSeries as unknown as AnyPipeline,
];

export const REGISTRY: Registry = {
  pipelines: PIPELINES,
  sharedSections: SHARED_SECTIONS,
  validate: validateCompanies,
};

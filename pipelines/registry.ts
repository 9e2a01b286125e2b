import type { AnyPipeline, Registry } from '../src/sdk.js';
import { companyMetrics } from './company-metrics/pipeline.js';
import { customSeries } from './custom-series/pipeline.js';
import { fred } from './fred/pipeline.js';
import { indexConstituents } from './index-constituents/pipeline.js';
import { shiller } from './shiller/pipeline.js';
import { secCompanyfacts } from './sec-companyfacts/pipeline.js';
import { secFsds } from './sec-fsds/pipeline.js';
import { SHARED_SECTIONS, validateCompanies } from './shared/companies.js';

/**
 * Every pipeline bubblewatch can run, in the order `run --all` runs them. definePipeline hides
 * each one's row and options types inside its functions, so they share one type as they are.
 */
export const PIPELINES: readonly AnyPipeline[] = [secCompanyfacts, secFsds, companyMetrics, indexConstituents, shiller, fred, customSeries];

export const REGISTRY: Registry = {
  pipelines: PIPELINES,
  sharedSections: SHARED_SECTIONS,
  validate: validateCompanies,
};

import { definePipeline } from '../../src/engine/pipeline.js';
import { syncCompanies } from '../shared/companies.js';
import { COMPANY_FACT_COLUMNS, secFactRow, secFactValues } from '../shared/company-facts-row.js';
import { COMPANY_CHECKS, COMPANY_PREVIEWS, COMPANY_TRANSFORMS } from '../shared/company-transforms.js';
import { fsdsReader } from './reader.js';

/**
 * SEC Financial Statement Data Sets: quarterly zips (2025q1.zip) or folders holding sub.txt
 * and num.txt, filtered to the configured companies and tags while streaming.
 */
export const secFsds = definePipeline({
  name: 'sec-fsds',
  description: 'SEC financial statement data sets (sub.txt + num.txt, folder or quarterly zip) → raw.company_facts',
  source: { pattern: '*.zip', datasetMarker: 'num.txt', datasetFiles: ['sub.txt', 'num.txt'], expectContentType: 'zip' },
  reader: fsdsReader,
  row: secFactRow,
  naturalKey: ['accn', 'taxonomy', 'tag', 'unit', 'end', 'qtrs'],
  load: { table: 'raw.company_facts', columns: COMPANY_FACT_COLUMNS, locator: true, values: secFactValues('sec-fsds') },
  prepare: syncCompanies,
  transforms: COMPANY_TRANSFORMS,
  checks: COMPANY_CHECKS,
  defaults: { schedule: { cron: '0 8 * * 1', timezone: 'America/New_York' } },
  views: ['analytics.hyperscaler_quarterly', 'analytics.hyperscaler_totals_quarterly', 'analytics.company_facts'],
  previews: COMPANY_PREVIEWS,
});

import { definePipeline, noOptions } from '../../src/sdk.js';
import { syncCompanies } from '../shared/companies.js';
import { COMPANY_FACT_COLUMNS, secFactRow, secFactValues } from '../shared/company-facts-row.js';
import { COMPANY_CHECKS, COMPANY_FRESHNESS, COMPANY_GUARDS, COMPANY_PREVIEWS, COMPANY_TRANSFORMS } from '../shared/company-transforms.js';
import { fsdsReader } from './reader.js';

/**
 * SEC Financial Statement Data Sets: quarterly zips (2025q1.zip) or folders holding sub.txt
 * and num.txt, filtered to the configured companies and tags while streaming.
 *
 * Live, from the publisher: `url: https://www.sec.gov/files/dera/data/financial-statement-data-sets/{yyyy}q{q}.zip`
 * (one request a quarter, conditional after the first). Until the SEC publishes a quarter its URL
 * answers 404: for the latest complete quarter (partitions.current) or a later one that is recorded
 * as not_available and the run succeeds; for an earlier quarter, which the SEC has published for
 * weeks at least, the run fails, since the URL is then wrong rather than early.
 */
export const secFsds = definePipeline({
  name: 'sec-fsds',
  description: 'SEC financial statement data sets (sub.txt + num.txt, folder or quarterly zip) → raw.company_facts',
  source: { pattern: '*.zip', datasetMarker: 'num.txt', datasetFiles: ['sub.txt', 'num.txt'], expectContentType: 'zip' },
  options: noOptions,
  reader: fsdsReader,
  row: secFactRow,
  naturalKey: ['accn', 'taxonomy', 'tag', 'unit', 'end', 'qtrs'],
  load: { table: 'raw.company_facts', columns: COMPANY_FACT_COLUMNS, locator: true, values: secFactValues('sec-fsds') },
  prepare: syncCompanies,
  transforms: COMPANY_TRANSFORMS,
  checks: COMPANY_CHECKS,
  guardedTables: COMPANY_GUARDS,
  defaults: { schedule: { cron: '0 8 * * 1', timezone: 'America/New_York' } },
  views: ['analytics.hyperscaler_quarterly', 'analytics.hyperscaler_totals_quarterly', 'analytics.company_facts'],
  previews: COMPANY_PREVIEWS,
  // One data set per quarter of filings: 2025q1.zip, or a folder named 2025q1.
  partitions: {
    grain: 'quarter',
    keyOf: (file) => {
      const m = /(?:^|[/\\])(\d{4})q([1-4])(?:\.zip)?$/i.exec(file.sourceKey.replace(/[/\\]+$/, ''));
      return m ? `${m[1]}Q${m[2]}` : undefined;
    },
    // The SEC publishes a quarter's data set early in the next quarter: a scheduled run fetches the last complete one.
    current: (now) => {
      const q = Math.floor(now.getUTCMonth() / 3);
      return q === 0 ? `${now.getUTCFullYear() - 1}Q4` : `${now.getUTCFullYear()}Q${q}`;
    },
  },
  freshness: COMPANY_FRESHNESS,
});

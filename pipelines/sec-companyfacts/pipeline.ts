import { definePipeline, noOptions } from '../../src/sdk.js';
import { expandCompanyUrl, syncCompanies } from '../shared/companies.js';
import { COMPANY_FACT_COLUMNS, secFactRow, secFactValues } from '../shared/company-facts-row.js';
import { COMPANY_CHECKS, COMPANY_FRESHNESS, COMPANY_GUARDS, COMPANY_PREVIEWS, COMPANY_TRANSFORMS } from '../shared/company-transforms.js';
import { companyfactsReader } from './reader.js';

/**
 * SEC XBRL companyfacts, one JSON document per company: from a folder of downloaded files,
 * or from the SEC API with a URL template such as
 * https://data.sec.gov/api/xbrl/companyfacts/CIK{cik10}.json (one request per configured company).
 */
export const secCompanyfacts = definePipeline({
  name: 'sec-companyfacts',
  description: 'SEC XBRL companyfacts JSON per company → raw.company_facts → quarterly capex, revenue, cash flow, RPO',
  source: { pattern: '*.json', expandUrl: expandCompanyUrl, expectContentType: 'json' },
  options: noOptions,
  reader: companyfactsReader,
  row: secFactRow,
  naturalKey: ['cik', 'taxonomy', 'tag', 'unit', 'start', 'end', 'accn'],
  load: { table: 'raw.company_facts', columns: COMPANY_FACT_COLUMNS, locator: true, values: secFactValues('sec-companyfacts') },
  prepare: syncCompanies,
  transforms: COMPANY_TRANSFORMS,
  checks: COMPANY_CHECKS,
  guardedTables: COMPANY_GUARDS,
  defaults: { schedule: { cron: '0 7 * * 1-5', timezone: 'America/New_York' } },
  views: ['analytics.hyperscaler_quarterly', 'analytics.hyperscaler_totals_quarterly', 'analytics.hyperscaler_facts_as_first_reported', 'analytics.company_facts'],
  previews: COMPANY_PREVIEWS,
  freshness: COMPANY_FRESHNESS,
});

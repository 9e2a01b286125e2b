import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Synthetic benchmark data, in the real layouts of the sources, generated at run time
 * (never committed). Deterministic for a given scale: a seeded PRNG, so two runs at one
 * scale read the same bytes.
 *
 *   caps/caps_<YYYY>.csv        index constituents, canonical layout, one file per calendar year
 *   caps-big/caps_all.csv       the same rows as one file (bubblewatch ingest vs psql \copy)
 *   new-days/caps_<date>.csv    one file per new trading day after the history (incremental runs)
 *   fsds/2025q1/{sub,num}.txt   an SEC financial statement data set, 2025 layout (with segments)
 *   companyfacts/CIK*.json      SEC companyfacts documents for 50 companies
 */

export const FULL = {
  years: 35,
  tradingDaysPerYear: 252,
  tickersPerDay: 500,
  shareClassPairs: 5,
  fsdsNumRows: 3_000_000,
  fsdsSubmissions: 6_500,
  fsdsConfiguredShare: 0.01,
  companyfactsCompanies: 50,
  factsPerCompany: 10_000,
} as const;

/** The five configured companies of config/bubblewatch.yaml. */
export const CONFIGURED_CIKS = [789019, 1018724, 1652044, 1326801, 1341439] as const;

/** Tags of the configured metrics (config/bubblewatch.yaml), Amazon's capex tag included. */
export const CONFIGURED_TAGS = [
  'PaymentsToAcquirePropertyPlantAndEquipment',
  'PaymentsToAcquireProductiveAssets',
  'RevenueFromContractWithCustomerExcludingAssessedTax',
  'Revenues',
  'SalesRevenueNet',
  'NetCashProvidedByUsedInOperatingActivities',
  'ProceedsFromIssuanceOfLongTermDebt',
  'ProceedsFromIssuanceOfSeniorLongTermDebt',
  'ProceedsFromIssuanceOfDebt',
  'ProceedsFromDebtNetOfIssuanceCosts',
  'RevenueRemainingPerformanceObligation',
] as const;

/** Common us-gaap tags no configured metric uses (the bulk of real filings). */
const OTHER_TAGS = [
  'Assets', 'AssetsCurrent', 'Liabilities', 'LiabilitiesCurrent', 'LiabilitiesAndStockholdersEquity', 'StockholdersEquity',
  'CashAndCashEquivalentsAtCarryingValue', 'AccountsReceivableNetCurrent', 'InventoryNet', 'PropertyPlantAndEquipmentNet',
  'Goodwill', 'IntangibleAssetsNetExcludingGoodwill', 'AccountsPayableCurrent', 'AccruedLiabilitiesCurrent', 'LongTermDebtNoncurrent',
  'LongTermDebtCurrent', 'OperatingLeaseLiabilityNoncurrent', 'OperatingLeaseRightOfUseAsset', 'DeferredRevenueCurrent',
  'RetainedEarningsAccumulatedDeficit', 'CommonStockValue', 'AdditionalPaidInCapital', 'TreasuryStockValue',
  'CostOfRevenue', 'CostOfGoodsAndServicesSold', 'GrossProfit', 'ResearchAndDevelopmentExpense', 'SellingGeneralAndAdministrativeExpense',
  'OperatingIncomeLoss', 'InterestExpense', 'OtherNonoperatingIncomeExpense', 'IncomeTaxExpenseBenefit', 'NetIncomeLoss',
  'EarningsPerShareBasic', 'EarningsPerShareDiluted', 'WeightedAverageNumberOfSharesOutstandingBasic',
  'WeightedAverageNumberOfDilutedSharesOutstanding', 'DepreciationDepletionAndAmortization', 'ShareBasedCompensation',
  'IncreaseDecreaseInAccountsReceivable', 'IncreaseDecreaseInInventories', 'IncreaseDecreaseInAccountsPayable',
  'NetCashProvidedByUsedInInvestingActivities', 'NetCashProvidedByUsedInFinancingActivities', 'PaymentsForRepurchaseOfCommonStock',
  'PaymentsOfDividends', 'RepaymentsOfLongTermDebt', 'PaymentsToAcquireBusinessesNetOfCashAcquired', 'ComprehensiveIncomeNetOfTax',
  'OtherComprehensiveIncomeLossNetOfTax', 'IncomeLossFromContinuingOperationsBeforeIncomeTaxesExtraordinaryItemsNoncontrollingInterest',
  'EffectiveIncomeTaxRateContinuingOperations', 'UnrecognizedTaxBenefits', 'DeferredTaxAssetsNet', 'DeferredIncomeTaxLiabilitiesNet',
  'CommonStockSharesOutstanding', 'CommonStockSharesAuthorized', 'CommonStockSharesIssued', 'DividendsDeclaredPerShare',
  'MarketableSecuritiesCurrent', 'AvailableForSaleSecuritiesDebtSecurities', 'FiniteLivedIntangibleAssetsNet',
  'AmortizationOfIntangibleAssets', 'RestructuringCharges', 'LesseeOperatingLeaseLiabilityPaymentsDue', 'OperatingLeaseCost',
  'ContractWithCustomerLiabilityCurrent', 'ContractWithCustomerLiabilityRevenueRecognized', 'AccumulatedDepreciationDepletionAndAmortizationPropertyPlantAndEquipment',
  'AllocatedShareBasedCompensationExpense', 'EmployeeServiceShareBasedCompensationNonvestedAwardsTotalCompensationCostNotYetRecognized',
] as const;

const GICS = [
  'Information Technology', 'Communication Services', 'Consumer Discretionary', 'Consumer Staples', 'Energy', 'Financials',
  'Health Care', 'Industrials', 'Materials', 'Real Estate', 'Utilities',
] as const;

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** ~252 trading days of a year: its weekdays less a holiday-like handful, spread over the year. */
export function tradingDays(year: number, perYear = FULL.tradingDaysPerYear): string[] {
  const weekdays: string[] = [];
  for (let d = new Date(Date.UTC(year, 0, 1)); d.getUTCFullYear() === year; d.setUTCDate(d.getUTCDate() + 1)) {
    const dow = d.getUTCDay();
    if (dow !== 0 && dow !== 6) weekdays.push(isoDay(d));
  }
  const drop = weekdays.length - perYear;
  if (drop <= 0) return weekdays;
  const dropped = new Set<number>();
  for (let k = 0; k < drop; k++) dropped.add(Math.floor(((k + 0.5) * weekdays.length) / drop));
  return weekdays.filter((_, i) => !dropped.has(i));
}

/** Buffered appends to a file through one descriptor. */
class Out {
  private readonly fd: number;
  private buf: string[] = [];
  private size = 0;
  bytes = 0;
  constructor(path: string, header?: string) {
    this.fd = openSync(path, 'w');
    if (header !== undefined) this.write(header + '\n');
  }
  write(text: string): void {
    this.buf.push(text);
    this.size += text.length;
    if (this.size > 1 << 20) this.flush();
  }
  flush(): void {
    if (this.buf.length === 0) return;
    const chunk = this.buf.join('');
    this.bytes += Buffer.byteLength(chunk);
    writeSync(this.fd, chunk);
    this.buf = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

export interface GeneratedData {
  readonly scale: number;
  readonly dir: string;
  readonly caps: {
    readonly inbox: string;
    readonly bigFile: string;
    readonly bigFileBytes: number;
    readonly newDayFiles: readonly string[];
    readonly rows: number;
    readonly days: number;
    readonly years: number;
    readonly files: number;
    readonly firstDay: string;
    readonly lastDay: string;
  };
  readonly fsds: {
    readonly inbox: string;
    readonly dataset: string;
    readonly numRows: number;
    readonly subRows: number;
    readonly configuredRows: number;
    readonly numBytes: number;
  };
  readonly companyfacts: {
    readonly inbox: string;
    readonly companies: readonly { readonly cik: number; readonly ticker: string; readonly name: string }[];
    readonly facts: number;
    readonly configuredFacts: number;
    readonly bytes: number;
  };
  readonly generatedSeconds: number;
}

const MANIFEST = 'manifest.json';
const GENERATOR_VERSION = 3;

// ------------------------------------------------------------------ index constituents

interface Issuer {
  readonly tickers: readonly string[];
  readonly issuerId: string;
  readonly name: string;
  readonly sector: string;
  logCap: number;
  readonly drift: number;
  readonly vol: number;
}

function makeIssuers(rand: () => number): Issuer[] {
  const issuerCount = FULL.tickersPerDay - FULL.shareClassPairs;
  const usedTickers = new Set<string>();
  const usedIds = new Set<string>();
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const ticker = () => {
    for (;;) {
      const len = 2 + Math.floor(rand() * 3);
      let t = '';
      for (let i = 0; i < len; i++) t += letters[Math.floor(rand() * 26)];
      if (!usedTickers.has(t) && !usedTickers.has(`${t}.B`)) {
        usedTickers.add(t);
        return t;
      }
    }
  };
  const issuers: Issuer[] = [];
  for (let i = 0; i < issuerCount; i++) {
    let id: string;
    do id = String(100_000 + Math.floor(rand() * 1_900_000));
    while (usedIds.has(id));
    usedIds.add(id);
    const base = ticker();
    const pair = i < FULL.shareClassPairs;
    const tickers = pair ? [base, `${base}.B`] : [base];
    // A few names carry a comma and so are quoted in the CSV, as real company names are.
    const name = i % 7 === 0 ? `${base} Holdings, Inc.` : `${base} Corporation`;
    issuers.push({
      tickers,
      issuerId: id,
      name,
      sector: GICS[Math.floor(rand() * GICS.length)]!,
      logCap: Math.log(2e9) + Math.abs(gaussian(rand)) * 1.6,
      drift: 0.0002 + gaussian(rand) * 0.0003,
      vol: 0.012 + rand() * 0.015,
    });
  }
  return issuers;
}

function csvText(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function capRows(day: string, issuers: Issuer[], rand: () => number): string {
  let out = '';
  for (const issuer of issuers) {
    issuer.logCap += issuer.drift + issuer.vol * gaussian(rand);
    // Whole-company cap on each share class, as Yahoo Finance gives GOOGL and GOOG.
    const cap = Math.round(Math.exp(issuer.logCap));
    for (const ticker of issuer.tickers) {
      // A rare empty cap (BRK.B in the real snapshots).
      const capText = rand() < 0.0002 ? '' : String(cap);
      out += `${day},${ticker},${capText},${issuer.issuerId},${csvText(issuer.name)},${issuer.sector}\n`;
    }
  }
  return out;
}

const CAPS_HEADER = 'as_of,ticker,market_cap,issuer_id,name,sector';

function generateCaps(dir: string, scale: number, newDays: number): GeneratedData['caps'] {
  const totalDays = Math.max(3, Math.round(FULL.years * FULL.tradingDaysPerYear * scale));
  const years = Math.ceil(totalDays / FULL.tradingDaysPerYear);
  const lastYear = 2024;
  const allDays: string[] = [];
  for (let y = lastYear - years + 1; y <= lastYear; y++) allDays.push(...tradingDays(y));
  const days = allDays.slice(allDays.length - totalDays);
  const inbox = join(dir, 'caps');
  const bigDir = join(dir, 'caps-big');
  const newDir = join(dir, 'new-days');
  for (const d of [inbox, bigDir, newDir]) mkdirSync(d, { recursive: true });

  const rand = prng(20250101);
  const issuers = makeIssuers(rand);
  const big = new Out(join(bigDir, 'caps_all.csv'), CAPS_HEADER);
  let year = '';
  let yearOut: Out | undefined;
  let files = 0;
  let rows = 0;
  for (const day of days) {
    if (day.slice(0, 4) !== year) {
      yearOut?.close();
      year = day.slice(0, 4);
      yearOut = new Out(join(inbox, `caps_${year}.csv`), CAPS_HEADER);
      files++;
    }
    const text = capRows(day, issuers, rand);
    yearOut!.write(text);
    big.write(text);
    rows += FULL.tickersPerDay;
  }
  yearOut?.close();
  big.close();

  const newDayFiles: string[] = [];
  for (const day of tradingDays(lastYear + 1).slice(0, newDays)) {
    const path = join(newDir, `caps_${day}.csv`);
    writeFileSync(path, `${CAPS_HEADER}\n${capRows(day, issuers, rand)}`);
    newDayFiles.push(path);
  }
  return {
    inbox,
    bigFile: join(bigDir, 'caps_all.csv'),
    bigFileBytes: big.bytes,
    newDayFiles,
    rows,
    days: days.length,
    years,
    files,
    firstDay: days[0]!,
    lastDay: days[days.length - 1]!,
  };
}

// ------------------------------------------------------------------ SEC financial statement data set

const SUB_HEADER =
  'adsh\tcik\tname\tsic\tcountryba\tstprba\tcityba\tzipba\tbas1\tbas2\tbaph\tcountryma\tstprma\tcityma\tzipma\tmas1\tmas2\tcountryinc\tstprinc\tein\tformer\tchanged\tafs\twksi\tfye\tform\tperiod\tfy\tfp\tfiled\taccepted\tprevrpt\tdetail\tinstance\tnciks\taciks';
const NUM_HEADER = 'adsh\ttag\tversion\tddate\tqtrs\tuom\tsegments\tcoreg\tvalue\tfootnote';
const SEGMENTS = ['', '', 'BusinessSegments=CloudMember;', 'ProductOrServiceAxis=ServiceMember;', 'StatementGeographicalAxis=US;', 'ConsolidationItemsAxis=OperatingSegmentsMember;'];

function accession(rand: () => number, year: number): string {
  const filer = String(1_000_000 + Math.floor(rand() * 8_999_999)).padStart(10, '0');
  const seq = String(Math.floor(rand() * 999_999)).padStart(6, '0');
  return `${filer}-${String(year % 100).padStart(2, '0')}-${seq}`;
}

function generateFsds(dir: string, scale: number): GeneratedData['fsds'] {
  const inbox = join(dir, 'fsds');
  const dataset = join(inbox, '2025q1');
  mkdirSync(dataset, { recursive: true });
  const rand = prng(2025_0331);
  const numRows = Math.max(2000, Math.round(FULL.fsdsNumRows * scale));
  const subCount = Math.max(20, Math.round(FULL.fsdsSubmissions * scale));
  const configuredRowsWanted = Math.max(50, Math.round(numRows * FULL.fsdsConfiguredShare));
  // Two filings per configured company in a quarter (a 10-Q and an amendment or an 8-K with XBRL).
  const configuredSubs = CONFIGURED_CIKS.flatMap((cik) => [cik, cik]);
  const otherSubs = Math.max(1, subCount - configuredSubs.length);
  const rowsPerConfigured = Math.ceil(configuredRowsWanted / configuredSubs.length);
  const rowsPerOther = Math.max(1, Math.round((numRows - rowsPerConfigured * configuredSubs.length) / otherSubs));

  interface Sub { adsh: string; cik: number; rows: number; configured: boolean; filed: string }
  const subs: Sub[] = [];
  const usedAdsh = new Set<string>();
  const newAdsh = () => {
    for (;;) {
      const a = accession(rand, 2025);
      if (!usedAdsh.has(a)) {
        usedAdsh.add(a);
        return a;
      }
    }
  };
  for (const cik of configuredSubs) subs.push({ adsh: newAdsh(), cik, rows: rowsPerConfigured, configured: true, filed: '' });
  for (let i = 0; i < otherSubs; i++) subs.push({ adsh: newAdsh(), cik: 2_000_000 + i, rows: rowsPerOther, configured: false, filed: '' });
  // Real data sets are not grouped by company: shuffle the filing order.
  for (let i = subs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [subs[i], subs[j]] = [subs[j]!, subs[i]!];
  }

  const sub = new Out(join(dataset, 'sub.txt'), SUB_HEADER);
  for (const s of subs) {
    const day = 1 + Math.floor(rand() * 28);
    const month = 1 + Math.floor(rand() * 3);
    s.filed = `2025${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}`;
    const form = rand() < 0.7 ? '10-Q' : '10-K';
    const fp = form === '10-K' ? 'FY' : 'Q' + (1 + Math.floor(rand() * 3));
    const cols = [
      s.adsh, String(s.cik), `COMPANY ${s.cik} INC`, String(1000 + Math.floor(rand() * 8000)), 'US', 'WA', 'REDMOND', '98052', 'ONE MICROSOFT WAY', '',
      '425-882-8080', 'US', 'WA', 'REDMOND', '98052', 'ONE MICROSOFT WAY', '', 'US', 'WA', '911144442', '', '', '1-LAF', '0',
      '1231', form, '20241231', '2024', fp, s.filed, `${s.filed.slice(0, 4)}-${s.filed.slice(4, 6)}-${s.filed.slice(6)} 16:05:00.0`, '0', '1',
      'msft-20241231_htm.xml', '1', '',
    ];
    sub.write(cols.join('\t') + '\n');
  }
  sub.close();

  const num = new Out(join(dataset, 'num.txt'), NUM_HEADER);
  let written = 0;
  let configuredRows = 0;
  const ddates = ['20231231', '20240331', '20240630', '20240930', '20241231'];
  for (const s of subs) {
    for (let r = 0; r < s.rows; r++) {
      const useConfiguredTag = s.configured && rand() < 0.25;
      const custom = !useConfiguredTag && rand() < 0.08;
      const tag = useConfiguredTag
        ? CONFIGURED_TAGS[Math.floor(rand() * CONFIGURED_TAGS.length)]!
        : custom
          ? `CustomMetric${Math.floor(rand() * 500)}`
          : OTHER_TAGS[Math.floor(rand() * OTHER_TAGS.length)]!;
      const version = custom ? s.adsh : 'us-gaap/2024';
      const ddate = ddates[Math.floor(rand() * ddates.length)]!;
      const qtrs = ['0', '1', '1', '2', '3', '4'][Math.floor(rand() * 6)]!;
      const uom = tag.startsWith('EarningsPerShare') ? 'USD/shares' : tag.includes('Shares') ? 'shares' : 'USD';
      const segments = SEGMENTS[Math.floor(rand() * SEGMENTS.length)]!;
      const coreg = rand() < 0.01 ? 'SubsidiaryIssuerMember' : '';
      const value = (Math.floor(rand() * 1e11) / 1e2).toFixed(4);
      const footnote = rand() < 0.005 ? 'Amounts restated; see note 2.' : '';
      num.write(`${s.adsh}\t${tag}\t${version}\t${ddate}\t${qtrs}\t${uom}\t${segments}\t${coreg}\t${value}\t${footnote}\n`);
      written++;
      if (s.configured) configuredRows++;
    }
  }
  num.close();
  return { inbox, dataset, numRows: written, subRows: subs.length, configuredRows, numBytes: num.bytes };
}

// ------------------------------------------------------------------ SEC companyfacts JSON

function generateCompanyfacts(dir: string, scale: number): GeneratedData['companyfacts'] {
  const inbox = join(dir, 'companyfacts');
  mkdirSync(inbox, { recursive: true });
  const rand = prng(789019);
  const perCompany = Math.max(100, Math.round(FULL.factsPerCompany * scale));
  const companies: { cik: number; ticker: string; name: string }[] = [];
  const extra = FULL.companyfactsCompanies - CONFIGURED_CIKS.length;
  CONFIGURED_CIKS.forEach((cik, i) => companies.push({ cik, ticker: ['MSFT', 'AMZN', 'GOOGL', 'META', 'ORCL'][i]!, name: `Configured ${cik}` }));
  for (let i = 0; i < extra; i++) companies.push({ cik: 3_000_000 + i * 17, ticker: `SYN${String(i).padStart(2, '0')}`, name: `Synthetic Company ${i}` });

  let facts = 0;
  let configuredFacts = 0;
  let bytes = 0;
  for (const company of companies) {
    // ~10% of a company's facts are under the configured metrics' tags, the rest under others.
    const configuredCount = Math.round(perCompany * 0.1);
    const tagFacts = new Map<string, number>();
    const configuredTags = CONFIGURED_TAGS.slice(0, 6 + Math.floor(rand() * 5));
    for (let i = 0; i < configuredCount; i++) {
      const t = configuredTags[i % configuredTags.length]!;
      tagFacts.set(t, (tagFacts.get(t) ?? 0) + 1);
    }
    const rest = perCompany - configuredCount;
    const perOtherTag = 20;
    const otherTags = Math.max(1, Math.ceil(rest / perOtherTag));
    for (let i = 0; i < otherTags; i++) {
      const t = i < OTHER_TAGS.length ? OTHER_TAGS[i]! : `${OTHER_TAGS[i % OTHER_TAGS.length]!}Alt${Math.floor(i / OTHER_TAGS.length)}`;
      tagFacts.set(t, (tagFacts.get(t) ?? 0) + Math.min(perOtherTag, rest - i * perOtherTag));
    }
    const usGaap: Record<string, unknown> = {};
    for (const [tag, count] of tagFacts) {
      const list: Record<string, unknown>[] = [];
      const instant = tag === 'RevenueRemainingPerformanceObligation' || /Assets$|Liabilities|Equity|Outstanding|Goodwill|Net$/.test(tag);
      for (let i = 0; i < count; i++) {
        // Quarters back from 2024, each filed again in later comparatives.
        const q = i % 60;
        const endYear = 2024 - Math.floor(q / 4);
        const endMonth = [3, 6, 9, 12][q % 4]!;
        const end = new Date(Date.UTC(endYear, endMonth, 0));
        const duration = [1, 2, 3, 4][Math.floor(i / 60) % 4]!;
        const start = new Date(Date.UTC(endYear, endMonth - 3 * duration, 1));
        const filed = new Date(end.getTime() + (25 + Math.floor(rand() * 40) + 365 * Math.floor(i / 240)) * 86_400_000);
        const form = duration === 4 ? '10-K' : '10-Q';
        const fact: Record<string, unknown> = instant ? {} : { start: isoDay(start) };
        fact.end = isoDay(end);
        fact.val = Math.round(rand() * 5e10);
        fact.accn = accession(rand, filed.getUTCFullYear());
        fact.fy = filed.getUTCFullYear();
        fact.fp = form === '10-K' ? 'FY' : `Q${(q % 3) + 1}`;
        fact.form = form;
        fact.filed = isoDay(filed);
        if (rand() < 0.3) fact.frame = `CY${endYear}Q${(endMonth / 3) | 0}${instant ? 'I' : ''}`;
        list.push(fact);
      }
      usGaap[tag] = {
        label: tag.replace(/([a-z])([A-Z])/g, '$1 $2'),
        description: `Synthetic description of ${tag}, as long as the SEC's usually are: the amount of the item, including but not limited to the parts described elsewhere.`,
        units: { [tag.includes('Shares') ? 'shares' : 'USD']: list },
      };
      facts += count;
      if ((CONFIGURED_TAGS as readonly string[]).includes(tag)) configuredFacts += count;
    }
    const dei = {
      EntityCommonStockSharesOutstanding: {
        label: 'Entity Common Stock, Shares Outstanding',
        description: 'Number of shares outstanding.',
        units: { shares: [{ end: '2024-10-20', val: 7_433_000_000, accn: accession(rand, 2024), fy: 2025, fp: 'Q1', form: '10-Q', filed: '2024-10-30', frame: 'CY2024Q3I' }] },
      },
    };
    facts += 1;
    const doc = { cik: company.cik, entityName: company.name.toUpperCase(), facts: { dei, 'us-gaap': usGaap } };
    const text = JSON.stringify(doc);
    bytes += Buffer.byteLength(text);
    writeFileSync(join(inbox, `CIK${String(company.cik).padStart(10, '0')}.json`), text);
  }
  return { inbox, companies, facts, configuredFacts, bytes };
}

/**
 * Generate everything into `dir`, or reuse what an earlier run generated there at the same
 * scale (the manifest says which), so that repeated benchmark runs skip generation.
 */
export function generate(dir: string, scale: number, newDays: number): GeneratedData & { reused: boolean } {
  const manifestPath = join(dir, MANIFEST);
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { version: number; scale: number; newDays: number; data: GeneratedData };
    if (manifest.version === GENERATOR_VERSION && manifest.scale === scale && manifest.newDays >= newDays) {
      return { ...manifest.data, reused: true };
    }
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  const caps = generateCaps(dir, scale, newDays);
  const fsds = generateFsds(dir, scale);
  const companyfacts = generateCompanyfacts(dir, scale);
  const data: GeneratedData = { scale, dir, caps, fsds, companyfacts, generatedSeconds: (performance.now() - started) / 1000 };
  writeFileSync(manifestPath, JSON.stringify({ version: GENERATOR_VERSION, scale, newDays, data }, null, 2));
  return { ...data, reused: false };
}

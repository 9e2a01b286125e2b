/**
 * Source layouts. A layout maps the columns of a file onto the pipeline's canonical field
 * names, and says where the date comes from when the file has no date column. Readers
 * emit records with canonical names only, so the row schema and the SQL see one shape.
 *
 * Two kinds of file:
 *  - caps: market caps of an index's constituents on a date (one row per share class);
 *  - issuers: a ticker → issuer (CIK) map with GICS sectors, used to aggregate share
 *    classes and to resolve sector labels that are not GICS sectors.
 */

export type RecordKind = 'cap' | 'issuer';

/** The canonical fields a layout can fill. */
export type CanonicalField =
  | 'as_of'
  | 'ticker'
  | 'market_cap'
  | 'issuer_id'
  | 'name'
  | 'sector'
  | 'sub_industry'
  | 'float_factor'
  | 'price_to_sales'
  | 'revenue_ttm';

export interface LayoutColumn {
  readonly field: CanonicalField;
  /** The column's name in the file's header (matched trimmed and case-insensitively). */
  readonly source: string;
  /** The header must have this column (a cell may still be empty where the field allows it). */
  readonly required: boolean;
}

export interface ResolvedLayout {
  /** canonical, sp500-financials, sp500-constituents, or custom. */
  readonly name: string;
  readonly kind: RecordKind;
  /** The option that chose the layout, for messages: pipelines.index-constituents.options.layout, …files.0.layout, or a built-in rule. */
  readonly origin: string;
  readonly delimiter: string;
  readonly columns: readonly LayoutColumn[];
  /** Takes the as-of date from the file name when the file has no date column. */
  readonly asOfFromFileName?: RegExp;
}

const col = (field: CanonicalField, source: string, required: boolean): LayoutColumn => ({ field, source, required });

/**
 * canonical: the documented analyst layout, `as_of, ticker, market_cap` plus optional
 * `issuer_id, name, sector, float_factor, price_to_sales, revenue_ttm` (revenue_ttm in the
 * unit of market_cap; where a row gives both, revenue_ttm is used).
 *
 * sp500-financials: github.com/datasets/s-and-p-500-companies-financials,
 * constituents-financials_<YYYY-MM-DD>.csv: Symbol, Name, Sector, …, Market Cap, …,
 * Price/Sales (Yahoo Finance, whole-company cap on each share class; Price/Sales is market
 * cap / trailing-twelve-month revenue, optional). The date is the file name's. Sector is
 * a GICS sector up to 2018 and a GICS sub-industry in 2024+ files; the SQL resolves both.
 *
 * sp500-constituents: github.com/datasets/s-and-p-500-companies, constituents.csv:
 * Symbol, Security, GICS Sector, GICS Sub-Industry, …, CIK.
 */
export const BUILT_IN_LAYOUTS = {
  canonical: {
    name: 'canonical',
    kind: 'cap',
    delimiter: ',',
    columns: [
      col('as_of', 'as_of', true),
      col('ticker', 'ticker', true),
      col('market_cap', 'market_cap', true),
      col('issuer_id', 'issuer_id', false),
      col('name', 'name', false),
      col('sector', 'sector', false),
      col('float_factor', 'float_factor', false),
      col('price_to_sales', 'price_to_sales', false),
      col('revenue_ttm', 'revenue_ttm', false),
    ],
  },
  'sp500-financials': {
    name: 'sp500-financials',
    kind: 'cap',
    delimiter: ',',
    columns: [
      col('ticker', 'Symbol', true),
      col('market_cap', 'Market Cap', true),
      col('name', 'Name', false),
      col('sector', 'Sector', false),
      col('price_to_sales', 'Price/Sales', false),
    ],
    asOfFromFileName: /_(\d{4}-\d{2}-\d{2})\.csv$/i,
  },
  'sp500-constituents': {
    name: 'sp500-constituents',
    kind: 'issuer',
    delimiter: ',',
    columns: [
      col('ticker', 'Symbol', true),
      col('issuer_id', 'CIK', true),
      col('name', 'Security', false),
      col('sector', 'GICS Sector', false),
      col('sub_industry', 'GICS Sub-Industry', false),
    ],
  },
} as const satisfies Record<string, Omit<ResolvedLayout, 'origin'>>;

export type LayoutName = keyof typeof BUILT_IN_LAYOUTS;

import { globToRegExp } from '../../src/sdk.js';
import { BUILT_IN_LAYOUTS, type LayoutColumn, type ResolvedLayout } from './layouts.js';
import { DEFAULT_FILE_RULES, OPTIONS_PREFIX, type AsOfSource, type IndexOptions, type LayoutOption } from './options.js';

/**
 * How one file is read: its layout, the index it describes and the unit of its caps.
 * File rules are tried in order (the configured ones, then the built-in constituents.csv
 * rule); for each setting the first matching rule that sets it wins, else the top-level option.
 */
export interface FilePlan {
  readonly layout: ResolvedLayout;
  readonly index: string;
  /** USD per unit of the file's caps; null = detect (auto). */
  readonly marketCapUnit: number | null;
  /** Where a cap file's snapshot date comes from ('layout' resolved to column or file_name), and the option that said so. */
  readonly asOf: { readonly from: Exclude<AsOfSource, 'layout'>; readonly origin: string; readonly timeZone: string };
}

function resolveLayout(option: LayoutOption, origin: string): ResolvedLayout {
  if (typeof option === 'string') return { ...BUILT_IN_LAYOUTS[option], origin };
  // A custom mapping names every column it uses, so the header must have each of them.
  const columns: LayoutColumn[] = Object.entries(option.columns)
    .filter((entry): entry is [LayoutColumn['field'], string] => entry[1] !== undefined)
    .map(([field, source]) => ({ field, source, required: true }));
  if (option.kind === 'issuers') {
    return { name: 'custom', kind: 'issuer', origin, delimiter: option.delimiter, columns };
  }
  return {
    name: 'custom',
    kind: 'cap',
    origin,
    delimiter: option.delimiter,
    columns,
    ...(option.as_of_from_filename ? { asOfFromFileName: option.as_of_from_filename } : {}),
  };
}

export function planForFile(options: IndexOptions, fileName: string): FilePlan {
  const rules = [
    ...options.files.map((rule, i) => ({ rule, origin: `${OPTIONS_PREFIX}.files.${i}` })),
    ...DEFAULT_FILE_RULES.map((rule) => ({ rule, origin: `the built-in file rule for ${rule.match}` })),
  ].filter(({ rule }) => globToRegExp(rule.match).test(fileName));
  const layoutRule = rules.find(({ rule }) => rule.layout !== undefined);
  const indexRule = rules.find(({ rule }) => rule.index !== undefined);
  const unitRule = rules.find(({ rule }) => rule.market_cap_unit !== undefined);
  const layout = layoutRule
    ? resolveLayout(layoutRule.rule.layout!, layoutRule.origin.startsWith(OPTIONS_PREFIX) ? `${layoutRule.origin}.layout` : layoutRule.origin)
    : resolveLayout(options.layout, `${OPTIONS_PREFIX}.layout`);
  const unit = unitRule ? unitRule.rule.market_cap_unit! : options.market_cap_unit;
  const asOfRule = rules.find(({ rule }) => rule.as_of_from !== undefined);
  const asOfFrom = asOfRule ? asOfRule.rule.as_of_from! : options.as_of_from;
  const asOfOrigin = asOfRule ? `${asOfRule.origin}.as_of_from` : `${OPTIONS_PREFIX}.as_of_from`;
  const from = asOfFrom !== 'layout' ? asOfFrom : layout.columns.some((c) => c.field === 'as_of') ? 'column' : 'file_name';
  return {
    layout,
    index: indexRule ? indexRule.rule.index! : options.index,
    marketCapUnit: unit === 'auto' ? null : unit,
    asOf: { from, origin: asOfFrom === 'layout' ? layout.origin : asOfOrigin, timeZone: options.fetch_time_zone },
  };
}

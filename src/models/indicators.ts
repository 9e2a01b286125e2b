import { MigrationError } from '../errors.js';
import type { Direction, IndicatorSet, ModelFile } from './model-file.js';
import { literal } from './sql-text.js';

/**
 * Indicators are declared once, in the yml of the model they come from (`indicators:`), and
 * analytics.indicator_values and analytics.indicators are generated from the declarations.
 * Each declared set is one source read in one scan: fixed names become one
 * `cross join lateral (values …)`, names from the data one plain select.
 */

/** The declarations of one model: its qualified view name and its sets. */
export interface DeclaringModel {
  readonly name: string;
  readonly file: string;
  readonly doc: Pick<ModelFile, 'indicators'>;
}

export interface DeclaredIndicator {
  /** The name; for names from the data, the declared pattern (e.g. `top{n}_share`). */
  readonly name: string;
  readonly family: string;
  readonly unit: string;
  readonly frequency: string;
  readonly direction: Direction;
  readonly description: string;
  /** The model whose yml declares it, e.g. analytics.cape. */
  readonly view: string;
  /**
   * For names from the data: a test of whether a name can be one of them, offline. `undefined`
   * for fixed names. Custom series and FRED series take any name their data gives, so their
   * test accepts every snake_case name.
   */
  readonly matches?: (name: string) => boolean;
  /**
   * True when the names come from outside the models (a custom series' id in its CSV, a FRED
   * series' indicator in the config) and the declaration gives no narrower pattern: any
   * snake_case name matches, so a check of a rule's indicator must ask the config or the data.
   */
  readonly open?: boolean;
}

const SNAKE = /^[a-z_][a-z0-9_]*$/;

export function indicatorsOf(models: readonly DeclaringModel[]): DeclaredIndicator[] {
  const out: DeclaredIndicator[] = [];
  for (const model of models) {
    for (const set of model.doc.indicators ?? []) {
      if (set.values) {
        for (const v of set.values) {
          out.push({ name: v.name, family: set.family, unit: v.unit, frequency: set.frequency, direction: v.direction, description: v.description, view: model.name });
        }
      } else if (set.dynamic) {
        const d = set.dynamic;
        const re = d.matches === undefined ? SNAKE : new RegExp(d.matches);
        out.push({
          name: d.pattern,
          family: set.family,
          unit: `(${d.unit})`,
          frequency: set.frequency,
          direction: d.direction,
          description: d.description,
          view: model.name,
          matches: (name) => re.test(name),
          ...(d.matches === undefined ? { open: true } : {}),
        });
      }
    }
  }
  return out;
}

/** The declarations a name can be: a fixed name equal to it, or a pattern whose test accepts it. */
export function findIndicator(name: string, declared: readonly DeclaredIndicator[]): DeclaredIndicator[] {
  const fixed = declared.filter((d) => d.matches === undefined && d.name === name);
  return fixed.length > 0 ? fixed : declared.filter((d) => d.matches?.(name) === true);
}

/** Up to `count` fixed names closest to `name`, for "did you mean" in messages. */
export function nearestIndicatorNames(name: string, declared: readonly DeclaredIndicator[], count = 3): string[] {
  return nearestNames(name, declared.filter((d) => d.matches === undefined).map((d) => d.name), count);
}

/** Edit distance (insertions, deletions, substitutions, adjacent transpositions) between two names. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The `count` names closest to `name`: by edit distance, then names that contain it or that it
 * contains (`capex` → capex_ttm, capex_yoy …), then alphabetically.
 */
export function nearestNames(name: string, candidates: Iterable<string>, count = 3): string[] {
  const lower = name.toLowerCase();
  return [...new Set(candidates)]
    .map((c) => ({ c, distance: editDistance(lower, c.toLowerCase()), related: c.includes(lower) || lower.includes(c) ? 0 : 1 }))
    .sort((x, y) => x.distance - y.distance || x.related - y.related || x.c.localeCompare(y.c))
    .slice(0, count)
    .map((s) => s.c);
}

/** Two declarations of one indicator name in one family would give two rows per subject and period. */
export function checkIndicatorsUnique(models: readonly DeclaringModel[]): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const model of models) {
    for (const set of model.doc.indicators ?? []) {
      for (const v of set.values ?? []) {
        const key = `${set.family}/${v.name}`;
        const other = seen.get(key);
        if (other) problems.push(`${model.file}: indicator "${v.name}" of family ${set.family} is also declared in ${other}; declare each indicator once`);
        else seen.set(key, model.file);
      }
    }
  }
  return problems;
}

/** The alias a single-relation `from` gives its rows (`analytics.index_cap_changes g` → g). */
function aliasOf(from: string, file: string): string {
  const m = /^\s*[\w."]+\s+(?:as\s+)?(\w+)\s*$/i.exec(from);
  if (!m) throw new MigrationError(`${file}: distinct_on needs a from of one relation and its alias (e.g. "analytics.index_cap_changes g"); got "${from}"`);
  return m[1]!;
}

function and(...conditions: readonly (string | undefined)[]): string {
  const present = conditions.filter((c): c is string => c !== undefined);
  return present.length === 0 ? '' : `\nwhere ${present.map((c) => (present.length > 1 ? `(${c})` : c)).join(' and ')}`;
}

/** The FROM clause of a set, with distinct_on applied inside a subquery (the filter first, as today). */
function source(set: IndicatorSet, file: string, innerCondition: string | undefined): { from: string; outer: string | undefined } {
  if (!set.distinct_on) return { from: set.from, outer: innerCondition };
  const alias = aliasOf(set.from, file);
  const inner = and(set.where, innerCondition).replace(/^\n/, '\n  ');
  return {
    from: `(\n  select distinct on (${set.distinct_on.keys}) ${alias}.*\n  from ${set.from}${inner}\n  order by ${set.distinct_on.keys}, ${set.distinct_on.order_by}\n) ${alias}`,
    outer: undefined,
  };
}

/** One branch of the union: its select list (one expression per output column) and the rest of the query. */
interface Branch {
  readonly columns: readonly string[];
  readonly rest: string;
}

function valuesBranch(set: IndicatorSet, file: string): Branch {
  const values = set.values!;
  const family = literal(set.family);
  const frequency = literal(set.frequency);
  if (values.length === 1) {
    // One indicator: no lateral join needed, the row is the value.
    const v = values[0]!;
    const { from, outer } = source(set, file, `${v.value} is not null`);
    const where = set.distinct_on ? '' : and(outer, set.where);
    return { columns: [literal(v.name), set.subject, set.period_end, v.value, literal(v.unit), family, frequency], rest: `from ${from}${where}` };
  }
  const { from } = source(set, file, undefined);
  const list = values.map((v) => `  (${literal(v.name)}, ${v.value}, ${literal(v.unit)})`).join(',\n');
  return {
    columns: ['x.indicator', set.subject, set.period_end, 'x.value', 'x.unit', family, frequency],
    rest: `from ${from}\ncross join lateral (values\n${list}\n) as x(indicator, value, unit)` + and('x.value is not null', set.distinct_on ? undefined : set.where),
  };
}

function dynamicBranch(set: IndicatorSet, file: string): Branch {
  const d = set.dynamic!;
  const { from, outer } = source(set, file, `${d.value} is not null`);
  const where = set.distinct_on ? '' : and(outer, set.where);
  return {
    columns: [d.name, set.subject, set.period_end, d.value, d.unit, d.sql?.family ?? literal(set.family), d.sql?.frequency ?? literal(set.frequency)],
    rest: `from ${from}${where}`,
  };
}

const VALUE_COLUMNS = ['indicator', 'subject', 'period_end', 'value', 'unit', 'family', 'frequency'] as const;

/** The body of analytics.indicator_values: one select per declared set, in declaration order. */
export function indicatorValuesSql(models: readonly DeclaringModel[]): string {
  const parts: string[] = [];
  for (const model of models) {
    for (const set of model.doc.indicators ?? []) {
      const branch = set.values ? valuesBranch(set, model.file) : dynamicBranch(set, model.file);
      // Output column names come from the first branch of a union; name them there, once.
      const list = parts.length === 0 ? branch.columns.map((c, i) => `${c} as ${VALUE_COLUMNS[i]}`) : branch.columns;
      const what = set.values ? set.values.map((v) => v.name).join(', ') : set.dynamic!.pattern;
      parts.push(`-- ${model.name}: ${what}\nselect ${list.join(', ')}\n${branch.rest}`);
    }
  }
  if (parts.length === 0) throw new MigrationError('no model declares an indicator: analytics.indicator_values would be empty');
  return parts.join('\nunion all\n');
}

/**
 * The body of analytics.indicators: one row per indicator with a fixed name, and for names from
 * the data, one row per name (and unit) present in the data, read the way indicator_values reads them.
 */
export function indicatorCatalogSql(models: readonly DeclaringModel[]): string {
  const fixed: string[] = [];
  const dynamic: string[] = [];
  for (const model of models) {
    for (const set of model.doc.indicators ?? []) {
      for (const v of set.values ?? []) {
        fixed.push(`  (${[v.name, set.family, v.unit, set.frequency, v.direction, v.description, model.name].map(literal).join(', ')})`);
      }
      const d = set.dynamic;
      if (d) {
        const { from, outer } = source(set, model.file, `${d.value} is not null`);
        const where = set.distinct_on ? '' : and(outer, set.where);
        dynamic.push(
          `select distinct ${d.name}, ${d.sql?.family ?? literal(set.family)}, ${d.unit}, ${d.sql?.frequency ?? literal(set.frequency)}, ` +
            `${d.sql?.direction ?? literal(d.direction)}, ${d.sql?.description ?? literal(d.description)}, ${literal(model.name)}\nfrom ${from}${where}`,
        );
      }
    }
  }
  const values = `select indicator, family, unit, frequency, direction, description, source_view\nfrom (values\n${fixed.join(',\n')}\n) as d(indicator, family, unit, frequency, direction, description, source_view)`;
  return [values, ...dynamic].join('\nunion all\n');
}

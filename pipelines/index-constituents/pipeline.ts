import { z } from 'zod';
import { code, decimal, definePipeline, INVALID, isoDate, optional, RowRejection, rowSchema, text, withFastCheck } from '../../src/sdk.js';
import { issuerKey, optionsSchema } from './options.js';
import { indexConstituentsReader } from './reader.js';
import { syncIndexSettings } from './settings.js';

/**
 * Index constituent market caps by date, and the concentration figures of the AI-bubble
 * debate: top-10 share of the S&P 500, HHI, effective number of constituents, the tech
 * sectors' share, and the top 10's part in the index's gains. Where the source gives a
 * price-to-sales ratio or a trailing-twelve-month revenue per constituent, also the index
 * price-to-sales: Σ cap / Σ TTM revenue over the issuers that have both (share classes
 * counted once), with its coverage.
 *
 * Sources (a folder; each file's layout comes from the options, see options.ts):
 *   cap files      canonical `as_of, ticker, market_cap [, issuer_id, name, sector, float_factor,
 *                  price_to_sales, revenue_ttm]`, the datasets/s-and-p-500-companies-financials
 *                  snapshots (date in the file name; Price/Sales where present), or any layout
 *                  described by a column mapping;
 *   issuer maps    ticker → CIK and GICS sector, e.g. datasets/s-and-p-500-companies constituents.csv,
 *                  which lets share classes of one company (GOOGL and GOOG) count once.
 *
 * The reader maps every layout onto these canonical fields, and adds what the file implies
 * (record kind, index, as-of date from the name or the fetch, configured cap unit).
 *
 * A source may be a URL: its name, for file rules and dates, is the last segment of the URL's
 * path (the downloaded copy is cached under a hash). A snapshot whose name and rows carry no
 * date ("latest" files) takes the date it was fetched on: options.as_of_from / files[].as_of_from.
 */
const recordKind = () =>
  withFastCheck(
    z.string().transform((raw, ctx) => {
      if (raw === 'cap' || raw === 'issuer') return raw;
      ctx.addIssue({ code: 'custom', message: `got ${JSON.stringify(raw)}, expected cap or issuer`, input: raw });
      return z.NEVER;
    }),
    (raw) => (raw === 'cap' || raw === 'issuer' ? raw : INVALID),
  );

const row = rowSchema({
  record_kind: recordKind(),
  ticker: code({ max: 20 }),
  index_code: optional(code({ max: 40 })),
  as_of: optional(isoDate()),
  market_cap: optional(decimal()),
  market_cap_unit: optional(decimal()),
  issuer_id: optional(code({ max: 40 })),
  name: optional(text({ max: 300 })),
  sector: optional(text({ max: 200 })),
  sub_industry: optional(text({ max: 200 })),
  float_factor: optional(decimal()),
  price_to_sales: optional(decimal()),
  revenue_ttm: optional(decimal()),
});

export const indexConstituents = definePipeline({
  name: 'index-constituents',
  description: 'Index constituent market caps by date (CSV, configurable layout) → index concentration: top-10 share, HHI, effective N, tech share; and index price-to-sales',
  source: { pattern: '*.csv' },
  options: optionsSchema,
  reader: indexConstituentsReader,
  row,
  naturalKey: ['index_code', 'as_of', 'ticker'],
  load: {
    table: 'raw.index_constituents',
    columns: [
      'record_kind', 'index_code', 'as_of', 'ticker', 'issuer_id', 'name', 'sector', 'sub_industry', 'market_cap', 'market_cap_unit', 'float_factor',
      'price_to_sales', 'revenue_ttm',
    ],
    values: (r) => {
      if (r.record_kind === 'cap') {
        if (r.as_of === undefined) throw new RowRejection('as_of', null, 'missing; expected the date the caps refer to, YYYY-MM-DD');
        if (r.market_cap !== undefined && Number(r.market_cap) < 0) {
          throw new RowRejection('market_cap', r.market_cap, `got ${r.market_cap}, expected a market cap of 0 or more (leave the cell empty when it is unknown)`);
        }
        if (r.float_factor !== undefined && !(Number(r.float_factor) > 0 && Number(r.float_factor) <= 1)) {
          throw new RowRejection('float_factor', r.float_factor, `got ${r.float_factor}, expected a float factor above 0 and at most 1`);
        }
        if (r.price_to_sales !== undefined && Number(r.price_to_sales) < 0) {
          throw new RowRejection('price_to_sales', r.price_to_sales, `got ${r.price_to_sales}, expected a price-to-sales ratio of 0 or more (leave the cell empty when it is unknown)`);
        }
        if (r.revenue_ttm !== undefined && Number(r.revenue_ttm) < 0) {
          throw new RowRejection('revenue_ttm', r.revenue_ttm, `got ${r.revenue_ttm}, expected a trailing-twelve-month revenue of 0 or more (leave the cell empty when it is unknown)`);
        }
      } else if (r.issuer_id === undefined) {
        throw new RowRejection('issuer_id', null, `missing; a ticker → issuer map needs an issuer id (CIK) for ${r.ticker}`);
      }
      return [
        r.record_kind,
        r.record_kind === 'cap' ? (r.index_code ?? null) : null,
        r.as_of ?? null,
        r.ticker,
        r.issuer_id === undefined ? null : issuerKey(r.issuer_id),
        r.name ?? null,
        r.sector ?? null,
        r.sub_industry ?? null,
        r.record_kind === 'cap' ? (r.market_cap ?? null) : null,
        r.record_kind === 'cap' ? (r.market_cap_unit ?? null) : null,
        r.record_kind === 'cap' ? (r.float_factor ?? null) : null,
        r.record_kind === 'cap' ? (r.price_to_sales ?? null) : null,
        r.record_kind === 'cap' ? (r.revenue_ttm ?? null) : null,
      ];
    },
  },
  prepare: syncIndexSettings,
  // One snapshot file per trading day: constituents-financials_2025-02-01.csv. Ticker → issuer maps have no day.
  partitions: {
    grain: 'day',
    keyOf: (file) => /(\d{4}-\d{2}-\d{2})\.[a-z]+$/i.exec(file.sourceKey)?.[1],
  },
  // Caps come after every close; a week without a new snapshot means the source stopped.
  freshness: {
    maxAgeDays: 7,
    description: 'newest snapshot date',
    sql: `select max(as_of) as newest from core.index_concentration`,
  },
  transforms: [
    'market/constituents_10_scope.sql',
    'market/constituents_20_rows.sql',
    'market/constituents_30_issuers.sql',
    'market/constituents_40_concentration.sql',
    'market/constituents_50_top_n.sql',
    'market/constituents_60_sectors.sql',
    'market/constituents_70_history.sql',
    'market/constituents_80_cap_changes.sql',
  ],
  fileChecks: [
    {
      name: 'index_snapshot_plausible',
      description:
        'each snapshot in the file has about as many constituents, and about the same total cap, as the snapshots around it ' +
        '(the median of the nearest two on each side; options.plausibility sets the bands): a truncated download or a ' +
        'partial export is held back instead of feeding the concentration figures and alerts',
      enabled: (runtime) => runtime.options.plausibility.enabled,
      params: (runtime) => {
        const p = runtime.options.plausibility;
        return [p.max_count_change, p.max_cap_change, p.max_gap_days];
      },
      // The sizes of the snapshots loaded earlier in this run (not in core yet); a file that fails
      // takes its own out again with its rows (its savepoint).
      setup: `create temp table if not exists index_snapshot_sizes (
                file_id bigint not null, index_code text not null, as_of date not null,
                constituents bigint not null, total_cap numeric
              ) on commit drop`,
      // Caps in USD as constituents_20_rows.sql reads them: the configured unit, else one detected
      // per file and date from its largest cap.
      prepare: `insert into pg_temp.index_snapshot_sizes (file_id, index_code, as_of, constituents, total_cap)
                select $1, index_code, as_of, count(*),
                       sum(market_cap * coalesce(market_cap_unit,
                         case when largest < 1e5 then 1e9 when largest < 1e9 then 1e6 else 1 end))
                from (select r.index_code, r.as_of, r.market_cap, r.market_cap_unit,
                             max(r.market_cap) over (partition by r.index_code, r.as_of) as largest
                      from raw.index_constituents r
                      where r.file_id = $1 and r.record_kind = 'cap') caps
                group by index_code, as_of`,
      sql: `with mine as (
              select index_code, as_of, constituents, total_cap from pg_temp.index_snapshot_sizes where file_id = $1
            ),
            -- dates of the version of this path that the file replaces: core still has them, but they go
            replaced as (
              select distinct r.index_code, r.as_of
              from raw.index_constituents r
              where r.file_id in (select f.file_id from etl.source_files f where f.superseded_by = $1)
                and r.record_kind = 'cap'
            ),
            -- every other snapshot of the file's indexes: this run's earlier files, else what core holds
            others as (
              select t.index_code, t.as_of, t.constituents, t.total_cap
              from pg_temp.index_snapshot_sizes t
              where t.file_id <> $1 and t.index_code in (select index_code from mine)
              union all
              select c.index_code, c.as_of, c.constituent_rows, c.total_market_cap
              from core.index_concentration c
              where c.index_code in (select index_code from mine)
                and not exists (select 1 from pg_temp.index_snapshot_sizes t where t.index_code = c.index_code and t.as_of = c.as_of)
                and not exists (select 1 from replaced x where x.index_code = c.index_code and x.as_of = c.as_of)
            ),
            series as (
              select index_code, as_of, constituents, total_cap, true as is_mine from mine
              union all
              select o.index_code, o.as_of, o.constituents, o.total_cap, false from others o
              where not exists (select 1 from mine m where m.index_code = o.index_code and m.as_of = o.as_of)
            ),
            around as (
              select s.*,
                     lag(as_of, 2) over w as p2_as_of, lag(constituents, 2) over w as p2_n, lag(total_cap, 2) over w as p2_cap,
                     lag(as_of, 1) over w as p1_as_of, lag(constituents, 1) over w as p1_n, lag(total_cap, 1) over w as p1_cap,
                     lead(as_of, 1) over w as n1_as_of, lead(constituents, 1) over w as n1_n, lead(total_cap, 1) over w as n1_cap,
                     lead(as_of, 2) over w as n2_as_of, lead(constituents, 2) over w as n2_n, lead(total_cap, 2) over w as n2_cap
              from series s
              window w as (partition by index_code order by as_of)
            ),
            judged as (
              select a.index_code, a.as_of, a.constituents, a.total_cap,
                     (select percentile_cont(0.5) within group (order by v)
                      from (values (a.p2_n), (a.p1_n), (a.n1_n), (a.n2_n)) x(v) where v is not null) as reference_constituents,
                     (select percentile_cont(0.5) within group (order by v)
                      from (values (a.p2_cap, a.p2_as_of), (a.p1_cap, a.p1_as_of), (a.n1_cap, a.n1_as_of), (a.n2_cap, a.n2_as_of)) x(v, d)
                      where v > 0 and abs(d - a.as_of) <= $4) as reference_total_cap
              from around a
              where a.is_mine
            )
            select index_code, as_of, constituents, round(reference_constituents) as reference_constituents,
                   round(total_cap) as total_cap_usd, round(reference_total_cap::numeric) as reference_total_cap_usd
            from judged
            where abs(constituents / nullif(reference_constituents, 0) - 1) > $2
               or (total_cap is not null and abs(total_cap / nullif(reference_total_cap::numeric, 0) - 1) > $3)
            order by index_code, as_of`,
    },
  ],
  checks: [
    {
      name: 'index_constituents_key_unique',
      description: 'core.index_constituents has one row per (index_code, as_of, ticker_key) on the dates this run recomputed',
      severity: 'error',
      sql: `select c.index_code, c.as_of, c.ticker_key, count(*) as n
            from core.index_constituents c
            join core.index_refresh_scope s on s.index_code = c.index_code and s.as_of = c.as_of
                                            and s.run_id = current_setting('bubblewatch.run_id')::bigint
            group by 1, 2, 3 having count(*) > 1`,
    },
    {
      name: 'index_issuers_key_unique',
      description: 'core.index_issuers has one row per (index_code, as_of, issuer_id) on the dates this run recomputed',
      severity: 'error',
      sql: `select i.index_code, i.as_of, i.issuer_id, count(*) as n
            from core.index_issuers i
            join core.index_refresh_scope s on s.index_code = i.index_code and s.as_of = i.as_of
                                            and s.run_id = current_setting('bubblewatch.run_id')::bigint
            group by 1, 2, 3 having count(*) > 1`,
    },
    {
      name: 'index_weights_sum_to_one',
      description: 'the issuer weights of each index and date with a known cap add up to 1 (the dates this run recomputed)',
      severity: 'error',
      sql: `select i.index_code, i.as_of, sum(i.weight) as total_weight
            from core.index_issuers i
            join core.index_refresh_scope s on s.index_code = i.index_code and s.as_of = i.as_of
                                            and s.run_id = current_setting('bubblewatch.run_id')::bigint
            where i.weight is not null
            group by 1, 2 having abs(sum(i.weight) - 1) > 1e-9`,
    },
    {
      name: 'index_concentration_in_range',
      description: 'shares and HHI are within [0, 1], effective N is between 1 and the number of issuers, and top-N shares grow with N (the dates this run recomputed)',
      severity: 'error',
      sql: `select c.index_code, c.as_of, c.top10_share, c.hhi, c.effective_n, c.tech_sector_share
            from core.index_concentration c
            join core.index_refresh_scope s on s.index_code = c.index_code and s.as_of = c.as_of
                                            and s.run_id = current_setting('bubblewatch.run_id')::bigint
            where c.top10_share not between 0 and 1 or c.hhi not between 0 and 1 or c.tech_sector_share not between 0 and 1
               or c.effective_n < 1 - 1e-9 or c.effective_n > c.issuers_with_cap + 1e-9
               or exists (
                 select 1 from core.index_top_n_shares a
                 join core.index_top_n_shares b on b.index_code = a.index_code and b.as_of = a.as_of and b.n > a.n
                 where a.index_code = c.index_code and a.as_of = c.as_of and b.share < a.share)`,
    },
    {
      name: 'index_price_to_sales_in_range',
      description: 'the index price-to-sales lies between its issuers\' lowest and highest price-to-sales (it is their cap-weighted harmonic mean), its coverage is within [0, 1], and it counts no more issuers than have a cap',
      severity: 'error',
      sql: `select c.index_code, c.as_of, c.price_to_sales, c.price_to_sales_issuers, c.price_to_sales_cap_coverage, r.lowest, r.highest
            from core.index_concentration c
            join core.index_refresh_scope s on s.index_code = c.index_code and s.as_of = c.as_of
                                            and s.run_id = current_setting('bubblewatch.run_id')::bigint
            left join lateral (
              select min(i.price_to_sales) as lowest, max(i.price_to_sales) as highest
              from core.index_issuers i
              where i.index_code = c.index_code and i.as_of = c.as_of
            ) r on true
            where c.price_to_sales_cap_coverage not between 0 and 1
               or c.price_to_sales_issuers > c.issuers_with_cap
               or (c.price_to_sales is null) <> (c.price_to_sales_issuers = 0)
               or c.price_to_sales < r.lowest * (1 - 1e-12) or c.price_to_sales > r.highest * (1 + 1e-12)`,
    },
    {
      name: 'index_caps_missing',
      description: 'constituents of the dates this run recomputed whose cap is empty or zero in the source (left out of every total; counted in analytics.index_concentration.rows_missing_cap)',
      severity: 'warn',
      sql: `select c.index_code, c.as_of, c.ticker, c.name, f.uri as source_file, c.line_no
            from core.index_constituents c
            join core.index_refresh_scope s on s.index_code = c.index_code and s.as_of = c.as_of
                                            and s.run_id = current_setting('bubblewatch.run_id')::bigint
            join etl.source_files f on f.file_id = c.file_id
            where c.is_cap_missing
            order by c.index_code, c.as_of, c.ticker`,
    },
    {
      name: 'index_sales_missing',
      description: 'issuers with a cap but no TTM revenue (no price-to-sales above 0 and no revenue_ttm in the source) on dates this run recomputed whose other issuers have one: left out of the index price-to-sales, which analytics.index_concentration.price_to_sales_cap_coverage accounts for',
      severity: 'warn',
      sql: `select i.index_code, i.as_of, i.primary_ticker as ticker, i.issuer_name as name, i.market_cap, i.weight
            from core.index_issuers i
            join core.index_concentration c on c.index_code = i.index_code and c.as_of = i.as_of and c.price_to_sales_issuers > 0
            join core.index_refresh_scope s on s.index_code = i.index_code and s.as_of = i.as_of
                                            and s.run_id = current_setting('bubblewatch.run_id')::bigint
            where i.market_cap is not null and i.revenue_ttm is null
            order by i.index_code, i.as_of, i.cap_rank`,
    },
    {
      name: 'index_sector_unresolved',
      description: 'constituents whose sector label is neither a GICS sector nor resolvable through the issuer map or options.sector_map',
      severity: 'warn',
      sql: `select c.index_code, c.as_of, c.ticker, c.source_sector
            from core.index_constituents c
            join core.index_refresh_scope s on s.index_code = c.index_code and s.as_of = c.as_of
                                            and s.run_id = current_setting('bubblewatch.run_id')::bigint
            where c.sector_source = 'unresolved'
            order by c.index_code, c.as_of, c.ticker`,
    },
    {
      name: 'index_unit_detected',
      description: 'files loaded by this run whose caps were read as millions or billions of USD by auto-detection (set market_cap_unit for the file to confirm)',
      severity: 'warn',
      // This run wrote rows only for the dates in its scope: the join finds them by primary key
      // instead of reading every stored row for their run_id.
      sql: `select c.index_code, c.as_of, f.uri as source_file, min(c.market_cap_unit) as detected_unit
            from core.index_constituents c
            join core.index_refresh_scope s on s.index_code = c.index_code and s.as_of = c.as_of
                                            and s.run_id = current_setting('bubblewatch.run_id')::bigint
            join etl.source_files f on f.file_id = c.file_id
            where c.run_id = current_setting('bubblewatch.run_id')::bigint
              and c.market_cap_unit_source = 'detected' and c.market_cap_unit <> 1
            group by 1, 2, 3`,
    },
    {
      name: 'index_no_duplicate_tickers',
      description: 'a cap file loaded by this run lists each ticker once per date; where it repeats one, the last line with a cap wins',
      severity: 'warn',
      sql: `select r.file_id, r.index_code, r.as_of, upper(regexp_replace(btrim(r.ticker), '[-/ ]', '.', 'g')) as ticker_key,
                   array_agg(r.line_no order by r.line_no) as lines
            from raw.index_constituents r
            where r.run_id = current_setting('bubblewatch.run_id')::bigint and r.record_kind = 'cap'
              -- this run's rows are in its own files, at the end of the table (BRIN on file_id)
              and r.file_id >= (select min(f.file_id) from etl.source_files f
                                where f.run_id = current_setting('bubblewatch.run_id')::bigint)
            group by 1, 2, 3, 4 having count(*) > 1`,
    },
    {
      name: 'index_dates_in_one_file',
      description: 'each index date recomputed by this run comes from one file; where several current files give a date, they are merged (a known cap beats an empty one, then the newest file wins)',
      severity: 'warn',
      sql: `select c.index_code, c.as_of, c.source_files
            from core.index_concentration c
            join core.index_refresh_scope s on s.index_code = c.index_code and s.as_of = c.as_of
                                            and s.run_id = current_setting('bubblewatch.run_id')::bigint
            where c.source_files > 1`,
    },
  ],
  defaults: { schedule: { cron: '0 22 * * 1-5', timezone: 'America/New_York' } },
  // Files are snapshots of single dates; a changed one may drop a date on purpose: warn, not fail.
  guardedTables: [{ table: 'core.index_constituents', maxDrop: 0.5, severity: 'warn' }],
  views: [
    'analytics.index_concentration',
    'analytics.index_issuers',
    'analytics.index_constituents',
    'analytics.index_top_n_shares',
    'analytics.index_sector_shares',
    'analytics.index_cap_changes',
  ],
  previews: [
    {
      title: 'Index concentration and price-to-sales by snapshot, newest first (analytics.index_concentration; shares in % of the index cap; p_s_cap_pct: share of the cap with a price-to-sales)',
      sql: `select index_code as index, as_of,
                   round(top10_share * 100, 2) as top10_pct,
                   round(effective_n, 1) as effective_n,
                   round(tech_sector_share * 100, 1) as tech_pct,
                   top10_tech_issuers as top10_in_tech,
                   issuers_with_cap as issuers,
                   rows_missing_cap as missing_caps,
                   round(top10_contribution_to_change * 100, 1) as top10_pct_of_gain,
                   round(price_to_sales, 2) as price_to_sales,
                   round(price_to_sales_cap_coverage * 100, 1) as p_s_cap_pct
            from analytics.index_concentration
            order by index_code, as_of desc`,
    },
  ],
});

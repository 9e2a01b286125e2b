-- core.index_constituents: one row per index, date and ticker for the dates in this run's
-- scope (partition replace: the dates are deleted and rebuilt from the current files).
--
-- Which row counts: the rows of current (not superseded) cap files for the date. When files
-- overlap (a supplement that adds a cap the snapshot lacks), a row with a known cap beats an
-- empty one, then the newest file wins, then the last line.
-- Cap in USD: market_cap × the configured unit, or a unit detected per file and date from
-- its largest cap (below 1e5: billions, as pre-2018 S&P 500 snapshots give them; below 1e9:
-- millions; else USD). A cap that is empty or zero is missing.
-- Issuer: options.issuer_ids, else the file's issuer_id, else the issuer map (the newest
-- current issuer file's last line for the ticker), else the ticker itself.
-- GICS sector of the file's label: options.sector_map, else the label if it is a GICS sector,
-- else the sector of that sub-industry in the issuer map (2024+ snapshots put sub-industries
-- in their Sector column), else the ticker's sector in the issuer map.
-- TTM revenue in USD: the row's revenue_ttm × the cap unit where positive, else its cap in
-- USD / its price-to-sales where both are positive (a P/S of 0 is unknown, like a cap of 0).
delete from core.index_constituents c
using core.index_refresh_scope s
where s.run_id = current_setting('bubblewatch.run_id')::bigint
  and c.index_code = s.index_code and c.as_of = s.as_of;

insert into core.index_constituents
  (index_code, as_of, ticker, ticker_key, issuer_id, issuer_source, name, source_sector, gics_sector, sector_source,
   market_cap_reported, market_cap_unit, market_cap_unit_source, market_cap_usd, float_factor, is_cap_missing,
   file_id, line_no, run_id, price_to_sales, revenue_ttm_reported, revenue_ttm_usd, revenue_source)
with scope as (
  select index_code, as_of
  from core.index_refresh_scope
  where run_id = current_setting('bubblewatch.run_id')::bigint
),

-- Rows of superseded file versions no longer count. The (few) superseded files are one array,
-- so that the planner's row estimates for the large inputs stay close to the truth: a join
-- with etl.source_files made them collapse to a handful of rows and the joins below to
-- nested loops over thousands. Lookups are materialized once.
superseded_files as (
  select coalesce(array_agg(f.file_id), '{}') as superseded
  from etl.source_files f
  where f.pipeline = 'index-constituents' and f.superseded_at is not null
),

cap_rows as (
  select r.*,
         upper(regexp_replace(btrim(r.ticker), '[-/ ]', '.', 'g')) as ticker_key
  from raw.index_constituents r
  join scope s on s.index_code = r.index_code and s.as_of = r.as_of
  where r.record_kind = 'cap'
    and r.file_id <> all ((select superseded from superseded_files)::bigint[])
),

detected_units as materialized (
  select file_id, index_code, as_of,
         case
           when max(market_cap) < 1e5 then 1e9
           when max(market_cap) < 1e9 then 1e6
           else 1
         end as unit
  from cap_rows
  group by file_id, index_code, as_of
),

chosen as (
  select distinct on (r.index_code, r.as_of, r.ticker_key) r.*
  from cap_rows r
  order by r.index_code, r.as_of, r.ticker_key,
           coalesce(r.market_cap, 0) = 0, r.file_id desc, r.line_no desc
),

issuer_map as materialized (
  select distinct on (ticker_key) ticker_key, issuer_id, sector, sub_industry
  from (
    select upper(regexp_replace(btrim(r.ticker), '[-/ ]', '.', 'g')) as ticker_key,
           r.issuer_id, r.sector, r.sub_industry, r.file_id, r.line_no
    from raw.index_constituents r
    where r.record_kind = 'issuer'
      and r.file_id <> all ((select superseded from superseded_files)::bigint[])
  ) m
  order by ticker_key, file_id desc, line_no desc
),

-- A sub-industry belongs to one GICS sector; labels the map gives two sectors are not used.
sub_industry_sectors as materialized (
  select lower(btrim(m.sub_industry)) as label_key, min(g.sector) as sector
  from issuer_map m
  join core.gics_sector_names g on lower(g.name) = lower(btrim(m.sector))
  where m.sub_industry is not null
  group by lower(btrim(m.sub_industry))
  having count(distinct g.sector) = 1
),

resolved as (
  select c.*,
         coalesce(c.market_cap_unit, u.unit, 1) as unit,
         case when c.market_cap_unit is not null then 'configured' else 'detected' end as unit_source,
         coalesce(c.market_cap, 0) = 0 as is_missing,
         case
           when o.issuer_id is not null then o.issuer_id
           when c.issuer_id is not null then c.issuer_id
           when m.issuer_id is not null then m.issuer_id
           else c.ticker_key
         end as resolved_issuer_id,
         case
           when o.issuer_id is not null then 'config'
           when c.issuer_id is not null then 'file'
           when m.issuer_id is not null then 'issuer_map'
           else 'ticker'
         end as resolved_issuer_source,
         case
           when so.gics_sector is not null then so.gics_sector
           when gs.sector is not null then gs.sector
           when si.sector is not null then si.sector
           when gm.sector is not null then gm.sector
         end as resolved_sector,
         case
           when so.gics_sector is not null then 'config'
           when gs.sector is not null then 'file'
           when si.sector is not null then 'sub_industry_map'
           when gm.sector is not null then 'issuer_map'
           else 'unresolved'
         end as resolved_sector_source
  from chosen c
  left join detected_units u on u.file_id = c.file_id and u.index_code = c.index_code and u.as_of = c.as_of
  left join core.index_issuer_overrides o on o.ticker_key = c.ticker_key
  left join issuer_map m on m.ticker_key = c.ticker_key
  left join core.index_sector_overrides so on so.label_key = lower(btrim(c.sector))
  left join core.gics_sector_names gs on lower(gs.name) = lower(btrim(c.sector))
  left join sub_industry_sectors si on si.label_key = lower(btrim(c.sector))
  left join core.gics_sector_names gm on lower(gm.name) = lower(btrim(m.sector))
),

final as (
  select index_code, as_of, ticker, ticker_key,
         resolved_issuer_id as issuer_id, resolved_issuer_source as issuer_source,
         name, sector as source_sector, resolved_sector as gics_sector, resolved_sector_source as sector_source,
         market_cap as market_cap_reported, unit as market_cap_unit, unit_source as market_cap_unit_source,
         case when is_missing then null else market_cap * unit end as market_cap_usd,
         float_factor, is_missing as is_cap_missing,
         file_id, line_no, run_id,
         price_to_sales,
         revenue_ttm as revenue_ttm_reported,
         case
           when revenue_ttm > 0 then revenue_ttm * unit
           when not is_missing and price_to_sales > 0 then market_cap * unit / price_to_sales
         end as revenue_ttm_usd,
         case
           when revenue_ttm > 0 then 'reported'
           when not is_missing and price_to_sales > 0 then 'price_to_sales'
         end as revenue_source
  from resolved
)

select * from final;

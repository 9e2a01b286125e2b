-- core.index_constituents: one row per index, date and ticker for the dates in this run's
-- scope (partition replace: the dates are deleted and rebuilt from the current files).
-- reads: core.index_refresh_scope, raw.index_constituents, etl.source_files, core.index_issuer_overrides, core.index_sector_overrides, core.gics_sector_names, core.index_constituents
-- writes: core.index_constituents, index_constituents_changed
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
--
-- Only the rows that differ from the stored ones are written: a full refresh that changes
-- nothing writes nothing. Deleting every row in scope and inserting it again cost 5× the query
-- itself, most of it in the unique index, which finds each new key beside its deleted twin and
-- has to visit the heap to tell them apart.
-- When no date in scope has stored rows (a first load; new dates only, as a new trading day),
-- the rows go straight in. Otherwise the rows as they should be are compared with the stored
-- ones, and the differences wait in a temporary table for the statements that apply them; on a
-- first load that would write every row twice. Either way the dates with any change, and how
-- many rows, are kept for the transforms after this one in index_constituents_changed (declared
-- in the header: the engine runs the transforms that read it after this one).
-- Sorting a million wide rows for `distinct on` spilled to disk at the default 4 MB.
set local work_mem = '256MB';
set local jit = off;

create temp table index_constituents_changed (index_code text not null, as_of date not null, rows_changed bigint not null) on commit drop;

-- The stored table's columns without its constraints: a row that is gone has only its key.
create temp table index_constituents_changes on commit drop as
select *, false as is_gone, false as was_stored from core.index_constituents with no data;

-- Which way: decided once, before either statement writes.
create temp table index_constituents_stored on commit drop as
select exists (
  select 1
  from core.index_constituents c
  join core.index_refresh_scope s on s.index_code = c.index_code and s.as_of = c.as_of
  where s.run_id = current_setting('bubblewatch.run_id')::bigint
) as any_stored;

-- The rows as they should be (a view: each statement below plans it inline; dropped at the end,
-- or rolled back with the run).
drop view if exists pg_temp.index_constituents_final;
create temp view index_constituents_final as
-- The scope is not materialized: read where it is used, it keeps the statistics of its table, and
-- the row estimates of every join with it stay right.
with scope as not materialized (
  select index_code, as_of
  from core.index_refresh_scope
  where run_id = current_setting('bubblewatch.run_id')::bigint
),

-- Rows of superseded file versions no longer count: an anti-join with the (few) superseded
-- files, which etl.source_files' statistics (constituents_10_scope.sql) estimate well. A
-- `file_id <> all (array)` filter instead made the planner guess 0.1% of the rows and probe
-- the scope's index once per row.
cap_rows as (
  select r.file_id, r.line_no, r.run_id, r.index_code, r.as_of, r.ticker, r.issuer_id, r.name, r.sector,
         r.market_cap, r.market_cap_unit, r.float_factor, r.price_to_sales, r.revenue_ttm,
         upper(translate(btrim(r.ticker), '-/ ', '...')) as ticker_key,
         lower(btrim(r.sector)) as label_key,
         coalesce(r.market_cap, 0) = 0 as is_missing
  from raw.index_constituents r
  join scope s on s.index_code = r.index_code and s.as_of = r.as_of
  where r.record_kind = 'cap'
    and not exists (
      select 1 from etl.source_files f
      where f.file_id = r.file_id and f.superseded_at is not null
    )
),

-- From raw directly, not from cap_rows: read once, cap_rows is not kept in memory whole.
-- A superseded file's units are computed too, and match no chosen row.
detected_units as materialized (
  select r.file_id, r.index_code, r.as_of,
         case
           when max(r.market_cap) < 1e5 then 1e9
           when max(r.market_cap) < 1e9 then 1e6
           else 1
         end as unit
  from raw.index_constituents r
  join scope s on s.index_code = r.index_code and s.as_of = r.as_of
  where r.record_kind = 'cap'
  group by r.file_id, r.index_code, r.as_of
),

issuer_map as materialized (
  select distinct on (ticker_key) ticker_key, issuer_id, sector, sub_industry
  from (
    select upper(translate(btrim(r.ticker), '-/ ', '...')) as ticker_key,
           r.issuer_id, r.sector, r.sub_industry, r.file_id, r.line_no
    from raw.index_constituents r
    where r.record_kind = 'issuer'
      and not exists (
        select 1 from etl.source_files f
        where f.file_id = r.file_id and f.superseded_at is not null
      )
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

-- The lookups are small tables: each is resolved once per ticker and once per sector label, and
-- every row then joins two of them. Joined row by row (six joins of a million wide rows), they
-- cost more than reading, choosing and comparing the rows together.
-- Per ticker key: the configured issuer, the issuer map's issuer, and the GICS sector of the
-- issuer map's sector label.
ticker_lookup as materialized (
  select coalesce(o.ticker_key, m.ticker_key) as ticker_key,
         o.issuer_id as config_issuer_id,
         m.issuer_id as map_issuer_id,
         gm.sector as map_sector
  from core.index_issuer_overrides o
  full join issuer_map m on m.ticker_key = o.ticker_key
  left join core.gics_sector_names gm on lower(gm.name) = lower(btrim(m.sector))
),

-- Per sector label (trimmed, lower case): options.sector_map, else the label as a GICS sector,
-- else the sub-industry's sector in the issuer map; the first that knows the label wins.
label_lookup as materialized (
  select distinct on (label_key) label_key, sector, source
  from (
    select so.label_key, so.gics_sector as sector, 'config' as source, 1 as priority
    from core.index_sector_overrides so
    union all
    select lower(g.name), g.sector, 'file', 2
    from core.gics_sector_names g
    union all
    select si.label_key, si.sector, 'sub_industry_map', 3
    from sub_industry_sectors si
  ) l
  order by label_key, priority
),

-- The current row for each key: a known cap beats an empty one, then the newest file, then
-- the last line. Chosen before the lookups, on the rows as read.
chosen as (
  select distinct on (c.index_code, c.as_of, c.ticker_key) c.*
  from cap_rows c
  order by c.index_code, c.as_of, c.ticker_key, c.is_missing, c.file_id desc, c.line_no desc
),

resolved as (
  select c.*,
         coalesce(c.market_cap_unit, u.unit, 1) as unit,
         case when c.market_cap_unit is not null then 'configured' else 'detected' end as unit_source,
         coalesce(t.config_issuer_id, c.issuer_id, t.map_issuer_id, c.ticker_key) as resolved_issuer_id,
         case
           when t.config_issuer_id is not null then 'config'
           when c.issuer_id is not null then 'file'
           when t.map_issuer_id is not null then 'issuer_map'
           else 'ticker'
         end as resolved_issuer_source,
         coalesce(l.sector, t.map_sector) as resolved_sector,
         case
           when l.sector is not null then l.source
           when t.map_sector is not null then 'issuer_map'
           else 'unresolved'
         end as resolved_sector_source
  from chosen c
  left join detected_units u on u.file_id = c.file_id and u.index_code = c.index_code and u.as_of = c.as_of
  left join ticker_lookup t on t.ticker_key = c.ticker_key
  left join label_lookup l on l.label_key = c.label_key
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

-- Nothing stored in scope: every row is new.
with added as (
  insert into core.index_constituents
    (index_code, as_of, ticker, ticker_key, issuer_id, issuer_source, name, source_sector, gics_sector, sector_source,
     market_cap_reported, market_cap_unit, market_cap_unit_source, market_cap_usd, float_factor, is_cap_missing,
     file_id, line_no, run_id, price_to_sales, revenue_ttm_reported, revenue_ttm_usd, revenue_source)
  select index_code, as_of, ticker, ticker_key, issuer_id, issuer_source, name, source_sector, gics_sector, sector_source,
         market_cap_reported, market_cap_unit, market_cap_unit_source, market_cap_usd, float_factor, is_cap_missing,
         file_id, line_no, run_id, price_to_sales, revenue_ttm_reported, revenue_ttm_usd, revenue_source
  from index_constituents_final
  where not (select any_stored from index_constituents_stored)
  returning index_code, as_of
)
insert into index_constituents_changed (index_code, as_of, rows_changed)
select index_code, as_of, count(*)
from added
group by index_code, as_of;

-- Rows stored in scope: compare.
insert into index_constituents_changes
  (index_code, as_of, ticker, ticker_key, issuer_id, issuer_source, name, source_sector, gics_sector, sector_source,
   market_cap_reported, market_cap_unit, market_cap_unit_source, market_cap_usd, float_factor, is_cap_missing,
   file_id, line_no, run_id, price_to_sales, revenue_ttm_reported, revenue_ttm_usd, revenue_source, is_gone, was_stored)
with scope as not materialized (
  select index_code, as_of
  from core.index_refresh_scope
  where run_id = current_setting('bubblewatch.run_id')::bigint
),

stored as (
  select c.*
  from core.index_constituents c
  join scope s on s.index_code = c.index_code and s.as_of = c.as_of
),

-- A row is unchanged when every column is equal, numerics to the digit (numeric equality takes
-- 1.0 for 1.00, hence the scales).
changes as (
  select coalesce(f.index_code, c.index_code) as index_code, coalesce(f.as_of, c.as_of) as as_of,
         f.ticker, coalesce(f.ticker_key, c.ticker_key) as ticker_key, f.issuer_id, f.issuer_source, f.name,
         f.source_sector, f.gics_sector, f.sector_source, f.market_cap_reported, f.market_cap_unit,
         f.market_cap_unit_source, f.market_cap_usd, f.float_factor, f.is_cap_missing, f.file_id, f.line_no, f.run_id,
         f.price_to_sales, f.revenue_ttm_reported, f.revenue_ttm_usd, f.revenue_source,
         f.index_code is null as is_gone,
         c.index_code is not null as was_stored
  from index_constituents_final f
  full join stored c on c.index_code = f.index_code and c.as_of = f.as_of and c.ticker_key = f.ticker_key
  where c.index_code is null
     or f.index_code is null
     or row(f.*) is distinct from row(c.*)
     or row(scale(f.market_cap_reported), scale(f.market_cap_unit), scale(f.market_cap_usd), scale(f.float_factor),
            scale(f.price_to_sales), scale(f.revenue_ttm_reported), scale(f.revenue_ttm_usd))
        is distinct from
        row(scale(c.market_cap_reported), scale(c.market_cap_unit), scale(c.market_cap_usd), scale(c.float_factor),
            scale(c.price_to_sales), scale(c.revenue_ttm_reported), scale(c.revenue_ttm_usd))
)

select * from changes
where (select any_stored from index_constituents_stored);

-- Rows that are gone or differ go; rows that are new or differ come (as they should be). Only
-- rows that were stored are looked up to delete.
delete from core.index_constituents c
using index_constituents_changes x
where x.was_stored
  and x.index_code = c.index_code and x.as_of = c.as_of and x.ticker_key = c.ticker_key;

insert into core.index_constituents
  (index_code, as_of, ticker, ticker_key, issuer_id, issuer_source, name, source_sector, gics_sector, sector_source,
   market_cap_reported, market_cap_unit, market_cap_unit_source, market_cap_usd, float_factor, is_cap_missing,
   file_id, line_no, run_id, price_to_sales, revenue_ttm_reported, revenue_ttm_usd, revenue_source)
select index_code, as_of, ticker, ticker_key, issuer_id, issuer_source, name, source_sector, gics_sector, sector_source,
   market_cap_reported, market_cap_unit, market_cap_unit_source, market_cap_usd, float_factor, is_cap_missing,
   file_id, line_no, run_id, price_to_sales, revenue_ttm_reported, revenue_ttm_usd, revenue_source
from index_constituents_changes
where not is_gone;

insert into index_constituents_changed (index_code, as_of, rows_changed)
select index_code, as_of, count(*)
from index_constituents_changes
group by index_code, as_of;

drop view index_constituents_final;

-- The later transforms join it by date.
analyze index_constituents_changed;

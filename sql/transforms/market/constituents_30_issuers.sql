-- core.index_issuers: one row per index, date and issuer for the dates in this run's scope
-- (partition replace).
-- reads: core.index_refresh_scope, core.index_settings, core.index_constituents, index_constituents_changed, core.index_issuers
-- reads previous: core.index_concentration
-- writes: core.index_issuers, index_issuers_changed
--
-- Share classes of one issuer count once:
--   whole_company  the source gives each class the whole company's cap (Yahoo Finance gives
--                  GOOGL and GOOG both Alphabet's full cap): the largest class cap counts;
--   per_class      each class carries its own cap: the class caps are summed.
-- A class's cap counts × its float factor where the source gives one. An issuer whose
-- classes all lack a cap has no cap, weight or rank.
-- TTM revenue (for price-to-sales) follows the same rule, × the float factor too:
--   whole_company  each class carries the whole company's figures: the revenue of the
--                  largest class that has one counts;
--   per_class      the revenues of the classes with a cap are summed, and the issuer has
--                  none unless each of them has one (a part would overstate its P/S).
-- Fresh statistics for the rows just rewritten, when they are a sizeable part of the table (see
-- constituents_10_scope.sql): the rows constituents_20_rows.sql added, changed or removed are a
-- tenth of the table or more. A full refresh that changes nothing keeps the statistics it has.
do $$
begin
  if (select coalesce(sum(rows_changed), 0) from index_constituents_changed) * 10
     >= (select greatest(c.reltuples, 0) from pg_class c where c.oid = 'core.index_constituents'::regclass) then
    analyze core.index_constituents;
  end if;
end $$;

-- Only the rows that differ from the stored ones are written; when no date to rebuild has
-- stored rows (a first load, a new day), the rows go straight in (see constituents_20_rows.sql).
set local work_mem = '256MB';
set local jit = off;

-- The dates whose issuers can change: an issuer row is computed from the date's constituent
-- rows and the share_class_caps setting alone. So a date in scope is rebuilt when
-- constituents_20_rows.sql added, changed or removed one of its rows, or when
-- core.index_concentration (rebuilt after this) has no row for it computed under the current
-- setting. A full refresh that changes nothing rebuilds no date. With statistics, for the joins.
create temp table index_issuers_dates on commit drop as
with settings as (
  select share_class_caps from core.index_settings
  union all
  select 'whole_company' where not exists (select 1 from core.index_settings)
)
select s.index_code, s.as_of
from core.index_refresh_scope s
where s.run_id = current_setting('bubblewatch.run_id')::bigint
  and (
    exists (select 1 from index_constituents_changed x where x.index_code = s.index_code and x.as_of = s.as_of)
    or not exists (
      select 1
      from core.index_concentration c
      where c.index_code = s.index_code and c.as_of = s.as_of
        and c.share_class_caps = (select st.share_class_caps from settings st limit 1)
    )
  );

analyze index_issuers_dates;

create temp table index_issuers_changed (index_code text not null, as_of date not null, rows_changed bigint not null) on commit drop;

-- The stored table's columns without its constraints: a row that is gone has only its key.
create temp table index_issuers_changes on commit drop as
select *, false as is_gone, false as was_stored from core.index_issuers with no data;

-- Which way: decided once, before either statement writes.
create temp table index_issuers_stored on commit drop as
select exists (
  select 1
  from core.index_issuers i
  join index_issuers_dates s on s.index_code = i.index_code and s.as_of = i.as_of
) as any_stored;

-- The rows as they should be (a view, planned inline by each statement below; dropped at the
-- end, or rolled back with the run).
drop view if exists pg_temp.index_issuers_computed;
create temp view index_issuers_computed as
with settings as (
  select share_class_caps from core.index_settings
  union all
  select 'whole_company' where not exists (select 1 from core.index_settings)
),

dates as (
  select index_code, as_of
  from index_issuers_dates
),

classes as (
  select c.*,
         c.market_cap_usd * coalesce(c.float_factor, 1) as counted_cap,
         c.revenue_ttm_usd * coalesce(c.float_factor, 1) as counted_revenue,
         row_number() over (
           partition by c.index_code, c.as_of, c.issuer_id
           order by c.market_cap_usd * coalesce(c.float_factor, 1) desc nulls last, c.ticker_key
         ) as class_order
  from core.index_constituents c
  join dates s on s.index_code = c.index_code and s.as_of = c.as_of
),

issuers as (
  select c.index_code, c.as_of, c.issuer_id,
         min(c.issuer_source) filter (where c.class_order = 1) as issuer_source,
         min(c.name) filter (where c.class_order = 1) as issuer_name,
         min(c.ticker) filter (where c.class_order = 1) as primary_ticker,
         array_agg(c.ticker order by c.class_order) as tickers,
         count(*)::integer as share_classes,
         count(c.counted_cap)::integer as classes_with_cap,
         min(c.gics_sector) filter (where c.class_order = 1) as gics_sector,
         case
           when count(*) = 1 then 'single'
           when st.share_class_caps = 'per_class' then 'per_class_sum'
           else 'whole_company_max'
         end as cap_rule,
         case when st.share_class_caps = 'per_class' then sum(c.counted_cap) else max(c.counted_cap) end as market_cap,
         case
           when st.share_class_caps <> 'per_class'
             then (array_agg(c.counted_revenue order by c.class_order) filter (where c.counted_revenue is not null))[1]
           when count(c.counted_cap) > 0 and count(*) filter (where c.counted_cap is not null and c.counted_revenue is null) = 0
             then sum(c.counted_revenue) filter (where c.counted_cap is not null)
         end as revenue_ttm
  from classes c
  cross join settings st
  group by c.index_code, c.as_of, c.issuer_id, st.share_class_caps
),

final as (
  select i.*,
         case when sum(i.market_cap) over d > 0 then i.market_cap / sum(i.market_cap) over d end as weight,
         case when i.market_cap is not null
              then row_number() over (partition by i.index_code, i.as_of order by i.market_cap desc nulls last, i.issuer_id)
         end as cap_rank,
         case when i.market_cap > 0 and i.revenue_ttm > 0 then i.market_cap / i.revenue_ttm end as price_to_sales
  from issuers i
  window d as (partition by i.index_code, i.as_of)
),

computed as (
  select index_code, as_of, issuer_id, issuer_source, issuer_name, primary_ticker, tickers, share_classes, classes_with_cap,
         gics_sector, cap_rule, market_cap, weight, cap_rank, revenue_ttm, price_to_sales
  from final
)

select * from computed;

-- Nothing stored for these dates: every row is new.
with added as (
  insert into core.index_issuers
    (index_code, as_of, issuer_id, issuer_source, issuer_name, primary_ticker, tickers, share_classes, classes_with_cap,
     gics_sector, cap_rule, market_cap, weight, cap_rank, revenue_ttm, price_to_sales)
  select index_code, as_of, issuer_id, issuer_source, issuer_name, primary_ticker, tickers, share_classes, classes_with_cap,
         gics_sector, cap_rule, market_cap, weight, cap_rank, revenue_ttm, price_to_sales
  from index_issuers_computed
  where not (select any_stored from index_issuers_stored)
  returning index_code, as_of
)
insert into index_issuers_changed (index_code, as_of, rows_changed)
select index_code, as_of, count(*)
from added
group by index_code, as_of;

-- Rows stored for these dates: compare.
insert into index_issuers_changes
  (index_code, as_of, issuer_id, issuer_source, issuer_name, primary_ticker, tickers, share_classes, classes_with_cap,
   gics_sector, cap_rule, market_cap, weight, cap_rank, revenue_ttm, price_to_sales, is_gone, was_stored)
with dates as (
  select index_code, as_of
  from index_issuers_dates
),

stored as (
  select i.*
  from core.index_issuers i
  join dates s on s.index_code = i.index_code and s.as_of = i.as_of
),

-- Unchanged: every column equal, numerics to the digit.
changes as (
  select coalesce(f.index_code, c.index_code) as index_code, coalesce(f.as_of, c.as_of) as as_of,
         coalesce(f.issuer_id, c.issuer_id) as issuer_id, f.issuer_source, f.issuer_name, f.primary_ticker, f.tickers,
         f.share_classes, f.classes_with_cap, f.gics_sector, f.cap_rule, f.market_cap, f.weight, f.cap_rank, f.revenue_ttm,
         f.price_to_sales, f.index_code is null as is_gone, c.index_code is not null as was_stored
  from index_issuers_computed f
  full join stored c on c.index_code = f.index_code and c.as_of = f.as_of and c.issuer_id = f.issuer_id
  where c.index_code is null
     or f.index_code is null
     or row(f.*) is distinct from row(c.*)
     or row(scale(f.market_cap), scale(f.weight), scale(f.revenue_ttm), scale(f.price_to_sales))
        is distinct from row(scale(c.market_cap), scale(c.weight), scale(c.revenue_ttm), scale(c.price_to_sales))
)

select * from changes
where (select any_stored from index_issuers_stored);

-- Only rows that were stored are looked up to delete (a first load has none).
delete from core.index_issuers i
using index_issuers_changes x
where x.was_stored
  and x.index_code = i.index_code and x.as_of = i.as_of and x.issuer_id = i.issuer_id;

insert into core.index_issuers
  (index_code, as_of, issuer_id, issuer_source, issuer_name, primary_ticker, tickers, share_classes, classes_with_cap,
   gics_sector, cap_rule, market_cap, weight, cap_rank, revenue_ttm, price_to_sales)
select index_code, as_of, issuer_id, issuer_source, issuer_name, primary_ticker, tickers, share_classes, classes_with_cap,
       gics_sector, cap_rule, market_cap, weight, cap_rank, revenue_ttm, price_to_sales
from index_issuers_changes
where not is_gone;

insert into index_issuers_changed (index_code, as_of, rows_changed)
select index_code, as_of, count(*)
from index_issuers_changes
group by index_code, as_of;

drop view index_issuers_computed;

-- The later transforms join it by date.
analyze index_issuers_changed;

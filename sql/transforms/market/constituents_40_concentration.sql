-- core.index_concentration: one row per index and date in this run's scope (partition
-- replace; the history columns are filled by constituents_70_history.sql).
-- reads: core.index_refresh_scope, core.index_settings, core.index_constituents, core.index_issuers, index_constituents_changed, index_issuers_changed
-- reads previous: core.index_concentration
-- writes: core.index_concentration, index_concentration_dates
--
-- Every share is over issuers with a known cap; rows with a missing cap are counted and listed.
-- Price-to-sales: Σ cap / Σ TTM revenue over the issuers with both, and their count and
-- share of the total cap (the coverage).
-- Sorts and hashes over every issuer of every date in scope: at the default 4 MB they spill to disk.
set local work_mem = '256MB';
set local jit = off;

-- Fresh statistics for the issuers just rewritten, which this and the later transforms read, when
-- the rows constituents_30_issuers.sql added, changed or removed are a tenth of the table or
-- more (see constituents_10_scope.sql).
do $$
begin
  if (select coalesce(sum(rows_changed), 0) from index_issuers_changed) * 10
     >= (select greatest(c.reltuples, 0) from pg_class c where c.oid = 'core.index_issuers'::regclass) then
    analyze core.index_issuers;
  end if;
end $$;

-- The dates whose figures can change, for this transform and constituents_50_top_n.sql and
-- constituents_60_sectors.sql: those in scope where constituents_20_rows.sql or
-- constituents_30_issuers.sql added, changed or removed a row (their temporary tables of changed
-- dates), or that have no figures
-- yet; every date in scope when the settings changed in this run (prepare writes them in the
-- run's transaction, so their updated_at is now()). A full refresh that changes nothing
-- rebuilds no date. With statistics, for the joins.
create temp table index_concentration_dates on commit drop as
select s.index_code, s.as_of
from core.index_refresh_scope s
where s.run_id = current_setting('bubblewatch.run_id')::bigint
  and (
    exists (select 1 from core.index_settings st where st.updated_at = now())
    or exists (select 1 from index_constituents_changed x where x.index_code = s.index_code and x.as_of = s.as_of)
    or exists (select 1 from index_issuers_changed x where x.index_code = s.index_code and x.as_of = s.as_of)
    or not exists (select 1 from core.index_concentration c where c.index_code = s.index_code and c.as_of = s.as_of)
  );

analyze index_concentration_dates;

delete from core.index_concentration c
using index_concentration_dates s
where c.index_code = s.index_code and c.as_of = s.as_of;

insert into core.index_concentration
  (index_code, as_of, share_class_caps, constituent_rows, rows_missing_cap, missing_cap_tickers, issuers, issuers_with_cap,
   multi_class_issuers, source_files, total_market_cap, top10_market_cap, top10_share, hhi, effective_n, largest_weight,
   it_sector_share, communication_services_share, tech_sector_share, top10_tech_issuers, top10_tickers, top10_names,
   price_to_sales, price_to_sales_issuers, price_to_sales_cap_coverage, price_to_sales_market_cap, revenue_ttm)
with settings as (
  select share_class_caps, tech_sectors from core.index_settings
  union all
  select 'whole_company', array['Information Technology', 'Communication Services']
  where not exists (select 1 from core.index_settings)
),

scope as not materialized (
  select index_code, as_of
  from index_concentration_dates
),

row_counts as (
  select c.index_code, c.as_of,
         count(*)::integer as constituent_rows,
         (count(*) filter (where c.is_cap_missing))::integer as rows_missing_cap,
         coalesce(array_agg(c.ticker order by c.ticker) filter (where c.is_cap_missing), '{}') as missing_cap_tickers,
         count(distinct c.file_id)::integer as source_files
  from core.index_constituents c
  join scope s on s.index_code = c.index_code and s.as_of = c.as_of
  group by c.index_code, c.as_of
),

issuer_figures as (
  select i.index_code, i.as_of,
         count(*)::integer as issuers,
         count(i.market_cap)::integer as issuers_with_cap,
         (count(*) filter (where i.share_classes > 1))::integer as multi_class_issuers,
         sum(i.market_cap) as total_market_cap,
         sum(i.market_cap) filter (where i.cap_rank <= 10) as top10_market_cap,
         sum(i.weight * i.weight) as hhi,
         max(i.weight) as largest_weight,
         coalesce(sum(i.weight) filter (where i.gics_sector = 'Information Technology'), 0) as it_sector_share,
         coalesce(sum(i.weight) filter (where i.gics_sector = 'Communication Services'), 0) as communication_services_share,
         coalesce(sum(i.weight) filter (where i.gics_sector = any (st.tech_sectors)), 0) as tech_sector_share,
         (count(*) filter (where i.cap_rank <= 10 and i.gics_sector = any (st.tech_sectors)))::integer as top10_tech_issuers,
         coalesce(array_agg(i.primary_ticker order by i.cap_rank) filter (where i.cap_rank <= 10), '{}') as top10_tickers,
         coalesce(array_agg(coalesce(i.issuer_name, i.primary_ticker) order by i.cap_rank) filter (where i.cap_rank <= 10), '{}') as top10_names,
         (count(*) filter (where i.market_cap is not null and i.revenue_ttm is not null))::integer as price_to_sales_issuers,
         sum(i.market_cap) filter (where i.revenue_ttm is not null) as price_to_sales_market_cap,
         sum(i.revenue_ttm) filter (where i.market_cap is not null) as revenue_ttm
  from core.index_issuers i
  join scope s on s.index_code = i.index_code and s.as_of = i.as_of
  cross join settings st
  group by i.index_code, i.as_of
),

final as (
  select r.index_code, r.as_of, st.share_class_caps,
         r.constituent_rows, r.rows_missing_cap, r.missing_cap_tickers,
         f.issuers, f.issuers_with_cap, f.multi_class_issuers, r.source_files,
         f.total_market_cap, f.top10_market_cap,
         case when f.total_market_cap > 0 then f.top10_market_cap / f.total_market_cap end as top10_share,
         f.hhi,
         case when f.hhi > 0 then 1 / f.hhi end as effective_n,
         f.largest_weight,
         case when f.total_market_cap > 0 then f.it_sector_share end as it_sector_share,
         case when f.total_market_cap > 0 then f.communication_services_share end as communication_services_share,
         case when f.total_market_cap > 0 then f.tech_sector_share end as tech_sector_share,
         case when f.total_market_cap > 0 then f.top10_tech_issuers end as top10_tech_issuers,
         f.top10_tickers, f.top10_names,
         case when f.revenue_ttm > 0 then f.price_to_sales_market_cap / f.revenue_ttm end as price_to_sales,
         f.price_to_sales_issuers,
         case when f.total_market_cap > 0 then coalesce(f.price_to_sales_market_cap, 0) / f.total_market_cap end as price_to_sales_cap_coverage,
         f.price_to_sales_market_cap,
         f.revenue_ttm
  from row_counts r
  join issuer_figures f on f.index_code = r.index_code and f.as_of = r.as_of
  cross join settings st
)

select * from final;

-- core.index_sector_shares: each GICS sector's share of the index's cap, for the dates in
-- this run's scope (partition replace). Issuers whose sector label could not be resolved
-- are grouped as Unresolved (a warning check lists them).
-- reads: index_concentration_dates, core.index_settings, core.index_issuers
-- writes: core.index_sector_shares
--
-- Sorts and hashes over every issuer of every date in scope: at the default 4 MB they spill to disk.
set local work_mem = '256MB';
set local jit = off;

-- The dates whose figures can change (constituents_40_concentration.sql).
delete from core.index_sector_shares t
using index_concentration_dates s
where t.index_code = s.index_code and t.as_of = s.as_of;

insert into core.index_sector_shares (index_code, as_of, gics_sector, issuers, market_cap, share, is_tech)
with settings as (
  select tech_sectors from core.index_settings
  union all
  select array['Information Technology', 'Communication Services']
  where not exists (select 1 from core.index_settings)
),

scope as not materialized (
  select index_code, as_of
  from index_concentration_dates
),

issuers as (
  select i.index_code, i.as_of, coalesce(i.gics_sector, 'Unresolved') as gics_sector, i.market_cap,
         sum(i.market_cap) over (partition by i.index_code, i.as_of) as total_market_cap
  from core.index_issuers i
  join scope s on s.index_code = i.index_code and s.as_of = i.as_of
  where i.market_cap is not null
),

final as (
  select i.index_code, i.as_of, i.gics_sector,
         count(*)::integer as issuers,
         sum(i.market_cap) as market_cap,
         sum(i.market_cap) / min(i.total_market_cap) as share,
         i.gics_sector = any (st.tech_sectors) as is_tech
  from issuers i
  cross join settings st
  group by i.index_code, i.as_of, i.gics_sector, st.tech_sectors
)

select * from final;

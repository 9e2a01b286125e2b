-- core.index_top_n_shares: for each date in this run's scope and each N in options.top_n,
-- the share of the index's cap held by its N largest issuers (partition replace).
-- reads: index_concentration_dates, core.index_settings, core.index_issuers
-- writes: core.index_top_n_shares
--
-- Sorts and hashes over every issuer of every date in scope: at the default 4 MB they spill to disk.
set local work_mem = '256MB';
set local jit = off;

-- The dates whose figures can change (constituents_40_concentration.sql).
delete from core.index_top_n_shares t
using index_concentration_dates s
where t.index_code = s.index_code and t.as_of = s.as_of;

insert into core.index_top_n_shares (index_code, as_of, n, issuers_counted, top_n_market_cap, share)
with settings as (
  select top_n from core.index_settings
  union all
  select array[5, 10, 20] where not exists (select 1 from core.index_settings)
),

top_ns as (
  select distinct n
  from settings st
  cross join lateral unnest(st.top_n) as n
),

scope as not materialized (
  select index_code, as_of
  from index_concentration_dates
),

issuers as (
  select i.index_code, i.as_of, i.market_cap, i.cap_rank
  from core.index_issuers i
  join scope s on s.index_code = i.index_code and s.as_of = i.as_of
),

totals as (
  select index_code, as_of, sum(market_cap) as total_market_cap
  from issuers
  group by index_code, as_of
),

final as (
  select t.index_code, t.as_of, n.n,
         (count(i.cap_rank))::integer as issuers_counted,
         sum(i.market_cap) as top_n_market_cap,
         case when t.total_market_cap > 0 then coalesce(sum(i.market_cap), 0) / t.total_market_cap end as share
  from totals t
  cross join top_ns n
  left join issuers i on i.index_code = t.index_code and i.as_of = t.as_of and i.cap_rank <= n.n
  group by t.index_code, t.as_of, n.n, t.total_market_cap
)

select * from final;

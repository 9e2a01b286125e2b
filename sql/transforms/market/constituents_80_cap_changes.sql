-- core.index_cap_changes: for every date of the indices in this run's scope, the change in
-- cap since the index's previous snapshot and since each configured base date (the latest
-- snapshot on or before it), and the part of it that came from the top 10 on the end date.
-- reads: index_concentration_dates, core.index_settings, core.index_concentration, core.index_issuers
-- writes: core.index_cap_changes
--
-- Only issuers with a known cap on both dates count: an index addition, a removal or a
-- missing cap is not a gain or a loss.
-- A changed date alters the comparisons that end on it or on a later date, and no earlier one:
-- a comparison that ends before it has its base before it too (its previous snapshot, or the
-- latest snapshot on or before a base date, which a date after the comparison's end cannot
-- become or displace). So the comparisons from the first date in this run's scope whose
-- figures constituents_40_concentration.sql rebuilt on are replaced (its temporary table: the
-- dates whose issuers changed, and every date when the settings did); for a new trading day,
-- that day's; for a full refresh that changes nothing, none.
-- Sorts and windows over the whole history: at the default 4 MB they spill to disk.
set local work_mem = '256MB';
set local jit = off;

delete from core.index_cap_changes c
using (
  select index_code, min(as_of) as recompute_from
  from index_concentration_dates
  group by index_code
) r
where c.index_code = r.index_code and c.as_of >= r.recompute_from;

-- The comparisons (each recomputed date against the previous snapshot and against each base)
-- go to a temporary table first, with statistics: from a CTE the planner took each date for a
-- handful of issuers, and looked up the base issuers one index probe at a time (325k probes at
-- scale 0.05) instead of hashing them.
create temp table index_cap_change_pairs on commit drop as
with settings as (
  select base_dates from core.index_settings
  union all
  select '{}'::date[] where not exists (select 1 from core.index_settings)
),

-- Where each index's comparisons are recomputed from (see the delete above).
indices as (
  select index_code, min(as_of) as recompute_from
  from index_concentration_dates
  group by index_code
),

snapshots as (
  select c.index_code, c.as_of, c.total_market_cap,
         lag(c.as_of) over w as previous_as_of,
         lag(c.total_market_cap) over w as previous_total_market_cap,
         c.as_of >= i.recompute_from as is_recomputed
  from core.index_concentration c
  join indices i on i.index_code = c.index_code
  window w as (partition by c.index_code order by c.as_of)
),

base_snapshots as (
  select d.index_code, d.base_as_of, d.configured_base_date, s.total_market_cap as base_total_market_cap
  from (
    select s.index_code, max(s.as_of) as base_as_of, b.base_date as configured_base_date
    from settings st
    cross join lateral unnest(st.base_dates) as b(base_date)
    join snapshots s on s.as_of <= b.base_date
    group by s.index_code, b.base_date
  ) d
  join snapshots s on s.index_code = d.index_code and s.as_of = d.base_as_of
),

-- Each comparison carries both dates' index totals, so nothing joins back to the snapshots.
pairs as (
  select s.index_code, s.as_of, 'previous_snapshot' as comparison, s.previous_as_of as base_as_of, null::date as configured_base_date,
         s.total_market_cap - s.previous_total_market_cap as total_cap_change
  from snapshots s
  where s.previous_as_of is not null and s.is_recomputed
  union all
  -- Several configured dates can fall back to one snapshot: it is listed once, under the earliest.
  select s.index_code, s.as_of, 'since_base', b.base_as_of, min(b.configured_base_date),
         s.total_market_cap - b.base_total_market_cap
  from snapshots s
  join base_snapshots b on b.index_code = s.index_code and b.base_as_of < s.as_of
  where s.is_recomputed
  group by s.index_code, s.as_of, b.base_as_of, s.total_market_cap, b.base_total_market_cap
)

select * from pairs;

analyze index_cap_change_pairs;

-- One pass: each comparison with the issuers of its end date, and each of those with the same
-- issuer on the base date (b is NULL where there is none: such an issuer does not count).
insert into core.index_cap_changes
  (index_code, as_of, comparison, base_as_of, configured_base_date, issuers_matched, matched_cap_start, matched_cap_end,
   matched_cap_change, top10_cap_change, other_cap_change, top10_contribution, total_cap_change)
with matched as (
  select p.index_code, p.as_of, p.comparison, p.base_as_of, p.configured_base_date, p.total_cap_change,
         count(b.issuer_id)::integer as issuers_matched,
         sum(b.market_cap) as matched_cap_start,
         sum(e.market_cap) filter (where b.issuer_id is not null) as matched_cap_end,
         sum(e.market_cap - b.market_cap) as matched_cap_change,
         case when count(b.issuer_id) > 0
              then coalesce(sum(e.market_cap - b.market_cap) filter (where e.cap_rank <= 10), 0) end as top10_cap_change
  from index_cap_change_pairs p
  left join core.index_issuers e on e.index_code = p.index_code and e.as_of = p.as_of and e.market_cap is not null
  left join core.index_issuers b on b.index_code = p.index_code and b.as_of = p.base_as_of and b.issuer_id = e.issuer_id
                                and b.market_cap is not null
  group by p.index_code, p.as_of, p.comparison, p.base_as_of, p.configured_base_date, p.total_cap_change
),

final as (
  select index_code, as_of, comparison, base_as_of, configured_base_date,
         issuers_matched, matched_cap_start, matched_cap_end, matched_cap_change, top10_cap_change,
         matched_cap_change - top10_cap_change as other_cap_change,
         case when matched_cap_change <> 0 then top10_cap_change / matched_cap_change end as top10_contribution,
         total_cap_change
  from matched
)

select * from final;

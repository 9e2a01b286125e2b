-- core.index_cap_changes: for every date of the indices in this run's scope, the change in
-- cap since the index's previous snapshot and since each configured base date (the latest
-- snapshot on or before it), and the part of it that came from the top 10 on the end date.
-- Only issuers with a known cap on both dates count: an index addition, a removal or a
-- missing cap is not a gain or a loss. Recomputed per index (partition replace).
delete from core.index_cap_changes c
where c.index_code in (
  select index_code from core.index_refresh_scope
  where run_id = current_setting('bubblewatch.run_id')::bigint
);

insert into core.index_cap_changes
  (index_code, as_of, comparison, base_as_of, configured_base_date, issuers_matched, matched_cap_start, matched_cap_end,
   matched_cap_change, top10_cap_change, other_cap_change, top10_contribution, total_cap_change)
with settings as (
  select base_dates from core.index_settings
  union all
  select '{}'::date[] where not exists (select 1 from core.index_settings)
),

indices as (
  select distinct index_code
  from core.index_refresh_scope
  where run_id = current_setting('bubblewatch.run_id')::bigint
),

snapshots as (
  select c.index_code, c.as_of, c.total_market_cap,
         lag(c.as_of) over (partition by c.index_code order by c.as_of) as previous_as_of
  from core.index_concentration c
  join indices i on i.index_code = c.index_code
),

base_snapshots as (
  select s.index_code, max(s.as_of) as base_as_of, b.base_date as configured_base_date
  from settings st
  cross join lateral unnest(st.base_dates) as b(base_date)
  join snapshots s on s.as_of <= b.base_date
  group by s.index_code, b.base_date
),

pairs as (
  select s.index_code, s.as_of, 'previous_snapshot' as comparison, s.previous_as_of as base_as_of, null::date as configured_base_date
  from snapshots s
  where s.previous_as_of is not null
  union all
  -- Several configured dates can fall back to one snapshot: it is listed once, under the earliest.
  select s.index_code, s.as_of, 'since_base', b.base_as_of, min(b.configured_base_date)
  from snapshots s
  join base_snapshots b on b.index_code = s.index_code and b.base_as_of < s.as_of
  group by s.index_code, s.as_of, b.base_as_of
),

matched as (
  select p.index_code, p.as_of, p.comparison, p.base_as_of,
         count(*)::integer as issuers_matched,
         sum(b.market_cap) as matched_cap_start,
         sum(e.market_cap) as matched_cap_end,
         sum(e.market_cap - b.market_cap) as matched_cap_change,
         coalesce(sum(e.market_cap - b.market_cap) filter (where e.cap_rank <= 10), 0) as top10_cap_change
  from pairs p
  join core.index_issuers e on e.index_code = p.index_code and e.as_of = p.as_of and e.market_cap is not null
  join core.index_issuers b on b.index_code = p.index_code and b.as_of = p.base_as_of and b.issuer_id = e.issuer_id
                           and b.market_cap is not null
  group by p.index_code, p.as_of, p.comparison, p.base_as_of
),

final as (
  select p.index_code, p.as_of, p.comparison, p.base_as_of, p.configured_base_date,
         coalesce(m.issuers_matched, 0) as issuers_matched,
         m.matched_cap_start, m.matched_cap_end, m.matched_cap_change, m.top10_cap_change,
         m.matched_cap_change - m.top10_cap_change as other_cap_change,
         case when m.matched_cap_change <> 0 then m.top10_cap_change / m.matched_cap_change end as top10_contribution,
         e.total_market_cap - b.total_market_cap as total_cap_change
  from pairs p
  left join matched m on m.index_code = p.index_code and m.as_of = p.as_of and m.comparison = p.comparison and m.base_as_of = p.base_as_of
  join snapshots e on e.index_code = p.index_code and e.as_of = p.as_of
  join snapshots b on b.index_code = p.index_code and b.as_of = p.base_as_of
)

select * from final;

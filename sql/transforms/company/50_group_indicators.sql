-- core.group_indicators: per company group (big5) and calendar quarter, the members' totals.
-- reads: core.company_refresh_scope, core.companies, core.company_indicators
-- writes: core.group_indicators
--
-- A total is NULL unless every enabled member reported that quarter (capex_reported keeps the
-- partial sum with companies_reporting_capex). A TTM total is the sum of the members' TTMs
-- at that calendar quarter, NULL unless every member has one.
-- Recomputes the groups that have a member in this run's scope.
delete from core.group_indicators g
where g.group_name in (
  select distinct grp
  from core.companies c
  join core.company_refresh_scope s on s.ticker = c.ticker
  cross join lateral unnest(c.groups) as grp
  where s.run_id = current_setting('bubblewatch.run_id')::bigint
);

insert into core.group_indicators
  (group_name, calendar_year, calendar_quarter, period_start, period_end, companies_expected,
   companies_reporting_capex, companies_reporting_revenue, companies_reporting_ocf,
   capex, capex_reported, revenue, operating_cash_flow, free_cash_flow, rpo,
   capex_ttm, revenue_ttm, operating_cash_flow_ttm, capex_yoy, capex_ttm_yoy, revenue_ttm_yoy,
   capex_minus_revenue_growth_pp, capex_intensity, self_funding_ratio)
with touched_groups as (
  select distinct grp as group_name
  from core.companies c
  join core.company_refresh_scope s on s.ticker = c.ticker
  cross join lateral unnest(c.groups) as grp
  where s.run_id = current_setting('bubblewatch.run_id')::bigint
),

members as (
  select grp as group_name, c.ticker
  from core.companies c
  cross join lateral unnest(c.groups) as grp
  where c.is_enabled
    and grp in (select group_name from touched_groups)
),

expected as (
  select group_name, count(*) as n from members group by group_name
),

per_quarter as (
  select m.group_name, i.calendar_year, i.calendar_quarter,
         count(i.capex) as n_capex, sum(i.capex) as capex_sum,
         count(i.revenue) as n_revenue, sum(i.revenue) as revenue_sum,
         count(i.operating_cash_flow) as n_ocf, sum(i.operating_cash_flow) as ocf_sum,
         count(i.rpo) as n_rpo, sum(i.rpo) as rpo_sum,
         count(i.capex_ttm) as n_capex_ttm, sum(i.capex_ttm) as capex_ttm_sum,
         count(i.revenue_ttm) as n_revenue_ttm, sum(i.revenue_ttm) as revenue_ttm_sum,
         count(i.operating_cash_flow_ttm) as n_ocf_ttm, sum(i.operating_cash_flow_ttm) as ocf_ttm_sum
  from members m
  join core.company_indicators i on i.ticker = m.ticker
  group by m.group_name, i.calendar_year, i.calendar_quarter
),

complete as (
  select p.*, e.n as expected,
         p.calendar_year * 4 + p.calendar_quarter - 1 as quarter_index,
         case when p.n_capex = e.n then p.capex_sum end as capex,
         case when p.n_revenue = e.n then p.revenue_sum end as revenue,
         case when p.n_ocf = e.n then p.ocf_sum end as operating_cash_flow,
         case when p.n_rpo = e.n then p.rpo_sum end as rpo
  from per_quarter p
  join expected e on e.group_name = p.group_name
),

rolling as (
  select c.*,
         case when c.n_capex_ttm = c.expected then c.capex_ttm_sum end as capex_ttm,
         case when c.n_revenue_ttm = c.expected then c.revenue_ttm_sum end as revenue_ttm,
         case when c.n_ocf_ttm = c.expected then c.ocf_ttm_sum end as operating_cash_flow_ttm
  from complete c
),

with_prior as (
  select t.*, p.capex as capex_prior, p.capex_ttm as capex_ttm_prior, p.revenue_ttm as revenue_ttm_prior
  from rolling t
  left join rolling p on p.group_name = t.group_name and p.quarter_index = t.quarter_index - 4
),

final as (
  select w.*,
         make_date(w.calendar_year, w.calendar_quarter * 3 - 2, 1) as period_start,
         (make_date(w.calendar_year, w.calendar_quarter * 3 - 2, 1) + interval '3 months' - interval '1 day')::date as period_end,
         case when w.capex_prior > 0 then w.capex / w.capex_prior - 1 end as capex_yoy,
         case when w.capex_ttm_prior > 0 then w.capex_ttm / w.capex_ttm_prior - 1 end as capex_ttm_yoy,
         case when w.revenue_ttm_prior > 0 then w.revenue_ttm / w.revenue_ttm_prior - 1 end as revenue_ttm_yoy
  from with_prior w
)

select group_name, calendar_year, calendar_quarter, period_start, period_end, expected,
       n_capex, n_revenue, n_ocf,
       capex, capex_sum, revenue, operating_cash_flow, operating_cash_flow - capex, rpo,
       capex_ttm, revenue_ttm, operating_cash_flow_ttm, capex_yoy, capex_ttm_yoy, revenue_ttm_yoy,
       (capex_ttm_yoy - revenue_ttm_yoy) * 100,
       case when revenue_ttm > 0 then capex_ttm / revenue_ttm end,
       case when operating_cash_flow_ttm > 0 then capex_ttm / operating_cash_flow_ttm end
from final;

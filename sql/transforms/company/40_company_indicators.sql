-- core.company_indicators: per company and fiscal quarter (latest vintage), the quarter's
-- values, trailing twelve months (TTM: the four quarters ending here, all present and
-- contiguous; else a twelve-month fact ending here, such as a fiscal year or a TTM figure a
-- company states in its release), year-on-year growth and the bubble ratios. A missing
-- input gives NULL.
-- reads: core.company_refresh_scope, core.company_quarterly, core.company_facts
-- writes: core.company_indicators
--
--   self_funding_ratio  TTM capex / TTM operating cash flow (> 1: capex needs outside money)
--   capex_intensity     TTM capex / TTM revenue
--   rpo_coverage_years  RPO / TTM revenue
-- Partition replace over the companies in this run's scope.
delete from core.company_indicators i
using core.company_refresh_scope s
where s.run_id = current_setting('bubblewatch.run_id')::bigint
  and s.ticker = i.ticker;

insert into core.company_indicators
  (ticker, end_key, period_start, period_end, fiscal_year, fiscal_quarter, calendar_year, calendar_quarter,
   capex, revenue, operating_cash_flow, free_cash_flow, debt_proceeds, rpo,
   capex_ttm, revenue_ttm, operating_cash_flow_ttm, free_cash_flow_ttm, debt_proceeds_ttm,
   capex_yoy, revenue_yoy, capex_ttm_yoy, revenue_ttm_yoy, operating_cash_flow_ttm_yoy,
   capex_minus_revenue_growth_pp, capex_intensity, self_funding_ratio,
   rpo_yoy, rpo_coverage_years, rpo_to_capex_ttm,
   capex_derivation, revenue_derivation, operating_cash_flow_derivation, capex_accession)
with scope as (
  select s.ticker
  from core.company_refresh_scope s
  where s.run_id = current_setting('bubblewatch.run_id')::bigint
),

quarterly as (
  select q.*
  from core.company_quarterly q
  join scope s on s.ticker = q.ticker
  where q.vintage = 'latest'
),

year_facts as (
  select distinct on (f.ticker, f.metric, f.end_key) f.ticker, f.metric, f.end_key, f.value
  from core.company_facts f
  join scope s on s.ticker = f.ticker
  where f.vintage = 'latest' and f.duration_class = 'year'
  order by f.ticker, f.metric, f.end_key, f.tag_priority, f.filed desc nulls last
),

from_quarters as (
  select q.ticker, q.metric, q.end_key, q.value,
         case when count(*) over w = 4
               and min(q.start_key) over w = (q.end_key + 1 - interval '12 months')::date
              then sum(q.value) over w end as ttm
  from quarterly q
  where q.start_key is not null
  window w as (partition by q.ticker, q.metric order by q.end_key
               range between interval '11 months' preceding and current row)
  union all
  select q.ticker, q.metric, q.end_key, q.value, null as ttm
  from quarterly q
  where q.start_key is null
),

rolling as (
  select r.ticker, r.metric, r.end_key, r.value, coalesce(r.ttm, y.value) as ttm
  from from_quarters r
  left join year_facts y on y.ticker = r.ticker and y.metric = r.metric and y.end_key = r.end_key
  union all
  -- a twelve-month figure at a quarter end for which no quarter of that metric is known
  select y.ticker, y.metric, y.end_key, null, y.value
  from year_facts y
  where not exists (select 1 from from_quarters r where r.ticker = y.ticker and r.metric = y.metric and r.end_key = y.end_key)
    and exists (select 1 from quarterly q where q.ticker = y.ticker and q.end_key = y.end_key)
),

with_prior as (
  select t.*, p.value as prior_value, p.ttm as prior_ttm
  from rolling t
  left join rolling p
    on p.ticker = t.ticker and p.metric = t.metric
   and p.end_key = (t.end_key + 1 - interval '12 months')::date - 1
),

quarters as (
  select q.ticker, q.end_key,
         max(q.period_start) as period_start, max(q.period_end) as period_end,
         max(q.fiscal_year) as fiscal_year, max(q.fiscal_quarter) as fiscal_quarter,
         max(q.calendar_year) as calendar_year, max(q.calendar_quarter) as calendar_quarter,
         max(q.derivation) filter (where q.metric = 'capex') as capex_derivation,
         max(q.derivation) filter (where q.metric = 'revenue') as revenue_derivation,
         max(q.derivation) filter (where q.metric = 'operating_cash_flow') as operating_cash_flow_derivation,
         max(q.accession) filter (where q.metric = 'capex') as capex_accession
  from quarterly q
  group by q.ticker, q.end_key
),

pivoted as (
  select qs.*,
         max(w.value) filter (where w.metric = 'capex') as capex,
         max(w.value) filter (where w.metric = 'revenue') as revenue,
         max(w.value) filter (where w.metric = 'operating_cash_flow') as operating_cash_flow,
         max(w.value) filter (where w.metric = 'debt_proceeds') as debt_proceeds,
         max(w.value) filter (where w.metric = 'rpo') as rpo,
         max(w.ttm) filter (where w.metric = 'capex') as capex_ttm,
         max(w.ttm) filter (where w.metric = 'revenue') as revenue_ttm,
         max(w.ttm) filter (where w.metric = 'operating_cash_flow') as operating_cash_flow_ttm,
         max(w.ttm) filter (where w.metric = 'debt_proceeds') as debt_proceeds_ttm,
         max(w.prior_value) filter (where w.metric = 'capex') as capex_prior,
         max(w.prior_value) filter (where w.metric = 'revenue') as revenue_prior,
         max(w.prior_value) filter (where w.metric = 'rpo') as rpo_prior,
         max(w.prior_ttm) filter (where w.metric = 'capex') as capex_ttm_prior,
         max(w.prior_ttm) filter (where w.metric = 'revenue') as revenue_ttm_prior,
         max(w.prior_ttm) filter (where w.metric = 'operating_cash_flow') as operating_cash_flow_ttm_prior
  from quarters qs
  join with_prior w on w.ticker = qs.ticker and w.end_key = qs.end_key
  group by qs.ticker, qs.end_key, qs.period_start, qs.period_end, qs.fiscal_year, qs.fiscal_quarter,
           qs.calendar_year, qs.calendar_quarter, qs.capex_derivation, qs.revenue_derivation,
           qs.operating_cash_flow_derivation, qs.capex_accession
),

growth as (
  select p.*,
         case when p.capex_prior > 0 then p.capex / p.capex_prior - 1 end as capex_yoy,
         case when p.revenue_prior > 0 then p.revenue / p.revenue_prior - 1 end as revenue_yoy,
         case when p.capex_ttm_prior > 0 then p.capex_ttm / p.capex_ttm_prior - 1 end as capex_ttm_yoy,
         case when p.revenue_ttm_prior > 0 then p.revenue_ttm / p.revenue_ttm_prior - 1 end as revenue_ttm_yoy,
         case when p.operating_cash_flow_ttm_prior > 0
              then p.operating_cash_flow_ttm / p.operating_cash_flow_ttm_prior - 1 end as operating_cash_flow_ttm_yoy,
         case when p.rpo_prior > 0 then p.rpo / p.rpo_prior - 1 end as rpo_yoy
  from pivoted p
),

final as (
  select g.*,
         g.operating_cash_flow - g.capex as free_cash_flow,
         g.operating_cash_flow_ttm - g.capex_ttm as free_cash_flow_ttm,
         (g.capex_ttm_yoy - g.revenue_ttm_yoy) * 100 as capex_minus_revenue_growth_pp,
         case when g.revenue_ttm > 0 then g.capex_ttm / g.revenue_ttm end as capex_intensity,
         case when g.operating_cash_flow_ttm > 0 then g.capex_ttm / g.operating_cash_flow_ttm end as self_funding_ratio,
         case when g.revenue_ttm > 0 then g.rpo / g.revenue_ttm end as rpo_coverage_years,
         case when g.capex_ttm > 0 then g.rpo / g.capex_ttm end as rpo_to_capex_ttm
  from growth g
)

select ticker, end_key, period_start, period_end, fiscal_year, fiscal_quarter, calendar_year, calendar_quarter,
       capex, revenue, operating_cash_flow, free_cash_flow, debt_proceeds, rpo,
       capex_ttm, revenue_ttm, operating_cash_flow_ttm, free_cash_flow_ttm, debt_proceeds_ttm,
       capex_yoy, revenue_yoy, capex_ttm_yoy, revenue_ttm_yoy, operating_cash_flow_ttm_yoy,
       capex_minus_revenue_growth_pp, capex_intensity, self_funding_ratio,
       rpo_yoy, rpo_coverage_years, rpo_to_capex_ttm,
       capex_derivation, revenue_derivation, operating_cash_flow_derivation, capex_accession
from final;

-- core.company_quarterly: one value per company, metric, fiscal quarter and vintage.
-- reads: core.company_refresh_scope, core.company_facts, core.metrics, core.companies
-- writes: core.company_quarterly
--
--   discrete      a three-month fact as filed
--   ytd_diff      year-to-date minus the previous year-to-date with the same start
--                 (10-Q cash-flow statements are year-to-date: Q2 = YTD6 - YTD3, Q3 = YTD9 - YTD6)
--   fy_minus_ytd  the fiscal year minus the nine-month year-to-date (Q4 is never filed on its own)
--   instant       a balance at the quarter's end (RPO)
--   csv           an analyst figure
--
-- Only facts with the same start are subtracted, and facts are classified by their duration,
-- never by the filing's fy/fp. For one quarter the preferred tag wins, then a discrete fact
-- over a derived one. A fiscal quarter belongs to the calendar quarter holding its midpoint.
-- Partition replace over the companies in this run's scope.
delete from core.company_quarterly q
using core.company_refresh_scope s
where s.run_id = current_setting('bubblewatch.run_id')::bigint
  and s.ticker = q.ticker;

insert into core.company_quarterly
  (ticker, metric, vintage, start_key, end_key, period_start, period_end, fiscal_year, fiscal_quarter,
   calendar_year, calendar_quarter, value, derivation, tag, accession, filed, inputs)
with scope as (
  select s.ticker
  from core.company_refresh_scope s
  where s.run_id = current_setting('bubblewatch.run_id')::bigint
),

facts as (
  select f.*, m.kind,
         jsonb_build_object('value', f.value, 'start', f.period_start, 'end', f.period_end, 'tag', f.tag,
                            'accession', f.accession, 'form', f.form, 'filed', f.filed,
                            'file_id', f.file_id, 'line', f.line_no) as evidence
  from core.company_facts f
  join scope s on s.ticker = f.ticker
  join core.metrics m on m.metric = f.metric
),

flows as (
  select * from facts where kind = 'flow'
),

discrete as (
  select ticker, metric, vintage, tag, tag_priority, start_key, end_key, period_start, period_end, value,
         case when tag = 'analyst' then 'csv' else 'discrete' end as derivation,
         accession, filed, jsonb_build_array(evidence) as inputs
  from flows
  where duration_class = 'quarter'
),

differenced as (
  select b.ticker, b.metric, b.vintage, b.tag, greatest(a.tag_priority, b.tag_priority) as tag_priority,
         a.end_key + 1 as start_key, b.end_key,
         a.period_end + 1 as period_start, b.period_end,
         b.value - a.value as value,
         case when b.duration_class = 'year' then 'fy_minus_ytd' else 'ytd_diff' end as derivation,
         b.accession, b.filed,
         jsonb_build_array(b.evidence, a.evidence) as inputs
  from flows a
  join flows b
    on  b.ticker = a.ticker and b.metric = a.metric and b.vintage = a.vintage
    -- never subtract one XBRL concept from another; an analyst figure stands for the metric itself
    and (b.tag = a.tag or a.tag = 'analyst' or b.tag = 'analyst')
    and b.start_key = a.start_key
    and b.end_key - a.end_key between 80 and 100
  where (a.duration_class, b.duration_class) in
        (('quarter', 'half_year'), ('half_year', 'nine_months'), ('nine_months', 'year'))
),

instants as (
  select ticker, metric, vintage, tag, tag_priority, null::date as start_key, end_key,
         null::date as period_start, period_end, value,
         case when tag = 'analyst' then 'csv' else 'instant' end as derivation,
         accession, filed, jsonb_build_array(evidence) as inputs
  from facts
  where kind = 'instant'
),

candidates as (
  select * from discrete
  union all
  select * from differenced
  union all
  select * from instants
),

chosen as (
  select distinct on (ticker, metric, vintage, end_key) *
  from candidates
  order by ticker, metric, vintage, end_key, tag_priority,
           case when derivation in ('discrete', 'csv', 'instant') then 0 else 1 end,
           filed desc nulls last
),

final as (
  select c.*,
         -- a fiscal year is named by the calendar year in which it ends
         extract(year from c.end_key)::int
           + case when extract(month from c.end_key)::int > co.fiscal_year_end_month then 1 else 0 end as fiscal_year,
         ((extract(month from c.end_key)::int - co.fiscal_year_end_month - 1 + 12) % 12) / 3 + 1 as fiscal_quarter,
         -- an instant belongs where the quarter ending on that date would
         coalesce(c.start_key, (c.end_key + 1 - interval '3 months')::date) as window_start
  from chosen c
  join core.companies co on co.ticker = c.ticker
)

select ticker, metric, vintage, start_key, end_key, period_start, period_end, fiscal_year, fiscal_quarter,
       extract(year from window_start + (end_key - window_start) / 2)::int as calendar_year,
       extract(quarter from window_start + (end_key - window_start) / 2)::int as calendar_quarter,
       value, derivation, tag, accession, filed, inputs
from final;

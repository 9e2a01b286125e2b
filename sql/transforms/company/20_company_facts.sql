-- core.company_facts: each distinct fact of a configured company and metric, deduplicated
-- across filings, in two vintages: 'latest' (the value of the most recent filing that reports
-- the period: restatements win) and 'first' (the value as first reported).
-- reads: core.company_refresh_scope, core.companies, raw.company_facts, etl.source_files, core.company_metric_tags, core.metrics
-- writes: core.company_facts
--
-- Facts are matched on month-end period keys, so a 52/53-week quarter ending 2025-01-26
-- (companyfacts) and the same quarter rounded to 2025-01-31 (financial statement data sets)
-- are one period. Analyst CSV facts carry the tag 'analyst' with priority 0: for the same
-- period they take precedence over every XBRL tag.
-- Partition replace: the companies in this run's scope are deleted and recomputed.
delete from core.company_facts f
using core.company_refresh_scope s
where s.run_id = current_setting('bubblewatch.run_id')::bigint
  and s.ticker = f.ticker;

insert into core.company_facts
  (ticker, metric, vintage, tag, tag_priority, start_key, end_key, period_start, period_end,
   duration_days, duration_class, value, unit, source_kind, accession, form, filed, file_id, line_no, versions)
with scope as (
  select s.ticker
  from core.company_refresh_scope s
  where s.run_id = current_setting('bubblewatch.run_id')::bigint
),

companies as (
  select c.*
  from core.companies c
  join scope s on s.ticker = c.ticker
  where c.is_enabled
),

current_facts as (
  select r.*
  from raw.company_facts r
  join etl.source_files sf on sf.file_id = r.file_id and sf.superseded_at is null
),

sec_facts as (
  select c.ticker, t.metric, t.priority as tag_priority, r.taxonomy || ':' || r.tag as tag,
         r.period_start, r.period_end, r.value, r.unit, r.source_kind,
         r.accession, r.form, r.filed, r.file_id, r.line_no, m.kind
  from current_facts r
  join companies c on c.cik = r.cik
  join core.company_metric_tags t on t.ticker = c.ticker and t.taxonomy = r.taxonomy and t.tag = r.tag
  join core.metrics m on m.metric = t.metric and m.unit = r.unit
),

analyst_facts as (
  select c.ticker, r.metric, 0::smallint as tag_priority, 'analyst' as tag,
         r.period_start, r.period_end, r.value, r.unit, r.source_kind,
         null::text as accession, null::text as form, null::date as filed, r.file_id, r.line_no, m.kind
  from current_facts r
  join companies c on c.ticker = r.ticker
  join core.metrics m on m.metric = r.metric and m.unit = r.unit
),

facts as (
  select * from sec_facts
  union all
  select * from analyst_facts
),

keyed as (
  -- nearest month end / month start
  select f.*,
         (date_trunc('month', (f.period_end + 16)::timestamp)::date - 1) as end_key,
         case when f.period_start is not null
              then date_trunc('month', (f.period_start + 15)::timestamp)::date end as start_key
  from facts f
  -- a flow metric needs a period, an instant metric a date
  where (f.kind = 'flow') = (f.period_start is not null)
),

classified as (
  select k.*,
         k.end_key - k.start_key + 1 as duration_days,
         case
           when k.start_key is null then 'instant'
           when k.end_key - k.start_key + 1 between 80 and 100 then 'quarter'
           when k.end_key - k.start_key + 1 between 170 and 190 then 'half_year'
           when k.end_key - k.start_key + 1 between 260 and 285 then 'nine_months'
           when k.end_key - k.start_key + 1 between 350 and 375 then 'year'
           else 'other'
         end as duration_class
  from keyed k
),

ranked as (
  select c.*,
         row_number() over (
           partition by c.ticker, c.metric, c.tag, c.start_key, c.end_key
           order by c.filed desc nulls last, c.accession desc nulls last, c.source_kind, c.file_id desc, c.line_no desc
         ) as latest_rank,
         row_number() over (
           partition by c.ticker, c.metric, c.tag, c.start_key, c.end_key
           order by c.filed asc nulls last, c.accession asc nulls last, c.source_kind, c.file_id asc, c.line_no asc
         ) as first_rank,
         count(*) over (partition by c.ticker, c.metric, c.tag, c.start_key, c.end_key) as versions
  from classified c
),

final as (
  select r.*, 'latest' as vintage from ranked r where r.latest_rank = 1
  union all
  select r.*, 'first' as vintage from ranked r where r.first_rank = 1
)

select ticker, metric, vintage, tag, tag_priority, start_key, end_key, period_start, period_end,
       duration_days, duration_class, value, unit, source_kind, accession, form, filed, file_id, line_no, versions
from final;

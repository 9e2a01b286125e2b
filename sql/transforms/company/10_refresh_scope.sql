-- core.company_refresh_scope: the companies this run recomputes.
-- reads: raw.company_facts, core.companies, run_scope
-- writes: core.company_refresh_scope
--
-- On a full refresh (or when the company configuration changed): every company, including
-- ones the config no longer enables, so their derived rows are removed. Otherwise: the
-- companies with facts in the files of this run's scope (loaded, replaced or retired).
insert into core.company_refresh_scope (run_id, ticker)
with settings as (
  select current_setting('bubblewatch.run_id')::bigint      as run_id,
         current_setting('bubblewatch.full_refresh') = 'on' as full_refresh
),

touched as (
  select c.ticker
  from raw.company_facts r
  join run_scope t on t.file_id = r.file_id
  join core.companies c on c.cik = r.cik
  union
  select r.ticker
  from raw.company_facts r
  join run_scope t on t.file_id = r.file_id
  where r.ticker is not null
  union
  select c.ticker
  from core.companies c
  cross join settings s
  where s.full_refresh
)

select s.run_id, t.ticker
from touched t
cross join settings s
on conflict do nothing;

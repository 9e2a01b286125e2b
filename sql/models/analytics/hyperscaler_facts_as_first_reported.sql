select
  f.ticker,
  f.metric,
  f.fiscal_year,
  f.fiscal_quarter,
  'FY' || f.fiscal_year || ' Q' || f.fiscal_quarter as fiscal_label,
  f.calendar_year || '-Q' || f.calendar_quarter     as calendar_label,
  f.period_start,
  f.period_end,
  f.value                                           as first_reported_value,
  f.derivation                                      as first_reported_derivation,
  f.accession                                       as first_reported_accession,
  f.filed                                           as first_reported_filed,
  l.value                                           as latest_value,
  l.accession                                       as latest_accession,
  l.filed                                           as latest_filed,
  l.value - f.value                                 as revision
from core.company_quarterly f
left join core.company_quarterly l
  on l.ticker = f.ticker and l.metric = f.metric and l.end_key = f.end_key and l.vintage = 'latest'
where f.vintage = 'first'

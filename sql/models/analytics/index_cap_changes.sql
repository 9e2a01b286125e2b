select
  c.index_code,
  c.as_of,
  c.comparison,
  c.base_as_of,
  c.configured_base_date,
  c.issuers_matched,
  c.matched_cap_start,
  c.matched_cap_end,
  c.matched_cap_change,
  c.top10_cap_change,
  c.other_cap_change,
  c.top10_contribution,
  c.total_cap_change
from core.index_cap_changes c

select
  o.series_id,
  o.observation_date,
  o.value,
  s.unit,
  s.scale,
  o.value * s.multiplier   as value_in_unit,
  s.description,
  f.uri                    as source_file,
  f.sha256                 as source_sha256,
  o.line_no                as source_line,
  o.run_id,
  f.loaded_at
from core.fred_observations o
left join core.fred_series s on s.series_id = o.series_id
join etl.source_files f on f.file_id = o.file_id

select
  c.series,
  c.subject,
  c.observation_date,
  c.value,
  c.unit,
  c.source,
  f.uri            as source_file,
  f.sha256         as source_sha256,
  c.line_no        as source_line,
  c.run_id,
  f.loaded_at
from core.custom_series c
join etl.source_files f on f.file_id = c.file_id

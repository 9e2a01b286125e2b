select
  f.ticker,
  f.metric,
  f.vintage,
  f.tag,
  f.period_start,
  f.period_end,
  f.duration_class,
  f.value,
  f.unit,
  f.source_kind,
  f.accession,
  f.form,
  f.filed,
  f.versions,
  sf.uri         as source_file,
  sf.sha256      as source_sha256,
  f.line_no      as source_line,
  r.locator      as source_locator,
  r.run_id
from core.company_facts f
join etl.source_files sf on sf.file_id = f.file_id
join raw.company_facts r on r.file_id = f.file_id and r.line_no = f.line_no

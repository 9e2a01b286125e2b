-- Custom analyst series: any dated figure an analyst wants beside the computed
-- indicators (share of venture funding going to AI, OpenAI's revenue, data-centre GW).

create table raw.custom_series (
  file_id           bigint not null references etl.source_files (file_id),
  line_no           integer not null,
  run_id            bigint not null references etl.runs (run_id),
  series            text not null,
  subject           text not null,
  observation_date  date not null,
  value             numeric not null,
  unit              text,
  source            text,
  primary key (file_id, line_no)
);
comment on table raw.custom_series is 'Custom analyst series as loaded: one row per valid source line, with the file and line it came from';

-- The current value of each (series, subject, date): from the newest file version that
-- holds it; within one file the last line wins.
create table core.custom_series (
  series            text not null,
  subject           text not null,
  observation_date  date not null,
  value             numeric not null,
  unit              text,
  source            text,
  file_id           bigint not null references etl.source_files (file_id),
  line_no           integer not null,
  run_id            bigint not null references etl.runs (run_id),
  updated_at        timestamptz not null default now(),
  primary key (series, subject, observation_date)
);
comment on table core.custom_series is 'Current value of each custom series observation (latest file version wins; last line wins within a file)';

create view analytics.custom_series as
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
join etl.source_files f on f.file_id = c.file_id;

comment on view analytics.custom_series is
  'Analyst-supplied dated figures (e.g. share of venture funding going to AI, OpenAI revenue), one row per series, subject and date, with the file and line each value came from.';
comment on column analytics.custom_series.series is 'Series identifier as given in the source file, e.g. openai_revenue_annualized';
comment on column analytics.custom_series.subject is 'What the figure is about: a company, a country, a market (e.g. OpenAI, US, global)';
comment on column analytics.custom_series.observation_date is 'Date the figure refers to (period end or as-of date)';
comment on column analytics.custom_series.value is 'The figure, exactly as given in the source file, in the unit of the unit column';
comment on column analytics.custom_series.unit is 'Unit of value as given in the source file (e.g. USD, USD_bn, share, pct, GW); null if not given';
comment on column analytics.custom_series.source is 'Citation for the figure as given in the source file (publisher, report, date)';
comment on column analytics.custom_series.source_file is 'Location of the file the value was loaded from';
comment on column analytics.custom_series.source_sha256 is 'SHA-256 of that file''s content';
comment on column analytics.custom_series.source_line is 'Line number in that file (1 = header)';
comment on column analytics.custom_series.run_id is 'bubblewatch run that loaded the value (etl.runs.run_id)';
comment on column analytics.custom_series.loaded_at is 'When the file was loaded';

-- Models: the analytics views move out of the migrations into sql/models/<schema>/<view>.sql
-- and .yml, and the migrator builds them after the migrations (src/models). From here on no
-- migration holds a view body: the views are dropped before pending migrations run and built
-- again after them, so a migration altering a table is never blocked by a view on it.

create table etl.model_builds (
  name      text primary key,
  checksum  text not null,
  built_at  timestamptz not null default now()
);
comment on table etl.model_builds is
  'Each model view as last built: its qualified name, the SHA-256 of its definition (the view''s SQL, generated or not, and its comments) and when; a model whose checksum differs is rebuilt with every model that reads it';

-- FRED series marked as indicators: analytics.indicator_values reads every observation of a
-- series whose indicator is set (the fred pipeline writes these columns from the config).
alter table core.fred_series
  add column indicator              text check (indicator ~ '^[a-z_][a-z0-9_]*$'),
  add column indicator_subject      text,
  add column indicator_family       text check (indicator_family ~ '^[a-z_][a-z0-9_]*$'),
  add column indicator_frequency    text check (indicator_frequency in ('day', 'week', 'month', 'quarter', 'year', 'irregular')),
  add column indicator_direction    text check (indicator_direction in ('higher', 'lower', 'neither')),
  add column indicator_unit         text,
  add column indicator_description  text;
comment on column core.fred_series.indicator is 'Indicator name the series'' observations appear under in analytics.indicator_values; NULL: the series is not an indicator';
comment on column core.fred_series.indicator_subject is 'Subject of the indicator''s values; NULL means US';
comment on column core.fred_series.indicator_family is 'Indicator family; NULL means macro';
comment on column core.fred_series.indicator_frequency is 'day, week, month, quarter, year or irregular; NULL means irregular. For month, quarter and year the period end is the last day of the period FRED dates by its first day';
comment on column core.fred_series.indicator_direction is 'Which way is frothier: higher, lower or neither; NULL means neither';
comment on column core.fred_series.indicator_unit is 'Unit of the indicator''s values; NULL means the series'' unit (a USD series is in whole dollars: value × multiplier)';
comment on column core.fred_series.indicator_description is 'One line on what the indicator measures; NULL means the series'' description';

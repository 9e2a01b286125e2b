-- Data checks keep every failing row (up to a cap) for inspection, and each run records the
-- size of the tables its pipeline guards, so a later run can notice a sudden drop.

create table etl.check_failures (
  run_id      bigint not null references etl.runs (run_id),
  pipeline    text not null,
  check_name  text not null,
  row_no      integer not null,
  row_data    jsonb not null,
  primary key (run_id, check_name, row_no)
);
comment on table etl.check_failures is 'The rows a data check found failing (up to 1,000 per check and run), for inspection';

create table etl.table_counts (
  run_id      bigint not null references etl.runs (run_id),
  pipeline    text not null,
  table_name  text not null,
  row_count   bigint not null,
  counted_at  timestamptz not null default now(),
  primary key (run_id, table_name)
);
comment on table etl.table_counts is 'Row counts of the tables a pipeline guards, after each successful run; a drop beyond the pipeline''s limit fails a data check';

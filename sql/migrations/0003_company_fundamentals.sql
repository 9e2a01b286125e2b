-- Hyperscaler fundamentals: SEC companyfacts JSON, SEC financial statement data sets and
-- analyst CSV extracts into one fact table, then quarterly facts and indicators.

-- Rejected JSON facts have no line; the locator says where they were (a JSON path, an archive entry).
alter table etl.rejects add column locator text;

-- ---------------------------------------------------------------- configuration, written by each run
-- Companies, metrics and tag fall-back lists live in the config file; each run writes them
-- here so the SQL transforms can read them.
create table core.companies (
  ticker                 text primary key,
  cik                    bigint unique,
  name                   text not null,
  fiscal_year_end_month  smallint not null check (fiscal_year_end_month between 1 and 12),
  fiscal_year_end_day    smallint not null check (fiscal_year_end_day between 1 and 31),
  groups                 text[] not null default '{}',
  is_enabled             boolean not null,
  config_sha256          text not null,
  updated_at             timestamptz not null default now()
);
comment on table core.companies is 'Companies from the config file: ticker, CIK, fiscal-year end, groups (e.g. big5)';

create table core.metrics (
  metric   text primary key,
  kind     text not null check (kind in ('flow', 'instant')),
  unit     text not null
);
comment on table core.metrics is 'Metrics from the config file: flow (over a period, e.g. capex) or instant (at a date, e.g. RPO)';

create table core.company_metric_tags (
  ticker     text not null references core.companies (ticker) on delete cascade,
  metric     text not null references core.metrics (metric) on delete cascade,
  priority   smallint not null check (priority >= 1),
  taxonomy   text not null,
  tag        text not null,
  primary key (ticker, metric, priority),
  unique (ticker, taxonomy, tag)
);
comment on table core.company_metric_tags is 'For each company and metric, the XBRL tags to try, most preferred first (priority 1)';

-- ---------------------------------------------------------------- raw facts with provenance
create table raw.company_facts (
  file_id            bigint not null references etl.source_files (file_id),
  line_no            integer not null,
  run_id             bigint not null references etl.runs (run_id),
  locator            text,
  source_kind        text not null check (source_kind in ('sec-companyfacts', 'sec-fsds', 'analyst-csv')),
  cik                bigint,
  ticker             text,
  taxonomy           text,
  tag                text,
  metric             text,
  unit               text not null,
  period_start       date,
  period_end         date not null,
  duration_quarters  smallint,
  value              numeric not null,
  accession          text,
  form               text,
  filed              date,
  fiscal_year        integer,
  fiscal_period      text,
  frame              text,
  note               text,
  primary key (file_id, line_no),
  constraint company_facts_identified check ((cik is not null and tag is not null) or (ticker is not null and metric is not null)),
  constraint company_facts_period_order check (period_start is null or period_start <= period_end)
);
create index company_facts_cik_tag_idx on raw.company_facts (cik, tag);
create index company_facts_ticker_metric_idx on raw.company_facts (ticker, metric);
create index company_facts_run_idx on raw.company_facts (run_id);
comment on table raw.company_facts is
  'Company facts as loaded from SEC companyfacts JSON, SEC financial statement data sets and analyst CSVs, with accession, form, filing date and the file and line (or JSON path) each came from';

-- ---------------------------------------------------------------- derived
-- Which companies a run must recompute (those whose facts it loaded or superseded, or all of them).
create table core.company_refresh_scope (
  run_id  bigint not null,
  ticker  text not null,
  primary key (run_id, ticker)
);

-- Each distinct fact of a configured company and metric, in two vintages: the latest filed
-- value ('latest') and the first reported one ('first'). Periods are matched on month-end
-- keys so that a 52/53-week quarter ending 2025-01-26 (companyfacts) and the same quarter
-- with its date rounded to 2025-01-31 (financial statement data sets) are one period.
create table core.company_facts (
  ticker          text not null,
  metric          text not null,
  vintage         text not null check (vintage in ('latest', 'first')),
  tag             text not null,
  tag_priority    smallint not null,
  start_key       date,
  end_key         date not null,
  period_start    date,
  period_end      date not null,
  duration_days   integer,
  duration_class  text not null check (duration_class in ('instant', 'quarter', 'half_year', 'nine_months', 'year', 'other')),
  value           numeric not null,
  unit            text not null,
  source_kind     text not null,
  accession       text,
  form            text,
  filed           date,
  file_id         bigint not null,
  line_no         integer not null,
  versions        integer not null
);
create unique index company_facts_key on core.company_facts (ticker, metric, vintage, tag, coalesce(start_key, '0001-01-01'::date), end_key);

-- One value per company, metric, fiscal quarter and vintage, with how it was derived:
--   discrete      a three-month fact as filed
--   ytd_diff      year-to-date minus the previous year-to-date with the same start (Q2, Q3)
--   fy_minus_ytd  the fiscal year minus the nine-month year-to-date (Q4)
--   instant       a balance at the quarter's end (RPO)
--   csv           an analyst CSV figure
create table core.company_quarterly (
  ticker            text not null,
  metric            text not null,
  vintage           text not null check (vintage in ('latest', 'first')),
  start_key         date,
  end_key           date not null,
  period_start      date,
  period_end        date not null,
  fiscal_year       integer not null,
  fiscal_quarter    smallint not null check (fiscal_quarter between 1 and 4),
  calendar_year     integer not null,
  calendar_quarter  smallint not null check (calendar_quarter between 1 and 4),
  value             numeric not null,
  derivation        text not null check (derivation in ('discrete', 'ytd_diff', 'fy_minus_ytd', 'instant', 'csv')),
  tag               text not null,
  accession         text,
  filed             date,
  inputs            jsonb not null,
  primary key (ticker, metric, vintage, end_key)
);
comment on table core.company_quarterly is 'One value per company, metric, fiscal quarter and vintage (latest filed or first reported), with its derivation and the facts it came from';

-- Per company and fiscal quarter (latest vintage): the quarter, trailing twelve months and ratios.
create table core.company_indicators (
  ticker                         text not null,
  end_key                        date not null,
  period_start                   date,
  period_end                     date not null,
  fiscal_year                    integer not null,
  fiscal_quarter                 smallint not null,
  calendar_year                  integer not null,
  calendar_quarter               smallint not null,
  capex                          numeric,
  revenue                        numeric,
  operating_cash_flow            numeric,
  free_cash_flow                 numeric,
  debt_proceeds                  numeric,
  rpo                            numeric,
  capex_ttm                      numeric,
  revenue_ttm                    numeric,
  operating_cash_flow_ttm        numeric,
  free_cash_flow_ttm             numeric,
  debt_proceeds_ttm              numeric,
  capex_yoy                      numeric,
  revenue_yoy                    numeric,
  capex_ttm_yoy                  numeric,
  revenue_ttm_yoy                numeric,
  operating_cash_flow_ttm_yoy    numeric,
  capex_minus_revenue_growth_pp  numeric,
  capex_intensity                numeric,
  self_funding_ratio             numeric,
  rpo_yoy                        numeric,
  rpo_coverage_years             numeric,
  rpo_to_capex_ttm               numeric,
  capex_derivation               text,
  revenue_derivation             text,
  operating_cash_flow_derivation text,
  capex_accession                text,
  primary key (ticker, end_key)
);
comment on table core.company_indicators is 'Per company and fiscal quarter: capex, revenue, cash flow, RPO, their trailing twelve months, growth and ratios';

-- Per group (e.g. big5) and calendar quarter: totals over the members (complete only when every member reported).
create table core.group_indicators (
  group_name                     text not null,
  calendar_year                  integer not null,
  calendar_quarter               smallint not null,
  period_start                   date not null,
  period_end                     date not null,
  companies_expected             integer not null,
  companies_reporting_capex      integer not null,
  companies_reporting_revenue    integer not null,
  companies_reporting_ocf        integer not null,
  capex                          numeric,
  capex_reported                 numeric,
  revenue                        numeric,
  operating_cash_flow            numeric,
  free_cash_flow                 numeric,
  rpo                            numeric,
  capex_ttm                      numeric,
  revenue_ttm                    numeric,
  operating_cash_flow_ttm        numeric,
  capex_yoy                      numeric,
  capex_ttm_yoy                  numeric,
  revenue_ttm_yoy                numeric,
  capex_minus_revenue_growth_pp  numeric,
  capex_intensity                numeric,
  self_funding_ratio             numeric,
  primary key (group_name, calendar_year, calendar_quarter)
);
comment on table core.group_indicators is 'Per company group and calendar quarter: totals of capex, revenue and cash flow (NULL unless every member reported) and their ratios';

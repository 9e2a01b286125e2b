-- Index constituents and concentration: market caps of an index's members by date (one
-- row per share class, as the source gives them), aggregated to issuers so that a company
-- with several share classes counts once, and the concentration figures of the
-- "is AI a bubble?" debate: top-10 share, HHI, effective number of constituents, the
-- tech sectors' share, and the top 10's part in the index's gains.

-- ---------------------------------------------------------------- reference: GICS sector names
-- The sectors a sector label is resolved to. Telecommunication Services was a sector until
-- GICS moved its members to Communication Services in September 2018; snapshots from before
-- then use it (some spell it "Telecommunications Services").
create table core.gics_sector_names (
  name               text primary key,
  sector             text not null,
  is_current_sector  boolean not null
);
create unique index gics_sector_names_lower_key on core.gics_sector_names (lower(name));
comment on table core.gics_sector_names is 'GICS sector names and spellings seen in sources, each with the GICS sector it means';

insert into core.gics_sector_names (name, sector, is_current_sector) values
  ('Communication Services', 'Communication Services', true),
  ('Consumer Discretionary', 'Consumer Discretionary', true),
  ('Consumer Staples', 'Consumer Staples', true),
  ('Energy', 'Energy', true),
  ('Financials', 'Financials', true),
  ('Health Care', 'Health Care', true),
  ('Industrials', 'Industrials', true),
  ('Information Technology', 'Information Technology', true),
  ('Materials', 'Materials', true),
  ('Real Estate', 'Real Estate', true),
  ('Utilities', 'Utilities', true),
  ('Telecommunication Services', 'Telecommunication Services', false),
  ('Telecommunications Services', 'Telecommunication Services', false);

-- ---------------------------------------------------------------- configuration, written by each run
create table core.index_settings (
  settings_id          boolean primary key default true check (settings_id),
  share_class_caps     text not null check (share_class_caps in ('whole_company', 'per_class')),
  top_n                integer[] not null,
  tech_sectors         text[] not null,
  base_dates           date[] not null,
  rolling_window_days  integer not null check (rolling_window_days > 0),
  config_sha256        text not null,
  updated_at           timestamptz not null default now()
);
comment on table core.index_settings is 'How index concentration is computed, from pipelines.index-constituents.options (one row, written by each run)';

create table core.index_issuer_overrides (
  ticker_key  text primary key,
  issuer_id   text not null
);
comment on table core.index_issuer_overrides is 'Ticker → issuer id from options.issuer_ids; wins over the files';

create table core.index_sector_overrides (
  label_key    text primary key,
  label        text not null,
  gics_sector  text not null
);
comment on table core.index_sector_overrides is 'Source sector label → GICS sector from options.sector_map; wins over every other way of resolving a label';

-- ---------------------------------------------------------------- raw rows with provenance
-- One row per source line of a cap file (record_kind cap) or of a ticker → issuer map
-- (record_kind issuer). Values as read: market_cap in the file's unit; market_cap_unit is the
-- configured USD per unit, NULL when it is detected from the data.
-- No foreign keys on file_id and run_id: the table is bulk-loaded (see migration 0008).
create table raw.index_constituents (
  file_id          bigint not null,
  line_no          integer not null,
  run_id           bigint not null,
  record_kind      text not null check (record_kind in ('cap', 'issuer')),
  index_code       text,
  as_of            date,
  ticker           text not null,
  issuer_id        text,
  name             text,
  sector           text,
  sub_industry     text,
  market_cap       numeric check (market_cap >= 0),
  market_cap_unit  numeric check (market_cap_unit > 0),
  float_factor     numeric check (float_factor > 0 and float_factor <= 1),
  primary key (file_id, line_no),
  constraint index_constituents_kind_fields check (
    (record_kind = 'cap' and index_code is not null and as_of is not null)
    or (record_kind = 'issuer' and issuer_id is not null)
  )
);
create index index_constituents_date_idx on raw.index_constituents (index_code, as_of) where record_kind = 'cap';
comment on table raw.index_constituents is
  'Index constituent market caps (record_kind cap) and ticker → issuer maps (record_kind issuer) as loaded, one row per source line, with the file and line each came from';

-- ---------------------------------------------------------------- derived
-- Which index dates a run recomputes: those in files it loaded or superseded, or every date
-- when an issuer map changed, the settings changed or the run is a full refresh.
create table core.index_refresh_scope (
  run_id      bigint not null,
  index_code  text not null,
  as_of       date not null,
  primary key (run_id, index_code, as_of)
);

-- One row per index, date and ticker: the current row for it (a known cap beats an empty
-- one, then the newest file, then the last line), with its issuer and GICS sector resolved
-- and its cap in USD.
create table core.index_constituents (
  index_code              text not null,
  as_of                   date not null,
  ticker                  text not null,
  ticker_key              text not null,
  issuer_id               text not null,
  issuer_source           text not null check (issuer_source in ('config', 'file', 'issuer_map', 'ticker')),
  name                    text,
  source_sector           text,
  gics_sector             text,
  sector_source           text not null check (sector_source in ('config', 'file', 'sub_industry_map', 'issuer_map', 'unresolved')),
  market_cap_reported     numeric,
  market_cap_unit         numeric not null,
  market_cap_unit_source  text not null check (market_cap_unit_source in ('configured', 'detected')),
  market_cap_usd          numeric,
  float_factor            numeric,
  is_cap_missing          boolean not null,
  file_id                 bigint not null,
  line_no                 integer not null,
  run_id                  bigint not null,
  primary key (index_code, as_of, ticker_key),
  constraint index_constituents_cap_known check (is_cap_missing = (market_cap_usd is null))
);
create index index_constituents_issuer_idx on core.index_constituents (index_code, as_of, issuer_id);
comment on table core.index_constituents is 'Current constituent rows per index, date and ticker, with issuer, GICS sector and cap in USD resolved';

-- One row per index, date and issuer: share classes aggregated (whole_company: the largest
-- class cap; per_class: the sum), ranked by cap.
create table core.index_issuers (
  index_code        text not null,
  as_of             date not null,
  issuer_id         text not null,
  issuer_source     text not null,
  issuer_name       text,
  primary_ticker    text not null,
  tickers           text[] not null,
  share_classes     integer not null,
  classes_with_cap  integer not null,
  gics_sector       text,
  cap_rule          text not null check (cap_rule in ('single', 'whole_company_max', 'per_class_sum')),
  market_cap        numeric check (market_cap >= 0),
  weight            numeric check (weight >= 0 and weight <= 1),
  cap_rank          integer check (cap_rank >= 1),
  primary key (index_code, as_of, issuer_id),
  constraint index_issuers_ranked check ((market_cap is null) = (cap_rank is null))
);
comment on table core.index_issuers is 'Issuers per index and date with their counted cap, weight and rank (share classes counted once)';

-- One row per index and date.
create table core.index_concentration (
  index_code                    text not null,
  as_of                         date not null,
  share_class_caps              text not null,
  constituent_rows              integer not null,
  rows_missing_cap              integer not null,
  missing_cap_tickers           text[] not null,
  issuers                       integer not null,
  issuers_with_cap              integer not null,
  multi_class_issuers           integer not null,
  source_files                  integer not null,
  total_market_cap              numeric,
  top10_market_cap              numeric,
  top10_share                   numeric,
  hhi                           numeric,
  effective_n                   numeric,
  largest_weight                numeric,
  it_sector_share               numeric,
  communication_services_share  numeric,
  tech_sector_share             numeric,
  top10_tech_issuers            integer,
  top10_tickers                 text[] not null,
  top10_names                   text[] not null,
  -- against the index's own history (filled by the history transform)
  previous_as_of                date,
  top10_share_change            numeric,
  effective_n_change            numeric,
  rolling_window_days           integer,
  rolling_snapshots             integer,
  top10_share_rolling_avg       numeric,
  effective_n_rolling_avg       numeric,
  tech_sector_share_rolling_avg numeric,
  history_snapshots             integer,
  top10_share_percentile        numeric,
  effective_n_percentile        numeric,
  primary key (index_code, as_of)
);
comment on table core.index_concentration is 'Concentration of each index on each date: top-10 share, HHI, effective N, sector shares, missing caps, and the same against the index''s own history';

create table core.index_top_n_shares (
  index_code      text not null,
  as_of           date not null,
  n               integer not null check (n >= 1),
  issuers_counted integer not null,
  top_n_market_cap numeric,
  share           numeric,
  primary key (index_code, as_of, n)
);
comment on table core.index_top_n_shares is 'Share of the index cap held by its N largest issuers, for each configured N';

create table core.index_sector_shares (
  index_code  text not null,
  as_of       date not null,
  gics_sector text not null,
  issuers     integer not null,
  market_cap  numeric,
  share       numeric,
  is_tech     boolean not null,
  primary key (index_code, as_of, gics_sector)
);
comment on table core.index_sector_shares is 'Share of the index cap by GICS sector';

-- Change in cap between two snapshot dates, and the top 10's part in it.
create table core.index_cap_changes (
  index_code             text not null,
  as_of                  date not null,
  comparison             text not null check (comparison in ('previous_snapshot', 'since_base')),
  base_as_of             date not null,
  configured_base_date   date,
  issuers_matched        integer not null,
  matched_cap_start      numeric,
  matched_cap_end        numeric,
  matched_cap_change     numeric,
  top10_cap_change       numeric,
  other_cap_change       numeric,
  top10_contribution     numeric,
  total_cap_change       numeric,
  primary key (index_code, as_of, comparison, base_as_of),
  constraint index_cap_changes_order check (base_as_of < as_of)
);
comment on table core.index_cap_changes is 'Cap change of each index from the previous snapshot and from configured base dates, and the share of it that came from the top 10';

-- ---------------------------------------------------------------- analyst views
create view analytics.index_concentration as
select
  c.index_code,
  c.as_of,
  c.previous_as_of,
  c.issuers,
  c.issuers_with_cap,
  c.multi_class_issuers,
  c.constituent_rows,
  c.rows_missing_cap,
  c.missing_cap_tickers,
  c.total_market_cap,
  c.top10_market_cap,
  c.top10_share,
  c.top10_share_change,
  c.hhi,
  c.effective_n,
  c.effective_n_change,
  c.largest_weight,
  c.it_sector_share,
  c.communication_services_share,
  c.tech_sector_share,
  c.top10_tech_issuers,
  c.top10_tickers,
  c.top10_names,
  p.top10_contribution as top10_contribution_to_change,
  p.matched_cap_change  as cap_change_since_previous,
  c.rolling_window_days,
  c.rolling_snapshots,
  c.top10_share_rolling_avg,
  c.effective_n_rolling_avg,
  c.tech_sector_share_rolling_avg,
  c.history_snapshots,
  c.top10_share_percentile,
  c.effective_n_percentile,
  c.share_class_caps,
  c.source_files
from core.index_concentration c
left join core.index_cap_changes p
  on p.index_code = c.index_code and p.as_of = c.as_of and p.comparison = 'previous_snapshot';

comment on view analytics.index_concentration is
  'Concentration of an index (e.g. SP500) on each snapshot date: how much of its market cap the largest companies hold (top-10 share, HHI, effective number of constituents), the tech sectors'' share, missing caps, and each figure against the index''s own history. Issuers with several share classes (GOOGL/GOOG) count once. Shares are fractions (0.39 = 39%); caps in USD.';
comment on column analytics.index_concentration.index_code is 'Index, as configured (options.index or a file rule), e.g. SP500';
comment on column analytics.index_concentration.as_of is 'Date of the snapshot the caps refer to';
comment on column analytics.index_concentration.previous_as_of is 'The index''s previous snapshot date, the start of the *_change columns';
comment on column analytics.index_concentration.issuers is 'Issuers (companies) listed on the date; share classes of one issuer count once';
comment on column analytics.index_concentration.issuers_with_cap is 'Issuers with a known cap: the ones every share and total counts';
comment on column analytics.index_concentration.multi_class_issuers is 'Issuers listed with more than one share class (e.g. Alphabet: GOOGL and GOOG)';
comment on column analytics.index_concentration.constituent_rows is 'Constituent rows (share classes) listed on the date';
comment on column analytics.index_concentration.rows_missing_cap is 'Constituent rows whose cap is empty or zero in the source; they are left out of every total';
comment on column analytics.index_concentration.missing_cap_tickers is 'Tickers of the rows whose cap is missing, alphabetical';
comment on column analytics.index_concentration.total_market_cap is 'Sum of the issuers'' caps, USD (full caps unless the source gives float factors)';
comment on column analytics.index_concentration.top10_market_cap is 'Sum of the ten largest issuers'' caps, USD';
comment on column analytics.index_concentration.top10_share is 'Top-10 share: the ten largest issuers'' caps / total cap, as a fraction';
comment on column analytics.index_concentration.top10_share_change is 'Top-10 share minus its value at the previous snapshot, as a fraction (0.01 = 1 percentage point)';
comment on column analytics.index_concentration.hhi is 'Herfindahl-Hirschman index: sum of squared cap weights, from 1/issuers (equal weights) to 1 (one company)';
comment on column analytics.index_concentration.effective_n is 'Effective number of constituents, 1 / HHI: how many equal-weighted companies would give the same concentration';
comment on column analytics.index_concentration.effective_n_change is 'Effective N minus its value at the previous snapshot';
comment on column analytics.index_concentration.largest_weight is 'Weight of the largest issuer, as a fraction';
comment on column analytics.index_concentration.it_sector_share is 'Share of the total cap in GICS Information Technology, as a fraction';
comment on column analytics.index_concentration.communication_services_share is 'Share of the total cap in GICS Communication Services (Alphabet, Meta, Netflix since 2018), as a fraction';
comment on column analytics.index_concentration.tech_sector_share is 'Share of the total cap in the configured tech sectors (options.tech_sectors; by default Information Technology and Communication Services), as a fraction';
comment on column analytics.index_concentration.top10_tech_issuers is 'How many of the top 10 are in the configured tech sectors (the article''s "8 of 10 are tech")';
comment on column analytics.index_concentration.top10_tickers is 'Tickers of the top 10, largest first (the largest share class of each issuer)';
comment on column analytics.index_concentration.top10_names is 'Names of the top 10, largest first';
comment on column analytics.index_concentration.top10_contribution_to_change is 'Share of the cap change since the previous snapshot that came from today''s top 10, over issuers with a known cap on both dates, as a fraction (0.6 = 60% of the gain; when the index fell, the share of the loss). See analytics.index_cap_changes for the amounts and for configured base dates';
comment on column analytics.index_concentration.cap_change_since_previous is 'Change in the summed cap of issuers with a known cap on both dates since the previous snapshot, USD';
comment on column analytics.index_concentration.rolling_window_days is 'Length of the rolling window (options.rolling_window_days) of the *_rolling_avg columns, days';
comment on column analytics.index_concentration.rolling_snapshots is 'Snapshots inside the rolling window ending on this date (the average covers these)';
comment on column analytics.index_concentration.top10_share_rolling_avg is 'Average top-10 share over the snapshots in the rolling window ending on this date';
comment on column analytics.index_concentration.effective_n_rolling_avg is 'Average effective N over the snapshots in the rolling window ending on this date';
comment on column analytics.index_concentration.tech_sector_share_rolling_avg is 'Average tech-sector share over the snapshots in the rolling window ending on this date';
comment on column analytics.index_concentration.history_snapshots is 'Snapshots of this index up to and including this date: the history the percentiles compare against';
comment on column analytics.index_concentration.top10_share_percentile is 'Share of the snapshots up to this date whose top-10 share was at or below this one, as a fraction (1 = the most concentrated so far); coarse while the history is short';
comment on column analytics.index_concentration.effective_n_percentile is 'Share of the snapshots up to this date whose effective N was at or below this one, as a fraction (low = few companies dominate)';
comment on column analytics.index_concentration.share_class_caps is 'How share classes were counted: whole_company (the source gives the whole company''s cap on each class, so the largest counts once) or per_class (class caps are summed)';
comment on column analytics.index_concentration.source_files is 'How many source files the date''s rows came from';

create view analytics.index_issuers as
select
  i.index_code,
  i.as_of,
  i.cap_rank,
  i.issuer_id,
  i.issuer_source,
  i.issuer_name,
  i.primary_ticker,
  i.tickers,
  i.share_classes,
  i.classes_with_cap,
  i.cap_rule,
  i.gics_sector,
  i.market_cap,
  i.weight,
  sum(i.weight) over (partition by i.index_code, i.as_of order by i.cap_rank rows between unbounded preceding and current row) as cumulative_weight
from core.index_issuers i;

comment on view analytics.index_issuers is
  'One row per index, date and issuer (company): its share classes counted once, its cap, weight and rank. Caps in USD, weights as fractions.';
comment on column analytics.index_issuers.index_code is 'Index, e.g. SP500';
comment on column analytics.index_issuers.as_of is 'Snapshot date';
comment on column analytics.index_issuers.cap_rank is 'Rank by cap on the date, 1 = largest; NULL when no class has a known cap';
comment on column analytics.index_issuers.issuer_id is 'Issuer identifier: the SEC CIK where known, else the ticker';
comment on column analytics.index_issuers.issuer_source is 'Where the issuer id came from: config (options.issuer_ids), file (the cap file''s issuer_id column), issuer_map (a ticker → CIK file such as constituents.csv) or ticker (none known: the ticker stands alone)';
comment on column analytics.index_issuers.issuer_name is 'Name given with the largest share class';
comment on column analytics.index_issuers.primary_ticker is 'Ticker of the share class with the largest cap';
comment on column analytics.index_issuers.tickers is 'Tickers of all the issuer''s share classes listed on the date, largest cap first';
comment on column analytics.index_issuers.share_classes is 'Share classes listed on the date';
comment on column analytics.index_issuers.classes_with_cap is 'Share classes with a known cap';
comment on column analytics.index_issuers.cap_rule is 'How the issuer''s cap was formed: single (one class), whole_company_max (the largest class cap, each class carrying the whole company''s cap) or per_class_sum';
comment on column analytics.index_issuers.gics_sector is 'GICS sector (of the largest class), resolved as described in analytics.index_constituents.sector_source';
comment on column analytics.index_issuers.market_cap is 'Issuer''s counted cap, USD (× float factor where the source gives one)';
comment on column analytics.index_issuers.weight is 'Cap / the index''s total cap on the date, as a fraction';
comment on column analytics.index_issuers.cumulative_weight is 'Weight of this issuer and all larger ones, as a fraction (the top-N share at N = cap_rank)';

create view analytics.index_constituents as
select
  c.index_code,
  c.as_of,
  c.ticker,
  c.issuer_id,
  c.issuer_source,
  c.name,
  c.source_sector,
  c.gics_sector,
  c.sector_source,
  c.market_cap_reported,
  c.market_cap_unit,
  c.market_cap_unit_source,
  c.market_cap_usd,
  c.float_factor,
  c.is_cap_missing,
  (i.primary_ticker = c.ticker or i.cap_rule = 'per_class_sum') and not c.is_cap_missing as is_counted,
  i.cap_rank  as issuer_rank,
  i.weight    as issuer_weight,
  f.uri       as source_file,
  f.sha256    as source_sha256,
  c.line_no   as source_line,
  c.run_id
from core.index_constituents c
join core.index_issuers i on i.index_code = c.index_code and i.as_of = c.as_of and i.issuer_id = c.issuer_id
join etl.source_files f on f.file_id = c.file_id;

comment on view analytics.index_constituents is
  'One row per index, date and ticker (share class) as the source lists it, with its issuer, GICS sector, cap in USD, whether the cap is missing and whether it is the one counted for its issuer, and the file and line it came from.';
comment on column analytics.index_constituents.index_code is 'Index, e.g. SP500';
comment on column analytics.index_constituents.as_of is 'Snapshot date (a column of the file, or taken from its name)';
comment on column analytics.index_constituents.ticker is 'Ticker as written in the source (BRK-B and BRK.B are the same constituent)';
comment on column analytics.index_constituents.issuer_id is 'Issuer the share class belongs to: the SEC CIK where known, else the ticker';
comment on column analytics.index_constituents.issuer_source is 'Where the issuer id came from: config, file, issuer_map or ticker (see analytics.index_issuers)';
comment on column analytics.index_constituents.name is 'Name as written in the source';
comment on column analytics.index_constituents.source_sector is 'Sector label as written in the source: a GICS sector, or in 2024+ S&P 500 snapshots a GICS sub-industry';
comment on column analytics.index_constituents.gics_sector is 'GICS sector the label resolves to; NULL when it could not be resolved';
comment on column analytics.index_constituents.sector_source is 'How gics_sector was found: config (options.sector_map), file (the label is a GICS sector), sub_industry_map (the label is a sub-industry of the issuer map), issuer_map (the ticker''s sector in the issuer map) or unresolved';
comment on column analytics.index_constituents.market_cap_reported is 'Cap exactly as written in the source, in its unit; NULL when empty';
comment on column analytics.index_constituents.market_cap_unit is 'USD per unit of market_cap_reported (1, or 1e9 for files that give caps in billions)';
comment on column analytics.index_constituents.market_cap_unit_source is 'configured (options.market_cap_unit or a file rule) or detected (the largest cap of the file and date is below 1e5: billions; below 1e9: millions; else USD)';
comment on column analytics.index_constituents.market_cap_usd is 'Cap in USD; NULL when the source gives none or zero';
comment on column analytics.index_constituents.float_factor is 'Float factor from the source (share of the cap that is freely tradable); NULL when not given (full cap counts)';
comment on column analytics.index_constituents.is_cap_missing is 'The source gives no cap (empty or zero) for this row; it is left out of every total and listed in analytics.index_concentration.missing_cap_tickers';
comment on column analytics.index_constituents.is_counted is 'This row''s cap is (part of) its issuer''s counted cap: the largest class under whole_company, every class with a cap under per_class';
comment on column analytics.index_constituents.issuer_rank is 'Issuer''s rank by cap on the date, 1 = largest';
comment on column analytics.index_constituents.issuer_weight is 'Issuer''s weight in the index on the date, as a fraction';
comment on column analytics.index_constituents.source_file is 'File the row was loaded from';
comment on column analytics.index_constituents.source_sha256 is 'SHA-256 of that file';
comment on column analytics.index_constituents.source_line is 'Line in that file (1 = header)';
comment on column analytics.index_constituents.run_id is 'bubblewatch run that loaded the row';

create view analytics.index_top_n_shares as
select t.index_code, t.as_of, t.n, t.issuers_counted, t.top_n_market_cap, t.share
from core.index_top_n_shares t;

comment on view analytics.index_top_n_shares is
  'Share of an index''s cap held by its N largest issuers, for each N in options.top_n (e.g. 5, 10, 20), on each snapshot date.';
comment on column analytics.index_top_n_shares.index_code is 'Index, e.g. SP500';
comment on column analytics.index_top_n_shares.as_of is 'Snapshot date';
comment on column analytics.index_top_n_shares.n is 'N: how many of the largest issuers are counted';
comment on column analytics.index_top_n_shares.issuers_counted is 'Issuers actually counted: N, or fewer when fewer have a known cap';
comment on column analytics.index_top_n_shares.top_n_market_cap is 'Sum of the N largest issuers'' caps, USD';
comment on column analytics.index_top_n_shares.share is 'Their share of the index''s total cap, as a fraction';

create view analytics.index_sector_shares as
select s.index_code, s.as_of, s.gics_sector, s.issuers, s.market_cap, s.share, s.is_tech
from core.index_sector_shares s;

comment on view analytics.index_sector_shares is
  'Share of an index''s cap in each GICS sector on each snapshot date. Before September 2018 Alphabet and Meta were Information Technology and there was a Telecommunication Services sector.';
comment on column analytics.index_sector_shares.index_code is 'Index, e.g. SP500';
comment on column analytics.index_sector_shares.as_of is 'Snapshot date';
comment on column analytics.index_sector_shares.gics_sector is 'GICS sector; Unresolved for constituents whose sector label could not be resolved';
comment on column analytics.index_sector_shares.issuers is 'Issuers with a known cap in the sector';
comment on column analytics.index_sector_shares.market_cap is 'Sector''s summed cap, USD';
comment on column analytics.index_sector_shares.share is 'Sector cap / index total cap, as a fraction';
comment on column analytics.index_sector_shares.is_tech is 'The sector is one of options.tech_sectors, which make up tech_sector_share';

create view analytics.index_cap_changes as
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
from core.index_cap_changes c;

comment on view analytics.index_cap_changes is
  'How much an index''s cap changed between two snapshots and how much of that came from its top 10 on the end date (the article''s "60% of the gains since the April low"), from the previous snapshot and from each configured base date (options.base_dates). Only issuers with a known cap on both dates count, so index joins, leavers and missing caps do not pass for gains.';
comment on column analytics.index_cap_changes.index_code is 'Index, e.g. SP500';
comment on column analytics.index_cap_changes.as_of is 'End date of the comparison';
comment on column analytics.index_cap_changes.comparison is 'previous_snapshot (from the index''s snapshot before as_of) or since_base (from a configured base date)';
comment on column analytics.index_cap_changes.base_as_of is 'Start date: the snapshot the change is measured from';
comment on column analytics.index_cap_changes.configured_base_date is 'For since_base: the configured base date; the start is the latest snapshot on or before it';
comment on column analytics.index_cap_changes.issuers_matched is 'Issuers with a known cap on both dates';
comment on column analytics.index_cap_changes.matched_cap_start is 'Their summed cap at the start, USD';
comment on column analytics.index_cap_changes.matched_cap_end is 'Their summed cap at the end, USD';
comment on column analytics.index_cap_changes.matched_cap_change is 'End minus start, USD';
comment on column analytics.index_cap_changes.top10_cap_change is 'Part of the change from the issuers in the top 10 on the end date, USD';
comment on column analytics.index_cap_changes.other_cap_change is 'Part of the change from all other matched issuers, USD';
comment on column analytics.index_cap_changes.top10_contribution is 'top10_cap_change / matched_cap_change, as a fraction (NULL when the change is zero); above 1 when the rest of the index fell';
comment on column analytics.index_cap_changes.total_cap_change is 'Change in the index''s total cap including joins, leavers and missing caps, USD';

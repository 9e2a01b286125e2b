-- Analyst views over the company fundamentals.

create view analytics.hyperscaler_quarterly as
select
  i.ticker,
  c.name                                   as company,
  i.fiscal_year,
  i.fiscal_quarter,
  'FY' || i.fiscal_year || ' Q' || i.fiscal_quarter                     as fiscal_label,
  i.calendar_year,
  i.calendar_quarter,
  i.calendar_year || '-Q' || i.calendar_quarter                          as calendar_label,
  i.period_start,
  i.period_end,
  i.capex,
  i.revenue,
  i.operating_cash_flow,
  i.free_cash_flow,
  i.debt_proceeds,
  i.rpo,
  i.capex_ttm,
  i.revenue_ttm,
  i.operating_cash_flow_ttm,
  i.free_cash_flow_ttm,
  i.debt_proceeds_ttm,
  i.capex_yoy,
  i.revenue_yoy,
  i.capex_ttm_yoy,
  i.revenue_ttm_yoy,
  i.operating_cash_flow_ttm_yoy,
  i.capex_minus_revenue_growth_pp,
  i.capex_intensity,
  i.self_funding_ratio,
  i.rpo_yoy,
  i.rpo_coverage_years,
  i.rpo_to_capex_ttm,
  i.capex_derivation,
  i.revenue_derivation,
  i.operating_cash_flow_derivation,
  i.capex_accession
from core.company_indicators i
join core.companies c on c.ticker = i.ticker
where c.is_enabled;

comment on view analytics.hyperscaler_quarterly is
  'Per company and fiscal quarter (latest filed values): capex, revenue, operating cash flow, free cash flow, debt proceeds and RPO, their trailing twelve months (TTM), growth and the bubble ratios. Amounts in USD; ratios as fractions (0.45 = 45%).';
comment on column analytics.hyperscaler_quarterly.ticker is 'Company ticker, as configured';
comment on column analytics.hyperscaler_quarterly.company is 'Company name, as configured';
comment on column analytics.hyperscaler_quarterly.fiscal_year is 'Fiscal year, named by the calendar year in which it ends (Microsoft FY2025 ends June 2025)';
comment on column analytics.hyperscaler_quarterly.fiscal_quarter is 'Fiscal quarter, 1 to 4';
comment on column analytics.hyperscaler_quarterly.fiscal_label is 'Fiscal label, e.g. FY2025 Q1';
comment on column analytics.hyperscaler_quarterly.calendar_year is 'Calendar year of the quarter''s midpoint';
comment on column analytics.hyperscaler_quarterly.calendar_quarter is 'Calendar quarter holding the fiscal quarter''s midpoint (Oracle''s June–August quarter is Q3)';
comment on column analytics.hyperscaler_quarterly.calendar_label is 'Calendar label, e.g. 2024-Q3';
comment on column analytics.hyperscaler_quarterly.period_start is 'First day of the fiscal quarter';
comment on column analytics.hyperscaler_quarterly.period_end is 'Last day of the fiscal quarter';
comment on column analytics.hyperscaler_quarterly.capex is 'Cash capital expenditure in the quarter, USD (PaymentsToAcquirePropertyPlantAndEquipment; Amazon PaymentsToAcquireProductiveAssets)';
comment on column analytics.hyperscaler_quarterly.revenue is 'Revenue in the quarter, USD';
comment on column analytics.hyperscaler_quarterly.operating_cash_flow is 'Net cash from operating activities in the quarter, USD';
comment on column analytics.hyperscaler_quarterly.free_cash_flow is 'Operating cash flow minus capex in the quarter, USD';
comment on column analytics.hyperscaler_quarterly.debt_proceeds is 'Proceeds from issuing long-term debt in the quarter, USD, where filed';
comment on column analytics.hyperscaler_quarterly.rpo is 'Remaining performance obligations (contracted revenue not yet recognised) at the quarter end, USD';
comment on column analytics.hyperscaler_quarterly.capex_ttm is 'Capex over the four quarters ending here, USD (NULL unless all four are known)';
comment on column analytics.hyperscaler_quarterly.revenue_ttm is 'Revenue over the four quarters ending here, USD';
comment on column analytics.hyperscaler_quarterly.operating_cash_flow_ttm is 'Operating cash flow over the four quarters ending here, USD';
comment on column analytics.hyperscaler_quarterly.free_cash_flow_ttm is 'TTM operating cash flow minus TTM capex, USD';
comment on column analytics.hyperscaler_quarterly.debt_proceeds_ttm is 'Debt proceeds over the four quarters ending here, USD';
comment on column analytics.hyperscaler_quarterly.capex_yoy is 'Quarter capex versus the same quarter a year earlier, as a fraction (0.5 = +50%)';
comment on column analytics.hyperscaler_quarterly.revenue_yoy is 'Quarter revenue versus the same quarter a year earlier, as a fraction';
comment on column analytics.hyperscaler_quarterly.capex_ttm_yoy is 'TTM capex versus TTM capex a year earlier, as a fraction';
comment on column analytics.hyperscaler_quarterly.revenue_ttm_yoy is 'TTM revenue versus TTM revenue a year earlier, as a fraction';
comment on column analytics.hyperscaler_quarterly.operating_cash_flow_ttm_yoy is 'TTM operating cash flow versus a year earlier, as a fraction';
comment on column analytics.hyperscaler_quarterly.capex_minus_revenue_growth_pp is 'TTM capex growth minus TTM revenue growth, percentage points';
comment on column analytics.hyperscaler_quarterly.capex_intensity is 'TTM capex / TTM revenue, as a fraction';
comment on column analytics.hyperscaler_quarterly.self_funding_ratio is 'TTM capex / TTM operating cash flow, as a fraction; above 1 the buildout needs outside money (NULL when cash flow is not positive)';
comment on column analytics.hyperscaler_quarterly.rpo_yoy is 'RPO versus a year earlier, as a fraction';
comment on column analytics.hyperscaler_quarterly.rpo_coverage_years is 'RPO / TTM revenue: years of revenue under contract';
comment on column analytics.hyperscaler_quarterly.rpo_to_capex_ttm is 'RPO / TTM capex';
comment on column analytics.hyperscaler_quarterly.capex_derivation is 'How the quarter''s capex was derived: discrete, ytd_diff (year-to-date difference), fy_minus_ytd (Q4), csv';
comment on column analytics.hyperscaler_quarterly.revenue_derivation is 'How the quarter''s revenue was derived';
comment on column analytics.hyperscaler_quarterly.operating_cash_flow_derivation is 'How the quarter''s operating cash flow was derived';
comment on column analytics.hyperscaler_quarterly.capex_accession is 'SEC accession number of the filing the quarter''s capex comes from (the later one, for a difference)';

create view analytics.hyperscaler_totals_quarterly as
select
  g.group_name,
  g.calendar_year,
  g.calendar_quarter,
  g.calendar_year || '-Q' || g.calendar_quarter as calendar_label,
  g.period_start,
  g.period_end,
  g.companies_expected,
  g.companies_reporting_capex as companies_reporting,
  g.companies_reporting_revenue,
  g.companies_reporting_ocf,
  g.capex,
  g.capex_reported,
  g.revenue,
  g.operating_cash_flow,
  g.free_cash_flow,
  g.rpo,
  g.capex_ttm,
  g.revenue_ttm,
  g.operating_cash_flow_ttm,
  g.capex_yoy,
  g.capex_ttm_yoy,
  g.revenue_ttm_yoy,
  g.capex_minus_revenue_growth_pp,
  g.capex_intensity,
  g.self_funding_ratio
from core.group_indicators g;

comment on view analytics.hyperscaler_totals_quarterly is
  'Per company group (big5 = Amazon, Alphabet, Microsoft, Meta, Oracle) and calendar quarter: totals of capex, revenue and cash flow over the members (each fiscal quarter counted in the calendar quarter holding its midpoint), TTM and ratios. A total is NULL unless every member reported.';
comment on column analytics.hyperscaler_totals_quarterly.group_name is 'Company group, as configured (big5)';
comment on column analytics.hyperscaler_totals_quarterly.calendar_year is 'Calendar year';
comment on column analytics.hyperscaler_totals_quarterly.calendar_quarter is 'Calendar quarter, 1 to 4';
comment on column analytics.hyperscaler_totals_quarterly.calendar_label is 'Calendar label, e.g. 2025-Q4';
comment on column analytics.hyperscaler_totals_quarterly.period_start is 'First day of the calendar quarter';
comment on column analytics.hyperscaler_totals_quarterly.period_end is 'Last day of the calendar quarter';
comment on column analytics.hyperscaler_totals_quarterly.companies_expected is 'Members of the group';
comment on column analytics.hyperscaler_totals_quarterly.companies_reporting is 'Members with capex for this quarter';
comment on column analytics.hyperscaler_totals_quarterly.companies_reporting_revenue is 'Members with revenue for this quarter';
comment on column analytics.hyperscaler_totals_quarterly.companies_reporting_ocf is 'Members with operating cash flow for this quarter';
comment on column analytics.hyperscaler_totals_quarterly.capex is 'Total capex, USD; NULL unless every member reported';
comment on column analytics.hyperscaler_totals_quarterly.capex_reported is 'Sum of the capex the reporting members filed, USD (partial when companies_reporting < companies_expected)';
comment on column analytics.hyperscaler_totals_quarterly.revenue is 'Total revenue, USD; NULL unless every member reported';
comment on column analytics.hyperscaler_totals_quarterly.operating_cash_flow is 'Total operating cash flow, USD; NULL unless every member reported';
comment on column analytics.hyperscaler_totals_quarterly.free_cash_flow is 'Total operating cash flow minus total capex, USD';
comment on column analytics.hyperscaler_totals_quarterly.rpo is 'Total RPO at the quarter ends, USD; NULL unless every member reported';
comment on column analytics.hyperscaler_totals_quarterly.capex_ttm is 'Total capex over the four calendar quarters ending here, USD';
comment on column analytics.hyperscaler_totals_quarterly.revenue_ttm is 'Total revenue over the four calendar quarters ending here, USD';
comment on column analytics.hyperscaler_totals_quarterly.operating_cash_flow_ttm is 'Total operating cash flow over the four calendar quarters ending here, USD';
comment on column analytics.hyperscaler_totals_quarterly.capex_yoy is 'Quarter total capex versus the same quarter a year earlier, as a fraction';
comment on column analytics.hyperscaler_totals_quarterly.capex_ttm_yoy is 'TTM total capex versus a year earlier, as a fraction';
comment on column analytics.hyperscaler_totals_quarterly.revenue_ttm_yoy is 'TTM total revenue versus a year earlier, as a fraction';
comment on column analytics.hyperscaler_totals_quarterly.capex_minus_revenue_growth_pp is 'TTM capex growth minus TTM revenue growth, percentage points';
comment on column analytics.hyperscaler_totals_quarterly.capex_intensity is 'TTM total capex / TTM total revenue, as a fraction';
comment on column analytics.hyperscaler_totals_quarterly.self_funding_ratio is 'TTM total capex / TTM total operating cash flow, as a fraction (above 1 = outside funding)';

create view analytics.hyperscaler_facts_as_first_reported as
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
where f.vintage = 'first';

comment on view analytics.hyperscaler_facts_as_first_reported is
  'Each company''s quarterly values as first reported, beside the latest filed value and the revision between them (e.g. Meta''s 2022 capex was restated after its first 10-K).';
comment on column analytics.hyperscaler_facts_as_first_reported.ticker is 'Company ticker';
comment on column analytics.hyperscaler_facts_as_first_reported.metric is 'Metric (capex, revenue, operating_cash_flow, rpo, …)';
comment on column analytics.hyperscaler_facts_as_first_reported.fiscal_year is 'Fiscal year';
comment on column analytics.hyperscaler_facts_as_first_reported.fiscal_quarter is 'Fiscal quarter, 1 to 4';
comment on column analytics.hyperscaler_facts_as_first_reported.fiscal_label is 'Fiscal label, e.g. FY2022 Q4';
comment on column analytics.hyperscaler_facts_as_first_reported.calendar_label is 'Calendar quarter holding the fiscal quarter''s midpoint';
comment on column analytics.hyperscaler_facts_as_first_reported.period_start is 'First day of the quarter (NULL for a balance at a date)';
comment on column analytics.hyperscaler_facts_as_first_reported.period_end is 'Last day of the quarter';
comment on column analytics.hyperscaler_facts_as_first_reported.first_reported_value is 'The value derived from the facts as first filed, USD';
comment on column analytics.hyperscaler_facts_as_first_reported.first_reported_derivation is 'How the first-reported value was derived';
comment on column analytics.hyperscaler_facts_as_first_reported.first_reported_accession is 'Accession of the filing that first reported it';
comment on column analytics.hyperscaler_facts_as_first_reported.first_reported_filed is 'When that filing was filed';
comment on column analytics.hyperscaler_facts_as_first_reported.latest_value is 'The value derived from the latest filings, USD';
comment on column analytics.hyperscaler_facts_as_first_reported.latest_accession is 'Accession of the latest filing reporting it';
comment on column analytics.hyperscaler_facts_as_first_reported.latest_filed is 'When that filing was filed';
comment on column analytics.hyperscaler_facts_as_first_reported.revision is 'latest_value - first_reported_value, USD';

create view analytics.company_facts as
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
join raw.company_facts r on r.file_id = f.file_id and r.line_no = f.line_no;

comment on view analytics.company_facts is
  'Every fact behind the hyperscaler figures, deduplicated across filings, with the filing (accession, form, filed date) and the file, line or JSON path it was loaded from.';
comment on column analytics.company_facts.ticker is 'Company ticker';
comment on column analytics.company_facts.metric is 'Metric the fact counts toward';
comment on column analytics.company_facts.vintage is 'latest: the value of the most recent filing reporting the period; first: as first reported';
comment on column analytics.company_facts.tag is 'XBRL tag as taxonomy:Tag, or analyst for an analyst CSV figure';
comment on column analytics.company_facts.period_start is 'Start of the period (NULL for a balance at a date)';
comment on column analytics.company_facts.period_end is 'End of the period, or the date of a balance';
comment on column analytics.company_facts.duration_class is 'instant, quarter, half_year, nine_months, year or other, from the period''s length';
comment on column analytics.company_facts.value is 'The value as filed';
comment on column analytics.company_facts.unit is 'Unit (USD)';
comment on column analytics.company_facts.source_kind is 'sec-companyfacts, sec-fsds or analyst-csv';
comment on column analytics.company_facts.accession is 'SEC accession number of the filing';
comment on column analytics.company_facts.form is 'Form of the filing (10-Q, 10-K, 10-K/A, …)';
comment on column analytics.company_facts.filed is 'Date the filing was filed';
comment on column analytics.company_facts.versions is 'How many filings or files reported this period for this tag';
comment on column analytics.company_facts.source_file is 'File or URL the fact was loaded from';
comment on column analytics.company_facts.source_sha256 is 'SHA-256 of that file';
comment on column analytics.company_facts.source_line is 'Line in that file (for JSON: the fact''s ordinal)';
comment on column analytics.company_facts.source_locator is 'Where in the file: JSON path or archive entry';
comment on column analytics.company_facts.run_id is 'bubblewatch run that loaded it';

-- Every indicator in one long table, for alert rules, dashboards and charts.
create view analytics.indicator_values as
with company as (
  select i.*, c.name from core.company_indicators i join core.companies c on c.ticker = i.ticker where c.is_enabled
),
company_long as (
  select x.indicator, c.ticker as subject, c.period_end, x.value, x.unit
  from company c
  cross join lateral (values
    ('capex', c.capex, 'USD'),
    ('revenue', c.revenue, 'USD'),
    ('operating_cash_flow', c.operating_cash_flow, 'USD'),
    ('free_cash_flow', c.free_cash_flow, 'USD'),
    ('debt_proceeds', c.debt_proceeds, 'USD'),
    ('rpo', c.rpo, 'USD'),
    ('capex_ttm', c.capex_ttm, 'USD'),
    ('revenue_ttm', c.revenue_ttm, 'USD'),
    ('operating_cash_flow_ttm', c.operating_cash_flow_ttm, 'USD'),
    ('free_cash_flow_ttm', c.free_cash_flow_ttm, 'USD'),
    ('capex_yoy', c.capex_yoy, 'ratio'),
    ('capex_ttm_yoy', c.capex_ttm_yoy, 'ratio'),
    ('revenue_ttm_yoy', c.revenue_ttm_yoy, 'ratio'),
    ('capex_minus_revenue_growth_pp', c.capex_minus_revenue_growth_pp, 'pp'),
    ('capex_intensity', c.capex_intensity, 'ratio'),
    ('self_funding_ratio', c.self_funding_ratio, 'ratio'),
    ('rpo_yoy', c.rpo_yoy, 'ratio'),
    ('rpo_coverage_years', c.rpo_coverage_years, 'years'),
    ('rpo_to_capex_ttm', c.rpo_to_capex_ttm, 'ratio')
  ) as x(indicator, value, unit)
  where x.value is not null
),
group_long as (
  select x.indicator, g.group_name as subject, g.period_end, x.value, x.unit
  from core.group_indicators g
  cross join lateral (values
    ('capex', g.capex, 'USD'),
    ('revenue', g.revenue, 'USD'),
    ('operating_cash_flow', g.operating_cash_flow, 'USD'),
    ('free_cash_flow', g.free_cash_flow, 'USD'),
    ('rpo', g.rpo, 'USD'),
    ('capex_ttm', g.capex_ttm, 'USD'),
    ('revenue_ttm', g.revenue_ttm, 'USD'),
    ('operating_cash_flow_ttm', g.operating_cash_flow_ttm, 'USD'),
    ('capex_yoy', g.capex_yoy, 'ratio'),
    ('capex_ttm_yoy', g.capex_ttm_yoy, 'ratio'),
    ('revenue_ttm_yoy', g.revenue_ttm_yoy, 'ratio'),
    ('capex_minus_revenue_growth_pp', g.capex_minus_revenue_growth_pp, 'pp'),
    ('capex_intensity', g.capex_intensity, 'ratio'),
    ('self_funding_ratio', g.self_funding_ratio, 'ratio')
  ) as x(indicator, value, unit)
  where x.value is not null
)
select indicator, subject, period_end, value, unit, 'hyperscaler' as family, 'quarter' as frequency from company_long
union all
select indicator, subject, period_end, value, unit, 'hyperscaler_group', 'quarter' from group_long
union all
select s.series, s.subject, s.observation_date, s.value, coalesce(s.unit, ''), 'custom', 'irregular' from core.custom_series s;

comment on view analytics.indicator_values is
  'Every indicator value in long form: one row per indicator, subject (a ticker, a group such as big5, or a custom series subject) and period end. Alert rules and dashboards read this.';
comment on column analytics.indicator_values.indicator is 'Indicator name, e.g. self_funding_ratio, capex_ttm, or a custom series id';
comment on column analytics.indicator_values.subject is 'What the value is about: a ticker, a company group (big5), or a custom series subject';
comment on column analytics.indicator_values.period_end is 'End of the period the value describes (the fiscal quarter end for a company, the calendar quarter end for a group)';
comment on column analytics.indicator_values.value is 'The value, in the unit of the unit column';
comment on column analytics.indicator_values.unit is 'USD, ratio (a fraction: 0.45 = 45%), pp (percentage points), years, or a custom series unit';
comment on column analytics.indicator_values.family is 'hyperscaler (per company), hyperscaler_group (totals), or custom';
comment on column analytics.indicator_values.frequency is 'quarter, or irregular for custom series';

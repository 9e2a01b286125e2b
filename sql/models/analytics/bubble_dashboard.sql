with v as (
  select indicator, subject, period_end, value, unit, family, frequency from analytics.indicator_values
),
ranked as (
  select v.*,
         row_number() over (partition by v.indicator, v.subject order by v.period_end desc) as recency,
         count(*) over (partition by v.indicator, v.subject) as history_points,
         avg(v.value) over (partition by v.indicator, v.subject) as long_run_mean,
         stddev_samp(v.value) over (partition by v.indicator, v.subject) as long_run_stddev,
         min(v.period_end) over (partition by v.indicator, v.subject) as history_start,
         cume_dist() over (partition by v.indicator, v.subject order by v.value) as value_cume_dist
  from v
),
latest as (
  select * from ranked where recency = 1
),
previous as (
  select * from ranked where recency = 2
)
select
  l.family,
  l.indicator,
  l.subject,
  l.unit,
  l.frequency,
  l.period_end                                                     as latest_period,
  l.value                                                          as latest_value,
  p.period_end                                                     as previous_period,
  p.value                                                          as previous_value,
  l.value - p.value                                                as change,
  case when p.value > 0 then l.value / p.value - 1 end             as change_pct,
  case when l.history_points >= 8 then l.value_cume_dist end       as percentile,
  case when l.history_points >= 8 and l.long_run_stddev > 0
       then (l.value - l.long_run_mean) / l.long_run_stddev end    as z_score,
  case when l.history_points >= 8 then l.long_run_mean end         as long_run_mean,
  l.history_points,
  l.history_start,
  -- firing / pending rules on this indicator and subject (the worst first), 'ok' when rules watch it and none breaches
  (select case
            when count(*) = 0 then null
            when count(*) filter (where s.state <> 'inactive') = 0 then 'ok'
            else string_agg(s.state || case when s.state = 'firing' then ' (' || s.severity || ')' else '' end || ': ' || s.rule_id, '; '
                            order by (s.state = 'firing') desc, s.severity = 'critical' desc, s.rule_id)
                 filter (where s.state <> 'inactive')
          end
   from etl.alert_state s
   where s.indicator = l.indicator and s.subject = l.subject)       as alert_state
from latest l
left join previous p on p.indicator = l.indicator and p.subject = l.subject

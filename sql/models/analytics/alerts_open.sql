select
  s.rule_id,
  s.subject,
  s.severity,
  s.since_period,
  s.last_period,
  s.value,
  s.threshold,
  s.message,
  s.last_notified_at,
  s.updated_at,
  d.status as delivery,
  d.attempts as delivery_attempts,
  d.last_attempt_at,
  d.next_attempt_at,
  d.last_error as last_delivery_error
from etl.alert_state s
-- The latest notification about this alert's current firing: its transition or a reminder.
left join lateral (
  select n.status, n.attempts, n.last_attempt_at, n.next_attempt_at, n.last_error
  from etl.alert_notifications n
  where n.rule_id = s.rule_id
    and n.subject = s.subject
    and n.event_id = (
      select e.event_id from etl.alert_events e
      where e.rule_id = s.rule_id and e.subject = s.subject and e.to_state = 'firing'
      order by e.period_end desc, e.event_id desc
      limit 1
    )
  order by n.notification_id desc
  limit 1
) d on true
where s.state = 'firing'

select
  e.event_id,
  e.rule_id,
  e.subject,
  e.period_end,
  e.from_state,
  e.to_state,
  case
    when e.to_state = 'firing' then 'fired'
    when e.from_state = 'firing' then 'resolved'
    when e.to_state = 'pending' then 'pending'
    else 'cleared'
  end as transition,
  e.value,
  e.threshold,
  e.severity,
  e.message,
  e.reason,
  e.run_id,
  e.is_backfill,
  e.notified_at,
  e.created_at,
  n.status as delivery,
  n.attempts as delivery_attempts,
  n.last_attempt_at,
  n.next_attempt_at,
  n.last_error as last_delivery_error
from etl.alert_events e
left join etl.alert_notifications n on n.event_id = e.event_id and n.kind <> 'reminder'

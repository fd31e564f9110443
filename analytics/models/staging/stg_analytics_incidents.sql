-- PagerDuty's own incident analytics (raw incidents).
with source as (
    {{ latest_rows('analytics_incidents', ['id']) }}
)

select
    id,
    {{ as_bigint('incident_number') }} as incident_number,
    service_id,
    team_id,
    escalation_policy_id,
    priority_id,
    priority_name,
    urgency,
    status,
    major,
    auto_resolved,
    {{ as_timestamp('created_at') }} as created_at,
    {{ as_timestamp('updated_at') }} as updated_at,
    {{ as_timestamp('resolved_at') }} as resolved_at,
    {{ as_bigint('seconds_to_first_ack') }} as seconds_to_first_ack,
    {{ as_bigint('seconds_to_resolve') }} as seconds_to_resolve,
    {{ as_bigint('seconds_to_engage') }} as seconds_to_engage,
    {{ as_bigint('seconds_to_mobilize') }} as seconds_to_mobilize,
    {{ as_bigint('engaged_seconds') }} as engaged_seconds,
    {{ as_bigint('escalation_count') }} as escalation_count,
    {{ as_bigint('reassignment_count') }} as reassignment_count,
    {{ as_bigint('assignment_count') }} as assignment_count,
    {{ as_bigint('acknowledgement_count') }} as acknowledgement_count,
    {{ as_bigint('total_notifications') }} as total_notifications,
    {{ as_bigint('total_interruptions') }} as total_interruptions,
    {{ as_bigint('business_hour_interruptions') }} as business_hour_interruptions,
    {{ as_bigint('off_hour_interruptions') }} as off_hour_interruptions,
    {{ as_bigint('sleep_hour_interruptions') }} as sleep_hour_interruptions,
    _sdc_batched_at as loaded_at
from source

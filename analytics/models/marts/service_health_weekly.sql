-- Per service and week (Monday, UTC) of incident creation: how many incidents, how fast they
-- were acknowledged and resolved (MTTA over acknowledged incidents, MTTR over resolved ones).
select
    service_id,
    max(service_name) as service_name,
    created_week as week_start,
    count(*) as incidents,
    sum(case when urgency = 'high' then 1 else 0 end) as high_urgency_incidents,
    sum(case when first_acknowledged_at is not null then 1 else 0 end) as acknowledged_incidents,
    sum(case when resolved_at is not null then 1 else 0 end) as resolved_incidents,
    sum(case when was_escalated then 1 else 0 end) as escalated_incidents,
    sum(case when was_reassigned then 1 else 0 end) as reassigned_incidents,
    sum(case when is_after_hours then 1 else 0 end) as after_hours_incidents,
    {{ mean('seconds_to_first_ack') }} as mtta_seconds,
    {{ percentile('seconds_to_first_ack', 0.5) }} as mtta_median_seconds,
    {{ mean('seconds_to_resolve') }} as mttr_seconds,
    {{ percentile('seconds_to_resolve', 0.5) }} as mttr_median_seconds
from {{ ref('incident_lifecycle') }}
group by service_id, created_week

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
    cast(avg(seconds_to_first_ack) as {{ dbt.type_float() }}) as mtta_seconds,
    cast(avg(seconds_to_resolve) as {{ dbt.type_float() }}) as mttr_seconds
from {{ ref('incident_lifecycle') }}
group by service_id, created_week

-- One row per incident: when it was created, first acknowledged and resolved, how long each
-- step took, and what happened on the way (from the incident's log entries).
with incidents as (
    select * from {{ ref('stg_incidents') }}
),

log_entries as (
    select * from {{ ref('stg_log_entries') }}
),

history as (
    select
        incident_id,
        min(case when type = 'acknowledge_log_entry' then created_at end) as first_acknowledged_at,
        sum(case when type = 'acknowledge_log_entry' then 1 else 0 end) as acknowledgements,
        sum(case when type = 'escalate_log_entry' then 1 else 0 end) as escalations,
        -- The first assignment is made by the service (its escalation policy); any assignment
        -- made by a person is a reassignment.
        sum(
            case when type = 'assign_log_entry' and agent_type = 'user_reference' then 1 else 0 end
        ) as reassignments,
        sum(case when type = 'notify_log_entry' then 1 else 0 end) as notifications,
        sum(
            case when type = 'annotate_log_entry' and channel_type = 'note' then 1 else 0 end
        ) as notes,
        count(*) as log_entries
    from log_entries
    group by incident_id
),

lifecycle as (
    select
        incidents.id as incident_id,
        incidents.incident_number,
        incidents.title,
        incidents.status,
        incidents.urgency,
        incidents.priority_id,
        incidents.priority_name,
        incidents.service_id,
        incidents.escalation_policy_id,
        incidents.team_id,
        incidents.created_at,
        history.first_acknowledged_at,
        case when incidents.status = 'resolved' then incidents.resolved_at end as resolved_at,
        coalesce(history.acknowledgements, 0) as acknowledgements,
        coalesce(history.escalations, 0) as escalations,
        coalesce(history.reassignments, 0) as reassignments,
        coalesce(history.notifications, 0) as notifications,
        coalesce(history.notes, 0) as notes,
        coalesce(history.log_entries, 0) as log_entries,
        {{ local_time('incidents.created_at', "'" ~ var('business_time_zone') ~ "'") }} as created_at_local
    from incidents
    left join history on history.incident_id = incidents.id
)

select
    lifecycle.incident_id,
    lifecycle.incident_number,
    lifecycle.title,
    lifecycle.status,
    lifecycle.urgency,
    lifecycle.priority_id,
    lifecycle.priority_name,
    lifecycle.service_id,
    services.name as service_name,
    lifecycle.escalation_policy_id,
    lifecycle.team_id,
    teams.name as team_name,
    lifecycle.created_at,
    lifecycle.first_acknowledged_at,
    lifecycle.resolved_at,
    {{ seconds_between('lifecycle.created_at', 'lifecycle.first_acknowledged_at') }} as seconds_to_first_ack,
    {{ seconds_between('lifecycle.created_at', 'lifecycle.resolved_at') }} as seconds_to_resolve,
    lifecycle.acknowledgements,
    lifecycle.escalations,
    lifecycle.reassignments,
    lifecycle.notifications,
    lifecycle.notes,
    lifecycle.log_entries,
    lifecycle.escalations > 0 as was_escalated,
    lifecycle.reassignments > 0 as was_reassigned,
    {{ week_of('lifecycle.created_at') }} as created_week,
    cast(extract(hour from lifecycle.created_at_local) as {{ dbt.type_int() }}) as created_hour_local,
    -- The zone created_hour_local and is_after_hours are in (dbt var business_time_zone).
    '{{ var('business_time_zone') }}' as business_time_zone,
    (
        extract(dow from lifecycle.created_at_local) in (0, 6)
        or extract(hour from lifecycle.created_at_local) < {{ var('business_hours_start') }}
        or extract(hour from lifecycle.created_at_local) >= {{ var('business_hours_end') }}
    ) as is_after_hours
from lifecycle
left join {{ ref('stg_services') }} as services on services.id = lifecycle.service_id
left join {{ ref('stg_teams') }} as teams on teams.id = lifecycle.team_id

-- Incidents, each in its latest version; `team_id` is the first team listed.
with source as (
    {{ latest_rows('incidents', ['id']) }}
)

select
    id,
    {{ as_bigint('incident_number') }} as incident_number,
    title,
    status,
    urgency,
    {{ as_timestamp('created_at') }} as created_at,
    {{ as_timestamp('updated_at') }} as updated_at,
    {{ as_timestamp('resolved_at') }} as resolved_at,
    {{ as_timestamp('last_status_change_at') }} as last_status_change_at,
    {{ json_text('service', 'id') }} as service_id,
    {{ json_text('escalation_policy', 'id') }} as escalation_policy_id,
    {{ json_text('priority', 'id') }} as priority_id,
    {{ json_text('priority', 'summary') }} as priority_name,
    {{ json_first_text('teams', 'id') }} as team_id,
    {{ json_text('last_status_change_by', 'id') }} as last_status_change_by_id,
    {{ json_text('last_status_change_by', 'type') }} as last_status_change_by_type,
    {{ json_text('incident_type', 'name') }} as incident_type,
    incident_key,
    assigned_via,
    html_url,
    _sdc_batched_at as loaded_at
from source

-- Incident log entries: every trigger, assignment, notification, escalation, acknowledgement, note and resolution. `agent_*` is who or what acted.
with source as (
    {{ latest_rows('log_entries', ['id']) }}
)

select
    id,
    type,
    {{ as_timestamp('created_at') }} as created_at,
    {{ json_text('incident', 'id') }} as incident_id,
    {{ json_text('service', 'id') }} as service_id,
    {{ json_text('agent', 'id') }} as agent_id,
    {{ json_text('agent', 'type') }} as agent_type,
    {{ json_text('channel', 'type') }} as channel_type,
    {{ json_text('"user"', 'id') }} as user_id,
    {{ json_first_text('assignees', 'id') }} as assignee_id,
    {{ json_first_text('teams', 'id') }} as team_id,
    summary,
    _sdc_batched_at as loaded_at
from source

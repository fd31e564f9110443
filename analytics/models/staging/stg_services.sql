-- Services; `team_id` is the first team listed.
with source as (
    {{ latest_rows('services', ['id'], full_table=true) }}
)

select
    id,
    name,
    description,
    status,
    {{ as_timestamp('created_at') }} as created_at,
    {{ as_timestamp('last_incident_timestamp') }} as last_incident_at,
    {{ json_text('escalation_policy', 'id') }} as escalation_policy_id,
    {{ json_first_text('teams', 'id') }} as team_id,
    {{ json_array_size('teams') }} as team_count,
    {{ json_array_size('integrations') }} as integration_count,
    {{ as_bigint('auto_resolve_timeout') }} as auto_resolve_timeout,
    {{ as_bigint('acknowledgement_timeout') }} as acknowledgement_timeout,
    alert_creation,
    html_url,
    _sdc_batched_at as loaded_at
from source

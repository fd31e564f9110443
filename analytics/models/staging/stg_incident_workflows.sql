-- Incident workflows.
with source as (
    {{ latest_rows('incident_workflows', ['id'], full_table=true) }}
)

select
    id,
    name,
    description,
    {{ as_timestamp('created_at') }} as created_at,
    is_enabled,
    {{ json_text('team', 'id') }} as team_id,
    {{ json_array_size('steps') }} as step_count,
    _sdc_batched_at as loaded_at
from source

-- Notes on incidents.
with source as (
    {{ latest_rows('incident_notes', ['id']) }}
)

select
    id,
    incident_id,
    {{ json_text('"user"', 'id') }} as user_id,
    {{ json_text('channel', 'type') }} as channel_type,
    content,
    {{ as_timestamp('created_at') }} as created_at,
    {{ as_timestamp('updated_at') }} as updated_at,
    _sdc_batched_at as loaded_at
from source

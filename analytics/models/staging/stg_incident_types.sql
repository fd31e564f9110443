-- Incident types (the base type and its children), enabled or not.
with source as (
    {{ latest_rows('incident_types', ['id'], full_table=true) }}
)

select
    id,
    name,
    display_name,
    description,
    enabled,
    {{ json_text('parent', 'id') }} as parent_id,
    {{ as_timestamp('created_at') }} as created_at,
    {{ as_timestamp('updated_at') }} as updated_at,
    _sdc_batched_at as loaded_at
from source

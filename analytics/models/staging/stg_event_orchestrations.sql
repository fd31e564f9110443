-- Event orchestrations.
with source as (
    {{ latest_rows('event_orchestrations', ['id'], full_table=true) }}
)

select
    id,
    name,
    description,
    {{ json_text('team', 'id') }} as team_id,
    {{ as_bigint('routes') }} as routes,
    {{ as_timestamp('created_at') }} as created_at,
    {{ json_text('created_by', 'id') }} as created_by_id,
    {{ as_timestamp('updated_at') }} as updated_at,
    {{ json_text('updated_by', 'id') }} as updated_by_id,
    version,
    _sdc_batched_at as loaded_at
from source

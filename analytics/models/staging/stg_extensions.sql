-- Extensions.
with source as (
    {{ latest_rows('extensions', ['id'], full_table=true) }}
)

select
    id,
    name,
    {{ json_text('extension_schema', 'id') }} as extension_schema_id,
    endpoint_url,
    temporarily_disabled,
    _sdc_batched_at as loaded_at
from source

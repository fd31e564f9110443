-- Business services.
with source as (
    {{ latest_rows('business_services', ['id'], full_table=true) }}
)

select
    id,
    name,
    description,
    point_of_contact,
    {{ json_text('team', 'id') }} as team_id,
    _sdc_batched_at as loaded_at
from source

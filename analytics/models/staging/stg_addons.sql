-- Add-ons.
with source as (
    {{ latest_rows('addons', ['id'], full_table=true) }}
)

select
    id,
    name,
    type,
    src,
    _sdc_batched_at as loaded_at
from source

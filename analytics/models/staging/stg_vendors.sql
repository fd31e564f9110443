-- Integration vendors.
with source as (
    {{ latest_rows('vendors', ['id'], full_table=true) }}
)

select
    id,
    name,
    description,
    website_url,
    _sdc_batched_at as loaded_at
from source

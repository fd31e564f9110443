-- Which user holds which license, since when.
with source as (
    {{ latest_rows('license_allocations', ['user_id', 'license_id'], full_table=true) }}
)

select
    user_id,
    license_id,
    {{ json_text('license', 'name') }} as license_name,
    {{ as_timestamp('allocated_at') }} as allocated_at,
    _sdc_batched_at as loaded_at
from source

-- Licenses of the account and how many are allocated.
with source as (
    {{ latest_rows('licenses', ['id'], full_table=true) }}
)

select
    id,
    name,
    role_group,
    {{ as_bigint('current_value') }} as allocated,
    {{ as_bigint('allocations_available') }} as available,
    _sdc_batched_at as loaded_at
from source

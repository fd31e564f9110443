-- Account abilities (features of the plan).
with source as (
    {{ latest_rows('abilities', ['name'], full_table=true) }}
)

select
    name,
    _sdc_batched_at as loaded_at
from source

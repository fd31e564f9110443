-- Incident priorities.
with source as (
    {{ latest_rows('priorities', ['id'], full_table=true) }}
)

select
    id,
    name,
    description,
    _sdc_batched_at as loaded_at
from source

-- Tags.
with source as (
    {{ latest_rows('tags', ['id'], full_table=true) }}
)

select
    id,
    label,
    _sdc_batched_at as loaded_at
from source

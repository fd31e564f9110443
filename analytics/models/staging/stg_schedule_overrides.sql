-- Schedule overrides overlapping the window of the latest sync (whole, not cut at its edges).
with source as (
    {{ latest_rows('schedule_overrides', ['schedule_id', 'id'], full_table=true) }}
)

select
    schedule_id,
    id,
    {{ json_text('"user"', 'id') }} as user_id,
    {{ as_timestamp('"start"') }} as start_at,
    {{ as_timestamp('"end"') }} as end_at,
    _sdc_batched_at as loaded_at
from source

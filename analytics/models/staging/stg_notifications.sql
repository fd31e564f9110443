-- Notifications sent to users (pages).
with source as (
    {{ latest_rows('notifications', ['id']) }}
)

select
    id,
    type,
    status,
    {{ as_timestamp('started_at') }} as started_at,
    {{ json_text('"user"', 'id') }} as user_id,
    address,
    _sdc_batched_at as loaded_at
from source

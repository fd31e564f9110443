-- Users on call in each schedule at some time in the window of the latest sync.
with source as (
    {{ latest_rows('schedule_users', ['schedule_id', 'id'], full_table=true) }}
)

select
    schedule_id,
    id as user_id,
    name,
    email,
    role,
    _sdc_batched_at as loaded_at
from source

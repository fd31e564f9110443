-- On-call schedules; `team_id` is the first team listed.
with source as (
    {{ latest_rows('schedules', ['id'], full_table=true) }}
)

select
    id,
    name,
    description,
    time_zone,
    {{ json_first_text('teams', 'id') }} as team_id,
    {{ json_array_size('users') }} as user_count,
    {{ json_array_size('schedule_layers') }} as layer_count,
    html_url,
    _sdc_batched_at as loaded_at
from source

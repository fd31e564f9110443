-- Global rulesets.
with source as (
    {{ latest_rows('rulesets', ['id'], full_table=true) }}
)

select
    id,
    name,
    type,
    {{ json_text('team', 'id') }} as team_id,
    {{ as_timestamp('created_at') }} as created_at,
    {{ json_text('creator', 'id') }} as creator_id,
    {{ as_timestamp('updated_at') }} as updated_at,
    {{ json_text('updater', 'id') }} as updater_id,
    _sdc_batched_at as loaded_at
from source

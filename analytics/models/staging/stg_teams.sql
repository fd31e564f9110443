-- Teams.
with source as (
    {{ latest_rows('teams', ['id'], full_table=true) }}
)

select
    id,
    name,
    description,
    default_role,
    html_url,
    _sdc_batched_at as loaded_at
from source

-- Status dashboards.
with source as (
    {{ latest_rows('status_dashboards', ['id'], full_table=true) }}
)

select
    id,
    name,
    url_slug,
    _sdc_batched_at as loaded_at
from source

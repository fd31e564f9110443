-- Integrations of each service.
with source as (
    {{ latest_rows('service_integrations', ['id'], full_table=true) }}
)

select
    id,
    service_id,
    name,
    type,
    {{ json_text('vendor', 'id') }} as vendor_id,
    integration_email,
    {{ as_timestamp('created_at') }} as created_at,
    _sdc_batched_at as loaded_at
from source

-- Change events (PagerDuty keeps 90 days; older ones stay here). `service_id` is the first service.
with source as (
    {{ latest_rows('change_events', ['id']) }}
)

select
    id,
    summary,
    {{ as_timestamp('"timestamp"') }} as occurred_at,
    source,
    routing_key,
    {{ json_text('integration', 'id') }} as integration_id,
    {{ json_first_text('services', 'id') }} as service_id,
    _sdc_batched_at as loaded_at
from source

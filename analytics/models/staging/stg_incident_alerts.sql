-- Alerts of each incident.
with source as (
    {{ latest_rows('incident_alerts', ['id']) }}
)

select
    id,
    incident_id,
    {{ json_text('service', 'id') }} as service_id,
    status,
    severity,
    alert_key,
    suppressed,
    {{ json_text('integration', 'id') }} as integration_id,
    {{ as_timestamp('created_at') }} as created_at,
    _sdc_batched_at as loaded_at
from source

-- Webhook subscriptions.
with source as (
    {{ latest_rows('webhook_subscriptions', ['id'], full_table=true) }}
)

select
    id,
    type,
    active,
    description,
    {{ json_text('delivery_method', 'type') }} as delivery_method_type,
    {{ json_text('delivery_method', 'url') }} as delivery_url,
    {{ json_text('filter', 'type') }} as filter_type,
    {{ json_text('filter', 'id') }} as filter_id,
    _sdc_batched_at as loaded_at
from source

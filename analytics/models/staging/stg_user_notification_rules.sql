-- Users' notification rules, both urgencies.
with source as (
    {{ latest_rows('user_notification_rules', ['id'], full_table=true) }}
)

select
    id,
    user_id,
    type,
    urgency,
    {{ as_bigint('start_delay_in_minutes') }} as start_delay_in_minutes,
    {{ json_text('contact_method', 'id') }} as contact_method_id,
    {{ json_text('contact_method', 'type') }} as contact_method_type,
    _sdc_batched_at as loaded_at
from source

-- Users' contact methods (email, phone, SMS, push).
with source as (
    {{ latest_rows('user_contact_methods', ['id'], full_table=true) }}
)

select
    id,
    user_id,
    type,
    label,
    address,
    {{ as_bigint('country_code') }} as country_code,
    enabled,
    blacklisted,
    device_type,
    send_short_email,
    {{ as_timestamp('created_at') }} as created_at,
    _sdc_batched_at as loaded_at
from source

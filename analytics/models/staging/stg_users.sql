-- Users of the account (from `users`, contact methods and notification rules expanded).
with source as (
    {{ latest_rows('users', ['id'], full_table=true) }}
)

select
    id,
    name,
    email,
    role,
    job_title,
    time_zone,
    description,
    color,
    invitation_sent,
    created_via_sso,
    html_url,
    {{ json_array_size('teams') }} as team_count,
    {{ json_array_size('contact_methods') }} as contact_method_count,
    {{ json_array_size('notification_rules') }} as notification_rule_count,
    _sdc_batched_at as loaded_at
from source

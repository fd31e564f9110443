-- Escalation policies; `team_id` is the first team listed.
with source as (
    {{ latest_rows('escalation_policies', ['id'], full_table=true) }}
)

select
    id,
    name,
    description,
    {{ as_bigint('num_loops') }} as num_loops,
    on_call_handoff_notifications,
    {{ json_first_text('teams', 'id') }} as team_id,
    {{ json_array_size('escalation_rules') }} as rule_count,
    {{ json_array_size('services') }} as service_count,
    html_url,
    _sdc_batched_at as loaded_at
from source

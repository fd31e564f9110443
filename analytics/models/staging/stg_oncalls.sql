-- On-call entries of the latest sync: from then to `oncall_days` ahead. `start_at` is null for permanent entries (users named directly in an escalation policy).
with source as (
    {{ latest_rows('oncalls', ['escalation_policy_id', 'escalation_level', 'user_id', 'schedule_id', 'shift_start'], full_table=true) }}
)

select
    escalation_policy_id,
    {{ as_bigint('escalation_level') }} as escalation_level,
    user_id,
    schedule_id,
    shift_start,
    {{ as_timestamp('"start"') }} as start_at,
    {{ as_timestamp('"end"') }} as end_at,
    "start" is null as is_permanent,
    _sdc_batched_at as loaded_at
from source

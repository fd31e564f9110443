-- Every on-call shift known: the latest sync's entries (now to `oncall_days` ahead) plus the
-- shifts earlier syncs saw that have ended since. PagerDuty lists only current and future
-- on-call, so past weeks are covered from the first sync on. An entry an earlier sync saw that
-- had not ended and is gone from the latest sync was cancelled: it is left out. Permanent
-- entries (no start or end) are left out: they have no hours.
with current_shifts as (
    select * from {{ ref('stg_oncalls') }}
    where not is_permanent
),

boundary as (
    -- Every current entry overlaps the latest sync's "now", so ends after it.
    select min(end_at) as earliest_current_end from current_shifts
),

every_shift as (
    {{ latest_rows('oncalls', ['escalation_policy_id', 'escalation_level', 'user_id', 'schedule_id', 'shift_start']) }}
),

ended_shifts as (
    select
        every_shift.escalation_policy_id,
        {{ as_bigint('every_shift.escalation_level') }} as escalation_level,
        every_shift.user_id,
        every_shift.schedule_id,
        {{ as_timestamp('every_shift."start"') }} as start_at,
        {{ as_timestamp('every_shift."end"') }} as end_at
    from every_shift
    cross join boundary
    where every_shift."start" is not null
      and {{ as_timestamp('every_shift."end"') }} < boundary.earliest_current_end
)

select escalation_policy_id, escalation_level, user_id, schedule_id, start_at, end_at, true as is_current
from current_shifts
union all
select escalation_policy_id, escalation_level, user_id, schedule_id, start_at, end_at, false as is_current
from ended_shifts

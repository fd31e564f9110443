-- Per user and week (Monday, UTC): hours on call (split at week boundaries; all escalation
-- levels, and level 1 alone), pages received, and pages at night in the user's own time zone
-- (between var('night_start_hour') and var('night_end_hour')).
with shifts as (
    select * from {{ ref('oncall_shifts') }}
),

week_offsets as (
    {% for offset in range(60) -%}
    select {{ offset }} as week_offset{% if not loop.last %} union all{% endif %}
    {% endfor %}
),

shift_weeks as (
    -- A shift of up to 60 weeks, cut into the weeks it overlaps.
    select
        shifts.user_id,
        shifts.escalation_level,
        shifts.start_at,
        shifts.end_at,
        {{ dbt.dateadd('day', 'week_offsets.week_offset * 7', dbt.date_trunc('week', 'shifts.start_at')) }} as week_start_at
    from shifts
    cross join week_offsets
    where {{ dbt.dateadd('day', 'week_offsets.week_offset * 7', dbt.date_trunc('week', 'shifts.start_at')) }} < shifts.end_at
),

oncall as (
    select
        user_id,
        cast(week_start_at as date) as week_start,
        sum(hours) as oncall_hours,
        sum(case when escalation_level = 1 then hours else 0 end) as primary_oncall_hours
    from (
        select
            user_id,
            escalation_level,
            week_start_at,
            {{ seconds_between(
                'case when start_at > week_start_at then start_at else week_start_at end',
                'case when end_at < ' ~ dbt.dateadd('day', 7, 'week_start_at') ~ ' then end_at else '
                    ~ dbt.dateadd('day', 7, 'week_start_at') ~ ' end'
            ) }} / 3600.0 as hours
        from shift_weeks
    ) as pieces
    group by user_id, cast(week_start_at as date)
),

pages as (
    select
        notifications.user_id,
        {{ week_of('notifications.started_at') }} as week_start,
        count(*) as pages,
        sum(case when extract(hour from {{ local_time('notifications.started_at', "coalesce(users.time_zone, 'UTC')") }})
                      >= {{ var('night_start_hour') }}
                   or extract(hour from {{ local_time('notifications.started_at', "coalesce(users.time_zone, 'UTC')") }})
                      < {{ var('night_end_hour') }}
                 then 1 else 0 end) as night_pages,
        sum(case when notifications.status = 'failed' then 1 else 0 end) as failed_pages
    from {{ ref('stg_notifications') }} as notifications
    left join {{ ref('stg_users') }} as users on users.id = notifications.user_id
    group by notifications.user_id, {{ week_of('notifications.started_at') }}
),

user_weeks as (
    select user_id, week_start from oncall
    union
    select user_id, week_start from pages
)

select
    user_weeks.user_id,
    users.name as user_name,
    user_weeks.week_start,
    cast(coalesce(oncall.oncall_hours, 0) as {{ type_double() }}) as oncall_hours,
    cast(coalesce(oncall.primary_oncall_hours, 0) as {{ type_double() }}) as primary_oncall_hours,
    coalesce(pages.pages, 0) as pages,
    coalesce(pages.night_pages, 0) as night_pages,
    coalesce(pages.failed_pages, 0) as failed_pages
from user_weeks
left join oncall
    on oncall.user_id = user_weeks.user_id and oncall.week_start = user_weeks.week_start
left join pages
    on pages.user_id = user_weeks.user_id and pages.week_start = user_weeks.week_start
left join {{ ref('stg_users') }} as users on users.id = user_weeks.user_id

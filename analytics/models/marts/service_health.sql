-- Per service: incidents, alerts and pages overall and in the last var('noisy_window_days')
-- days up to the newest incident loaded; `noise_rank` 1 is the noisiest service in that window.
with lifecycle as (
    select * from {{ ref('incident_lifecycle') }}
),

window_end as (
    select max(created_at) as newest_incident_at from lifecycle
),

recent as (
    select lifecycle.*
    from lifecycle
    cross join window_end
    where lifecycle.created_at > {{ dbt.dateadd('day', -var('noisy_window_days'), 'window_end.newest_incident_at') }}
),

alerts as (
    select service_id, count(*) as alerts
    from {{ ref('stg_incident_alerts') }}
    group by service_id
),

overall as (
    select
        service_id,
        count(*) as incidents,
        sum(notifications) as pages,
        cast(avg(seconds_to_first_ack) as {{ dbt.type_float() }}) as mtta_seconds,
        cast(avg(seconds_to_resolve) as {{ dbt.type_float() }}) as mttr_seconds
    from lifecycle
    group by service_id
),

window_stats as (
    select
        service_id,
        count(*) as incidents,
        sum(case when urgency = 'high' then 1 else 0 end) as high_urgency_incidents,
        sum(case when is_after_hours then 1 else 0 end) as after_hours_incidents,
        sum(notifications) as pages,
        cast(avg(seconds_to_first_ack) as {{ dbt.type_float() }}) as mtta_seconds,
        cast(avg(seconds_to_resolve) as {{ dbt.type_float() }}) as mttr_seconds
    from recent
    group by service_id
)

select
    services.id as service_id,
    services.name as service_name,
    services.status as service_status,
    services.team_id,
    coalesce(overall.incidents, 0) as incidents,
    coalesce(alerts.alerts, 0) as alerts,
    coalesce(overall.pages, 0) as pages,
    overall.mtta_seconds,
    overall.mttr_seconds,
    coalesce(window_stats.incidents, 0) as recent_incidents,
    coalesce(window_stats.high_urgency_incidents, 0) as recent_high_urgency_incidents,
    coalesce(window_stats.after_hours_incidents, 0) as recent_after_hours_incidents,
    coalesce(window_stats.pages, 0) as recent_pages,
    window_stats.mtta_seconds as recent_mtta_seconds,
    window_stats.mttr_seconds as recent_mttr_seconds,
    rank() over (
        order by coalesce(window_stats.incidents, 0) desc, coalesce(window_stats.pages, 0) desc
    ) as noise_rank
from {{ ref('stg_services') }} as services
left join overall on overall.service_id = services.id
left join window_stats on window_stats.service_id = services.id
left join alerts on alerts.service_id = services.id

-- Per service: incidents, alerts and pages overall and in the last var('noisy_window_days')
-- days up to the newest incident loaded; `noise_rank` 1 is the noisiest service in that window.
-- MTTA and MTTR as mean, median and 90th percentile: a few incidents open for days pull the
-- mean far from what a typical incident takes.
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
        {{ mean('seconds_to_first_ack') }} as mtta_seconds,
        {{ percentile('seconds_to_first_ack', 0.5) }} as mtta_median_seconds,
        {{ percentile('seconds_to_first_ack', 0.9) }} as mtta_p90_seconds,
        {{ mean('seconds_to_resolve') }} as mttr_seconds,
        {{ percentile('seconds_to_resolve', 0.5) }} as mttr_median_seconds,
        {{ percentile('seconds_to_resolve', 0.9) }} as mttr_p90_seconds
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
        {{ mean('seconds_to_first_ack') }} as mtta_seconds,
        {{ percentile('seconds_to_first_ack', 0.5) }} as mtta_median_seconds,
        {{ percentile('seconds_to_first_ack', 0.9) }} as mtta_p90_seconds,
        {{ mean('seconds_to_resolve') }} as mttr_seconds,
        {{ percentile('seconds_to_resolve', 0.5) }} as mttr_median_seconds,
        {{ percentile('seconds_to_resolve', 0.9) }} as mttr_p90_seconds
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
    overall.mtta_median_seconds,
    overall.mtta_p90_seconds,
    overall.mttr_seconds,
    overall.mttr_median_seconds,
    overall.mttr_p90_seconds,
    coalesce(window_stats.incidents, 0) as recent_incidents,
    coalesce(window_stats.high_urgency_incidents, 0) as recent_high_urgency_incidents,
    coalesce(window_stats.after_hours_incidents, 0) as recent_after_hours_incidents,
    coalesce(window_stats.pages, 0) as recent_pages,
    window_stats.mtta_seconds as recent_mtta_seconds,
    window_stats.mtta_median_seconds as recent_mtta_median_seconds,
    window_stats.mtta_p90_seconds as recent_mtta_p90_seconds,
    window_stats.mttr_seconds as recent_mttr_seconds,
    window_stats.mttr_median_seconds as recent_mttr_median_seconds,
    window_stats.mttr_p90_seconds as recent_mttr_p90_seconds,
    rank() over (
        order by coalesce(window_stats.incidents, 0) desc, coalesce(window_stats.pages, 0) desc
    ) as noise_rank
from {{ ref('stg_services') }} as services
left join overall on overall.service_id = services.id
left join window_stats on window_stats.service_id = services.id
left join alerts on alerts.service_id = services.id

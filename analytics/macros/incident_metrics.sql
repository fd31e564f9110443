{#- The staging select of one `analytics_metrics_*` stream: PagerDuty's aggregated incident
    metrics per `key` (service, team or escalation policy) and period (`metrics_unit`). -#}
{% macro stg_incident_metrics(stream, key) %}
with source as (
    {{ latest_rows(stream, [key, 'range_start'], full_table=true) }}
)

select
    {{ key }},
    {{ as_timestamp('range_start') }} as period_start,
    {{ as_bigint('total_incident_count') }} as incident_count,
    {{ as_bigint('total_incidents_acknowledged') }} as incidents_acknowledged,
    {{ as_bigint('mean_seconds_to_first_ack') }} as mean_seconds_to_first_ack,
    {{ as_bigint('mean_seconds_to_resolve') }} as mean_seconds_to_resolve,
    {{ as_bigint('total_notifications') }} as notifications,
    {{ as_bigint('total_interruptions') }} as interruptions,
    _sdc_batched_at as loaded_at
from source
{% endmacro %}

-- PagerDuty's aggregated incident metrics per responder and year part.
with source as (
    {{ latest_rows('analytics_metrics_responders', ['responder_id', 'date_range_start'], full_table=true) }}
)

select
    responder_id as user_id,
    team_id,
    {{ as_timestamp('date_range_start') }} as range_start,
    {{ as_timestamp('date_range_end') }} as range_end,
    {{ as_bigint('total_incident_count') }} as incident_count,
    {{ as_bigint('total_incidents_acknowledged') }} as incidents_acknowledged,
    {{ as_bigint('mean_time_to_acknowledge_seconds') }} as mean_seconds_to_ack,
    {{ as_bigint('total_interruptions') }} as interruptions,
    _sdc_batched_at as loaded_at
from source

-- Maintenance windows, past, ongoing and future.
with source as (
    {{ latest_rows('maintenance_windows', ['id'], full_table=true) }}
)

select
    id,
    {{ as_bigint('sequence_number') }} as sequence_number,
    description,
    {{ as_timestamp('start_time') }} as start_at,
    {{ as_timestamp('end_time') }} as end_at,
    {{ json_text('created_by', 'id') }} as created_by_user_id,
    {{ json_array_size('services') }} as service_count,
    _sdc_batched_at as loaded_at
from source

-- Custom field values of services (`value` as text: JSON unless a string).
with source as (
    {{ latest_rows('service_custom_field_values', ['service_id', 'id'], full_table=true) }}
)

select
    service_id,
    id as field_id,
    name as field_name,
    data_type,
    field_type,
    value,
    _sdc_batched_at as loaded_at
from source

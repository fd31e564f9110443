-- Custom fields defined on each incident type (`default_value` as text, JSON unless a string).
with source as (
    {{ latest_rows('incident_custom_fields', ['incident_type_id', 'id'], full_table=true) }}
)

select
    incident_type_id,
    id,
    name,
    display_name,
    data_type,
    field_type,
    default_value,
    enabled,
    {{ json_array_size('field_options') }} as option_count,
    _sdc_batched_at as loaded_at
from source

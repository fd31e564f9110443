-- Custom fields defined for services.
with source as (
    {{ latest_rows('service_custom_fields', ['id'], full_table=true) }}
)

select
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

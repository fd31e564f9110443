-- Custom field values of incidents (`value` as text: JSON unless a string; `data_type` says how to read it).
with source as (
    {{ latest_rows('incident_custom_field_values', ['incident_id', 'id']) }}
)

select
    incident_id,
    id as field_id,
    name as field_name,
    data_type,
    field_type,
    value,
    _sdc_batched_at as loaded_at
from source

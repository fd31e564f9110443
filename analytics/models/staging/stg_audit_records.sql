-- Audit trail: who did what to which resource. `actor_*` is the first actor.
with source as (
    {{ latest_rows('audit_records', ['id']) }}
)

select
    id,
    {{ as_timestamp('execution_time') }} as executed_at,
    action,
    {{ json_first_text('actors', 'id') }} as actor_id,
    {{ json_first_text('actors', 'type') }} as actor_type,
    {{ json_text('method', 'type') }} as method_type,
    {{ json_text('root_resource', 'id') }} as root_resource_id,
    {{ json_text('root_resource', 'type') }} as root_resource_type,
    {{ json_text('execution_context', 'remote_address') }} as remote_address,
    _sdc_batched_at as loaded_at
from source

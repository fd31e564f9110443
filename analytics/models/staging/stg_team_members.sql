-- Team memberships with the member's role on the team.
with source as (
    {{ latest_rows('team_members', ['team_id', 'user_id'], full_table=true) }}
)

select
    team_id,
    user_id,
    role,
    _sdc_batched_at as loaded_at
from source

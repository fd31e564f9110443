-- One row per user, for access reviews: account role, teams and team roles, how they can be
-- reached, and their last recorded activity in the audit trail.
with users as (
    select * from {{ ref('stg_users') }}
),

memberships as (
    select
        members.user_id,
        count(*) as teams,
        sum(case when members.role = 'manager' then 1 else 0 end) as teams_managed,
        {{ dbt.listagg("teams.name || ' (' || members.role || ')'", "', '", "order by teams.name") }} as team_roles
    from {{ ref('stg_team_members') }} as members
    left join {{ ref('stg_teams') }} as teams on teams.id = members.team_id
    group by members.user_id
),

contact_methods as (
    select
        user_id,
        count(*) as contact_methods,
        sum(case when type in ('phone_contact_method', 'sms_contact_method') then 1 else 0 end) as phone_contact_methods
    from {{ ref('stg_user_contact_methods') }}
    group by user_id
),

-- Users whose login e-mail is also one of their e-mail contact methods. A join on e-mail
-- addresses: it holds when both columns are hashed the same way (docs/pii.md).
login_contact as (
    select distinct methods.user_id
    from {{ ref('stg_user_contact_methods') }} as methods
    inner join {{ ref('stg_users') }} as users
        on users.id = methods.user_id and users.email = methods.address
    where methods.type = 'email_contact_method'
),

notification_rules as (
    select user_id, count(*) as notification_rules
    from {{ ref('stg_user_notification_rules') }}
    group by user_id
),

activity as (
    select
        actor_id as user_id,
        count(*) as audit_actions,
        max(executed_at) as last_activity_at
    from {{ ref('stg_audit_records') }}
    where actor_type = 'user_reference'
    group by actor_id
),

changes as (
    select root_resource_id as user_id, max(executed_at) as last_changed_at
    from {{ ref('stg_audit_records') }}
    where root_resource_type = 'user_reference'
    group by root_resource_id
)

select
    users.id as user_id,
    users.name,
    users.email,
    users.role,
    users.job_title,
    users.time_zone,
    users.invitation_sent,
    coalesce(memberships.teams, 0) as teams,
    coalesce(memberships.teams_managed, 0) as teams_managed,
    memberships.team_roles,
    coalesce(contact_methods.contact_methods, 0) as contact_methods,
    coalesce(contact_methods.phone_contact_methods, 0) as phone_contact_methods,
    login_contact.user_id is not null as login_email_is_contact_method,
    coalesce(notification_rules.notification_rules, 0) as notification_rules,
    coalesce(activity.audit_actions, 0) as audit_actions,
    activity.last_activity_at,
    changes.last_changed_at
from users
left join memberships on memberships.user_id = users.id
left join contact_methods on contact_methods.user_id = users.id
left join login_contact on login_contact.user_id = users.id
left join notification_rules on notification_rules.user_id = users.id
left join activity on activity.user_id = users.id
left join changes on changes.user_id = users.id

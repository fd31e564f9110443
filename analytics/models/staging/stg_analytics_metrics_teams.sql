-- PagerDuty's aggregated incident metrics per team and period (`metrics_unit`).
{{ stg_incident_metrics('analytics_metrics_teams', 'team_id') }}

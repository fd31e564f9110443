-- PagerDuty's aggregated incident metrics per escalation policy and period (`metrics_unit`).
{{ stg_incident_metrics('analytics_metrics_escalation_policies', 'escalation_policy_id') }}

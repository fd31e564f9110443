-- PagerDuty's aggregated incident metrics per service and period (`metrics_unit`).
{{ stg_incident_metrics('analytics_metrics_services', 'service_id') }}

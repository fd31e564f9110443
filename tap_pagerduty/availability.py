"""Which streams an account may lack, and which answers say that it lacks them.

PagerDuty accounts differ in the products and plan features they have, tokens differ in
their scopes, and PagerDuty retires endpoints (Rulesets and Event Rules reached end of life
on 2025-01-31). A stream listed here is *optional*: when its first request is refused with
one of `UNAVAILABLE_STATUSES`, it is skipped with one warning line and the sync goes on.
Every other stream is a core stream: any refusal fails the run, because a core stream that
cannot be read is a token or configuration mistake the user must see.
"""

from __future__ import annotations

# The one list of optional streams (tests check that each names a real stream).
OPTIONAL_STREAMS = frozenset(
    {
        "extensions",
        "addons",
        "webhook_subscriptions",
        "incident_workflows",
        "event_orchestrations",
        "rulesets",
        "status_dashboards",
        "audit_records",
        "change_events",
        "analytics_incidents",
        # Custom fields, licenses and metrics: products and scopes not every account has.
        "incident_types",
        "incident_custom_fields",
        "service_custom_fields",
        "incident_custom_field_values",
        "service_custom_field_values",
        "licenses",
        "license_allocations",
        "analytics_metrics_services",
        "analytics_metrics_teams",
        "analytics_metrics_escalation_policies",
        "analytics_metrics_responders",
    }
)

# Answers meaning "this account cannot have this stream": 402 plan feature missing, 403 token
# scope or permission missing, 404 endpoint unknown to this account, 410 endpoint retired.
UNAVAILABLE_STATUSES = frozenset({402, 403, 404, 410})


def is_optional(stream_name: str) -> bool:
    return stream_name in OPTIONAL_STREAMS

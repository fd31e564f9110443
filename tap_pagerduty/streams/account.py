"""Account configuration: who is on the account, what they run, and how they are paged.

PagerDuty keeps no `updated_at` on these objects, so each is a full-refresh listing.
"""

from __future__ import annotations

import typing as t

from tap_pagerduty.streams.base import (
    ChildStream,
    EmbeddedChildStream,
    ListStream,
    ParentStream,
    Records,
)
from tap_pagerduty.streams.single_page import SinglePageChild, SinglePageList

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pagerduty.prefetch import Request


class UsersStream(ParentStream, ListStream):
    name = "users"
    path = "/users"
    extra_params: t.ClassVar[dict[str, t.Any]] = {
        "include[]": ["contact_methods", "notification_rules"]
    }
    child_key = "user_id"


class UserContactMethodsStream(EmbeddedChildStream):
    """Contact methods come embedded in `/users?include[]=contact_methods`: no extra calls."""

    name = "user_contact_methods"
    parent_stream_type = UsersStream
    parent_key = "user_id"
    embedded_field = "contact_methods"


class UserNotificationRulesStream(SinglePageChild):
    """One call per user, answered whole: only `urgency=all` returns the low-urgency rules
    too."""

    name = "user_notification_rules"
    path = "/users/{user_id}/notification_rules"
    parent_stream_type = UsersStream
    parent_key = "user_id"
    records_key = "notification_rules"
    extra_params: t.ClassVar[dict[str, t.Any]] = {"urgency": "all"}


class TeamsStream(ParentStream, ListStream):
    name = "teams"
    path = "/teams"
    child_key = "team_id"


class TeamMembersStream(ChildStream):
    name = "team_members"
    path = "/teams/{team_id}/members"
    parent_stream_type = TeamsStream
    parent_key = "team_id"
    primary_keys = ("team_id", "user_id")
    records_key = "members"

    def fetch_children(self, parent_id: str) -> Records:
        members = super().fetch_children(parent_id)
        return [{**m, "user_id": (m.get("user") or {}).get("id")} for m in members]


class ServicesStream(ParentStream, ListStream):
    name = "services"
    path = "/services"
    extra_params: t.ClassVar[dict[str, t.Any]] = {"include[]": ["integrations"]}
    child_key = "service_id"


class ServiceIntegrationsStream(EmbeddedChildStream):
    """Integrations come embedded in `/services?include[]=integrations`: no extra calls."""

    name = "service_integrations"
    parent_stream_type = ServicesStream
    parent_key = "service_id"
    embedded_field = "integrations"


class EscalationPoliciesStream(ListStream):
    """Escalation rules (with their targets) are part of each policy."""

    name = "escalation_policies"
    path = "/escalation_policies"


class SchedulesStream(ParentStream, ListStream):
    name = "schedules"
    path = "/schedules"
    extra_params: t.ClassVar[dict[str, t.Any]] = {"include[]": ["schedule_layers"]}
    child_key = "schedule_id"


class PrioritiesStream(ListStream):
    name = "priorities"
    path = "/priorities"


class TagsStream(ListStream):
    name = "tags"
    path = "/tags"


class BusinessServicesStream(ListStream):
    name = "business_services"
    path = "/business_services"


class VendorsStream(ListStream):
    name = "vendors"
    path = "/vendors"


class MaintenanceWindowsStream(ListStream):
    name = "maintenance_windows"
    path = "/maintenance_windows"
    extra_params: t.ClassVar[dict[str, t.Any]] = {"filter": "all"}


class AbilitiesStream(ListStream):
    """The account's abilities: a list of names, one record each."""

    name = "abilities"
    path = "/abilities"
    primary_keys = ("name",)

    def pages(self) -> Iterator[Records]:
        yield [{"name": name} for name in self.fetch(self.path, {}).get("abilities") or []]

    def lookahead_requests(self) -> list[Request]:
        return [(self.path, {}, None)]


class ExtensionsStream(ListStream):
    name = "extensions"
    optional = True
    path = "/extensions"


class AddonsStream(ListStream):
    name = "addons"
    optional = True
    path = "/addons"


class WebhookSubscriptionsStream(ListStream):
    name = "webhook_subscriptions"
    optional = True
    path = "/webhook_subscriptions"


class IncidentWorkflowsStream(ListStream):
    name = "incident_workflows"
    optional = True
    path = "/incident_workflows"


class EventOrchestrationsStream(ListStream):
    name = "event_orchestrations"
    optional = True
    path = "/event_orchestrations"
    records_key = "orchestrations"
    counts_total = False


class RulesetsStream(ListStream):
    name = "rulesets"
    optional = True
    path = "/rulesets"


class StatusDashboardsStream(SinglePageList):
    """Answered whole, in the cursor shape: the spec declares no paging parameter."""

    name = "status_dashboards"
    optional = True
    path = "/status_dashboards"

    def pages(self) -> Iterator[Records]:
        answer = self.fetch(self.path, {})
        if answer.get("next_cursor"):
            self.logger.warning(
                "%s: PagerDuty says more dashboards follow, but the endpoint takes no paging "
                "parameter: only the first %d are synced",
                self.name,
                len(answer.get(self.key) or []),
            )
        yield answer.get(self.key) or []

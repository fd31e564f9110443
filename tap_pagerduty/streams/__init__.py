"""Stream classes, grouped by PagerDuty API family. Order matters only for the run:
configuration first (its responses also tell us PagerDuty's clock), history last. A stream
that reads another's result declares it (`needs`/`uses`, see run.py): the run syncs the
producer first whatever its place here."""

from __future__ import annotations

from tap_pagerduty.client import PagerDutyStream
from tap_pagerduty.state import Bookmark
from tap_pagerduty.streams.account import (
    AbilitiesStream,
    AddonsStream,
    BusinessServicesStream,
    EscalationPoliciesStream,
    EventOrchestrationsStream,
    ExtensionsStream,
    IncidentWorkflowsStream,
    MaintenanceWindowsStream,
    PrioritiesStream,
    RulesetsStream,
    SchedulesStream,
    ServiceIntegrationsStream,
    ServicesStream,
    StatusDashboardsStream,
    TagsStream,
    TeamMembersStream,
    TeamsStream,
    UserContactMethodsStream,
    UserNotificationRulesStream,
    UsersStream,
    VendorsStream,
    WebhookSubscriptionsStream,
)
from tap_pagerduty.streams.base import IncrementalStream
from tap_pagerduty.streams.custom_fields import (
    IncidentCustomFieldsStream,
    IncidentCustomFieldValuesStream,
    IncidentTypesStream,
    ServiceCustomFieldsStream,
    ServiceCustomFieldValuesStream,
)
from tap_pagerduty.streams.history import (
    AnalyticsIncidentsStream,
    AuditRecordsStream,
    ChangeEventsStream,
)
from tap_pagerduty.streams.incidents import (
    IncidentAlertsStream,
    IncidentNotesStream,
    IncidentsStream,
    LogEntriesStream,
    NotificationsStream,
)
from tap_pagerduty.streams.licenses import LicenseAllocationsStream, LicensesStream
from tap_pagerduty.streams.metrics import (
    EscalationPolicyMetricsStream,
    ResponderMetricsStream,
    ServiceMetricsStream,
    TeamMetricsStream,
)
from tap_pagerduty.streams.oncalls import OncallsStream
from tap_pagerduty.streams.schedules_extra import ScheduleOverridesStream, ScheduleUsersStream

STREAM_TYPES: list[type[PagerDutyStream]] = [
    UsersStream,
    UserContactMethodsStream,
    UserNotificationRulesStream,
    TeamsStream,
    TeamMembersStream,
    ServiceCustomFieldsStream,
    ServicesStream,
    ServiceIntegrationsStream,
    ServiceCustomFieldValuesStream,
    EscalationPoliciesStream,
    SchedulesStream,
    ScheduleOverridesStream,
    ScheduleUsersStream,
    PrioritiesStream,
    TagsStream,
    BusinessServicesStream,
    VendorsStream,
    OncallsStream,
    MaintenanceWindowsStream,
    AbilitiesStream,
    ExtensionsStream,
    AddonsStream,
    WebhookSubscriptionsStream,
    IncidentWorkflowsStream,
    EventOrchestrationsStream,
    RulesetsStream,
    StatusDashboardsStream,
    IncidentTypesStream,
    IncidentCustomFieldsStream,
    LicensesStream,
    LicenseAllocationsStream,
    LogEntriesStream,
    IncidentsStream,
    IncidentAlertsStream,
    IncidentNotesStream,
    IncidentCustomFieldValuesStream,
    NotificationsStream,
    AuditRecordsStream,
    ChangeEventsStream,
    AnalyticsIncidentsStream,
    ServiceMetricsStream,
    TeamMetricsStream,
    EscalationPolicyMetricsStream,
    ResponderMetricsStream,
]

# Streams an account may lack (declared by each class: `optional = True`).
OPTIONAL_STREAMS = frozenset(
    stream_type.name for stream_type in STREAM_TYPES if stream_type.optional
)

# Streams read from `anchor_date` on: the incremental ones and the children of incidents.
INCREMENTAL_STREAMS = [
    stream_type.name
    for stream_type in STREAM_TYPES
    if issubclass(stream_type, IncrementalStream)
    or stream_type.parent_stream_type is IncidentsStream
]

# The declared bookmark of each incremental stream: checked before a run starts
# (`TapPagerDuty.load_state`, see state.py).
STATE_TYPES: dict[str, type[Bookmark]] = {
    stream_type.name: stream_type.state_type
    for stream_type in STREAM_TYPES
    if issubclass(stream_type, IncrementalStream)
}

"""Custom fields: incident types, the fields defined on them and on services, and the values
those fields hold on each incident and service.

Values cost one request per record (PagerDuty has no bulk listing), so they are read only
where a field can hold one: for incidents emitted in this run whose type (or a parent type)
has fields, and for services only when a service field is defined.
"""

from __future__ import annotations

import json
import threading
import typing as t

from tap_pagerduty.availability import UNAVAILABLE_STATUSES
from tap_pagerduty.errors import PagerDutyAPIError
from tap_pagerduty.prefetch import Request, request_key
from tap_pagerduty.streams.account import ServicesStream
from tap_pagerduty.streams.base import GONE_STATUSES, ParentStream, Records
from tap_pagerduty.streams.incidents import IncidentsStream
from tap_pagerduty.streams.single_page import SinglePageChild, SinglePageList

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context, Record

    from tap_pagerduty.client import PagerDutyStream

FIELD_OPTIONS = {"include[]": ["field_options"]}


def as_text(value: t.Any) -> str | None:
    """A field value as text: strings (also urls and datetimes) as they are, anything else
    (booleans, numbers, the lists of multi-value fields) as JSON. One column type for every
    field keeps targets simple; `data_type` and `field_type` say how to read it back."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class TextValues:
    """Writes the named fields (which PagerDuty types per custom field) `as_text`."""

    text_fields: t.ClassVar[tuple[str, ...]] = ()

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        for name in self.text_fields:
            if name in row:
                row[name] = as_text(row[name])
        return row


class OptionalChild(SinglePageChild):
    """A child stream that stops, with one warning, when PagerDuty answers that the account
    lacks it (`UNAVAILABLE_STATUSES`: feature, scope), instead of failing the run."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.unavailable = False

    def prepare(self, parents: Records) -> None:
        if self.unavailable:
            return
        try:
            super().prepare(parents)  # asks `wanted`, which may read field definitions
        except PagerDutyAPIError as error:
            if error.status not in UNAVAILABLE_STATUSES:
                raise
            self.give_up(f"cannot read the custom field definitions: {error}")

    def fetch_children(self, parent_id: str) -> Records:
        if self.unavailable:
            return []
        return super().fetch_children(parent_id)

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        try:
            yield from super().get_records(context)
        except PagerDutyAPIError as error:
            if error.status not in UNAVAILABLE_STATUSES:
                raise
            self.give_up(str(error))

    def give_up(self, reason: str) -> None:
        if not self.unavailable:
            self.unavailable = True
            self.discard_prepared()
            self.logger.warning("Skipping optional stream '%s': %s", self.name, reason)


class Definitions:
    """The definition answers of this run, one request each: the incident types, each
    type's fields and the service fields are read by their own streams and needed by the
    value streams, in whichever order the run (and its look-ahead) gets to them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: dict[str, dict[str, t.Any]] = {}

    def get(
        self, stream: PagerDutyStream, path: str, params: dict[str, t.Any], key: str = "fields"
    ) -> Records:
        """The records under `key` of one definition request (sent once per run)."""
        query = {**stream.extra_params, **params}
        request = request_key(path, query, None)
        with self.lock:  # a second asker waits for the first one's answer
            if request not in self.answers:
                self.answers[request] = stream.fetch(path, params)
            answer = self.answers[request]
        return list(answer.get(key) or [])


def definitions(stream: PagerDutyStream) -> Definitions:
    """The run's definition answers (one `Definitions` per run, shared by its streams)."""
    return stream.run.shared("custom field definitions", Definitions)


TYPES = ("/incidents/types", {"filter": "all"}, "incident_types")
SERVICE_FIELDS = ("/services/custom_fields", FIELD_OPTIONS, "fields")


def type_fields_path(type_id: str) -> str:
    return f"/incidents/types/{type_id}/custom_fields"


class DefinitionList(SinglePageList):
    """A definition listing, read through the run's shared `Definitions`."""

    def pages(self) -> Iterator[Records]:
        yield definitions(self).get(self, self.path, {}, self.key)

    def lookahead_requests(self) -> list[Request]:
        return []  # read once, by this stream or a value stream, whichever comes first


class IncidentTypesStream(ParentStream, DefinitionList):
    """Every incident type, enabled or not (PagerDuty lists only enabled ones by default)."""

    name = "incident_types"
    optional = True
    path = TYPES[0]
    records_key = "incident_types"
    extra_params: t.ClassVar[dict[str, t.Any]] = TYPES[1]
    child_key = "incident_type_id"


class IncidentCustomFieldsStream(TextValues, OptionalChild):
    """Field definitions of each incident type, with their fixed options (`field_options`)."""

    name = "incident_custom_fields"
    optional = True
    path = "/incidents/types/{incident_type_id}/custom_fields"
    parent_stream_type = IncidentTypesStream
    parent_key = "incident_type_id"
    primary_keys = ("incident_type_id", "id")
    records_key = "fields"
    extra_params = FIELD_OPTIONS
    text_fields = ("default_value",)

    def fetch_children(self, parent_id: str) -> Records:
        return definitions(self).get(self, type_fields_path(parent_id), {})


class ServiceCustomFieldsStream(TextValues, DefinitionList):
    """Service field definitions; the values stream uses the same (single) answer."""

    name = "service_custom_fields"
    optional = True
    path = SERVICE_FIELDS[0]
    records_key = "fields"
    extra_params = SERVICE_FIELDS[1]
    text_fields = ("default_value",)


class TypesWithFields:
    """Which incident types have custom fields, known once per run (from the run's shared
    definitions: no requests when the definition streams read them already).

    A type counts when it or a parent type has a field. An incident whose type is not
    listed is treated as having fields: reading too much is safe, missing values is not."""

    def __init__(self, stream: OptionalChild) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.without_fields: set[str] | None = None

    def has_fields(self, type_name: str | None) -> bool:
        with self.lock:
            if self.without_fields is None:
                self.without_fields = self._read()
        return (type_name or "incident_default") not in self.without_fields

    def _read(self) -> set[str]:
        stream, known = self.stream, definitions(self.stream)
        types = [kind for kind in known.get(stream, *TYPES) if kind.get("id")]
        own = {kind["id"]: self._own_fields(kind["id"]) for kind in types}
        by_id = {kind["id"]: kind for kind in types}

        def inherited(type_id: str) -> bool:
            seen: set[str] = set()
            while type_id in by_id and type_id not in seen:
                seen.add(type_id)
                if own.get(type_id):
                    return True
                type_id = (by_id[type_id].get("parent") or {}).get("id") or ""
            return False

        return {str(kind.get("name")) for kind in types if not inherited(kind["id"])}

    def _own_fields(self, type_id: str) -> bool:
        """Whether the type defines fields; a type deleted since it was listed counts as
        having some (its incidents' values are read: too much is safe, too little is not)."""
        known = definitions(self.stream)
        try:
            return bool(known.get(self.stream, type_fields_path(type_id), FIELD_OPTIONS))
        except PagerDutyAPIError as error:
            if error.status not in GONE_STATUSES:
                raise
            return True


class IncidentCustomFieldValuesStream(TextValues, OptionalChild):
    """Custom field values of each incident emitted in this run (new or changed) whose type
    has fields: one request per such incident."""

    name = "incident_custom_field_values"
    optional = True
    path = "/incidents/{incident_id}/custom_fields/values"
    parent_stream_type = IncidentsStream
    parent_key = "incident_id"
    primary_keys = ("incident_id", "id")
    records_key = "custom_fields"
    text_fields = ("value",)
    also_sends = (f"GET {TYPES[0]}", "GET /incidents/types/{type_id}/custom_fields")

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.catalog = TypesWithFields(self)

    def wanted(self, parent: dict[str, t.Any]) -> bool:
        return self.catalog.has_fields(_type_name(parent))


class ServiceCustomFieldValuesStream(TextValues, OptionalChild):
    """Custom field values of each service: one request per service, none at all when no
    service custom field is defined."""

    name = "service_custom_field_values"
    optional = True
    path = "/services/{service_id}/custom_fields/values"
    parent_stream_type = ServicesStream
    parent_key = "service_id"
    primary_keys = ("service_id", "id")
    records_key = "custom_fields"
    text_fields = ("value",)
    also_sends = (f"GET {SERVICE_FIELDS[0]}",)  # whether any field is defined, once

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.defined: bool | None = None

    def wanted(self, parent: dict[str, t.Any]) -> bool:
        if self.defined is None:  # once per run (shared with `service_custom_fields`)
            self.defined = bool(definitions(self).get(self, *SERVICE_FIELDS))
        return self.defined


def _type_name(incident: dict[str, t.Any]) -> str | None:
    return (incident.get("incident_type") or {}).get("name")

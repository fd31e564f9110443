"""Checks for the stream JSON schemas in ``schemas/``.

1. Every stream schema is a valid Draft 2020-12 object schema with properties, written in the
   shape Singer targets cope with (nullable types, no unions, no ``additionalProperties: false``).
2. Timestamp-named fields carry ``format: date-time``.
3. Cross-check against the PagerDuty emulator: every truth record validates against its stream
   schema, and every key the emulator emits (recursively) is declared in the schema.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.support.tap_runs import as_written

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

STREAMS = [
    "analytics_metrics_escalation_policies",
    "analytics_metrics_responders",
    "analytics_metrics_services",
    "analytics_metrics_teams",
    "incident_custom_field_values",
    "incident_custom_fields",
    "incident_types",
    "license_allocations",
    "licenses",
    "schedule_overrides",
    "schedule_users",
    "service_custom_field_values",
    "service_custom_fields",
    "abilities",
    "addons",
    "analytics_incidents",
    "audit_records",
    "business_services",
    "change_events",
    "escalation_policies",
    "event_orchestrations",
    "extensions",
    "incident_alerts",
    "incident_notes",
    "incident_workflows",
    "incidents",
    "log_entries",
    "maintenance_windows",
    "notifications",
    "oncalls",
    "priorities",
    "rulesets",
    "schedules",
    "service_integrations",
    "services",
    "status_dashboards",
    "tags",
    "team_members",
    "teams",
    "user_contact_methods",
    "user_notification_rules",
    "users",
    "vendors",
    "webhook_subscriptions",
]

PRIMARY_KEYS: dict[str, list[str]] = {
    "oncalls": [
        "user_id",
        "escalation_policy_id",
        "escalation_level",
        "schedule_id",
        "shift_start",
    ],
    "team_members": ["team_id", "user_id"],
    "abilities": ["name"],
    "license_allocations": ["user_id", "license_id"],
    "analytics_metrics_services": ["service_id", "range_start"],
    "analytics_metrics_teams": ["team_id", "range_start"],
    "analytics_metrics_escalation_policies": ["escalation_policy_id", "range_start"],
    "analytics_metrics_responders": ["responder_id", "date_range_start"],
}

# Fields the tap adds to the API object (not present in the emulator's truth records).
TAP_ADDED_FIELDS: dict[str, set[str]] = {
    "oncalls": {"user_id", "escalation_policy_id", "schedule_id", "shift_start"},
    "incident_alerts": {"incident_id"},
    "incident_notes": {"incident_id"},
    "user_contact_methods": {"user_id"},
    "user_notification_rules": {"user_id"},
    "team_members": {"team_id", "user_id"},
    "service_integrations": {"service_id"},
    "license_allocations": {"user_id", "license_id"},
}

# Exact property names that always hold a timestamp.
DATETIME_NAMES = {"start", "end", "timestamp", "execution_time", "last_incident_timestamp"}
# Timestamp fields whose names do not follow a pattern (stream, dotted path).
DATETIME_PATHS = {
    ("maintenance_windows", "start_time"),
    ("maintenance_windows", "end_time"),
}
# ``*_time`` fields that are times of day ("09:00:00"), not timestamps.
TIME_OF_DAY_NAMES = {"start_time", "end_time", "start_time_of_day"}

EMULATOR_NOW = "2026-11-01T00:00:00Z"
ONCALL_WINDOW = timedelta(days=7)

SCALAR_TYPES = {"string", "integer", "number", "boolean"}


def load_schema(stream: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{stream}.json").read_text())


def _types(node: dict[str, Any]) -> list[str]:
    t = node.get("type", [])
    return [t] if isinstance(t, str) else list(t)


def iter_properties(node: dict[str, Any], prefix: str = ""):
    """Yield (dotted_path, name, subschema) for every property, through objects and arrays."""
    for name, sub in (node.get("properties") or {}).items():
        path = f"{prefix}{name}"
        yield path, name, sub
        yield from iter_properties(sub, f"{path}.")
        items = sub.get("items")
        if isinstance(items, dict):
            yield from iter_properties(items, f"{path}[].")


def iter_nodes(node: Any):
    """Yield every dict inside a schema."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from iter_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_nodes(value)


def undeclared_fields(schema: dict[str, Any], record: Any, prefix: str = "") -> set[str]:
    """Return the dotted paths of keys in ``record`` that ``schema`` does not declare.

    Objects with declared ``properties`` must declare every key they receive; free-form
    objects (no ``properties``) accept anything. Arrays are followed through ``items``;
    array levels appear as ``[]`` in the path, e.g. ``contact_methods[].label``.
    """
    found: set[str] = set()
    if isinstance(record, dict):
        props = schema.get("properties")
        if props is None:
            return found
        for key, value in record.items():
            path = f"{prefix}{key}"
            if key not in props:
                found.add(path)
                continue
            found |= undeclared_fields(props[key], value, f"{path}.")
    elif isinstance(record, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for value in record:
                found |= undeclared_fields(items, value, f"{prefix[:-1]}[].")
    return found


def bad_datetimes(schema: dict[str, Any], record: Any, prefix: str = "") -> set[str]:
    """Return paths whose schema says date-time but whose value is not an ISO 8601 timestamp."""
    bad: set[str] = set()
    if isinstance(record, dict):
        props = schema.get("properties") or {}
        for key, value in record.items():
            if key in props:
                bad |= bad_datetimes(props[key], value, f"{prefix}{key}.")
    elif isinstance(record, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for value in record:
                bad |= bad_datetimes(items, value, f"{prefix[:-1]}[].")
    elif isinstance(record, str) and schema.get("format") == "date-time":
        try:
            parsed = datetime.fromisoformat(record)
        except ValueError:
            bad.add(f"{prefix[:-1]}={record!r}")
        else:
            if parsed.tzinfo is None:
                bad.add(f"{prefix[:-1]}={record!r} (no offset)")
    return bad


# --- 1. structure -------------------------------------------------------------------------


def test_schema_files_match_stream_list():
    on_disk = sorted(p.stem for p in SCHEMA_DIR.glob("*.json"))
    assert on_disk == sorted(STREAMS)


@pytest.mark.parametrize("stream", STREAMS)
def test_schema_is_valid_object_schema(stream):
    schema = load_schema(stream)
    Draft202012Validator.check_schema(schema)
    assert "object" in _types(schema)
    assert schema.get("properties"), f"{stream}: no properties"
    for key in PRIMARY_KEYS.get(stream, ["id"]):
        assert key in schema["properties"], f"{stream}: primary key {key!r} not declared"
    for key in TAP_ADDED_FIELDS.get(stream, set()):
        assert key in schema["properties"], f"{stream}: tap field {key!r} not declared"


@pytest.mark.parametrize("stream", STREAMS)
def test_schema_is_target_friendly(stream):
    schema = load_schema(stream)
    for path, _, sub in iter_properties(schema):
        types = _types(sub)
        assert types, f"{stream}.{path}: no type"
        assert "null" in types, f"{stream}.{path}: not nullable"
        if "array" in types:
            assert isinstance(sub.get("items"), dict), f"{stream}.{path}: array without items"
    for node in iter_nodes(schema):
        for keyword in ("oneOf", "anyOf", "allOf", "$ref"):
            assert keyword not in node, f"{stream}: uses {keyword}"
        assert node.get("additionalProperties", True) is not False, (
            f"{stream}: additionalProperties false"
        )


def test_schema_files_are_pretty_printed():
    for stream in STREAMS:
        text = (SCHEMA_DIR / f"{stream}.json").read_text()
        assert text == json.dumps(json.loads(text), indent=2) + "\n", stream


# --- 2. date-time formats -----------------------------------------------------------------


def _is_datetime_name(stream: str, path: str, name: str) -> bool:
    if (stream, path) in DATETIME_PATHS:
        return True
    return name.endswith("_at") or name in DATETIME_NAMES


@pytest.mark.parametrize("stream", STREAMS)
def test_datetime_fields_have_format(stream):
    schema = load_schema(stream)
    missing = []
    for path, name, sub in iter_properties(schema):
        if "string" not in _types(sub):
            continue
        if _is_datetime_name(stream, path, name) and sub.get("format") != "date-time":
            missing.append(path)
    assert not missing, f"{stream}: timestamp fields without format date-time: {missing}"


def test_known_datetime_fields():
    expected = {
        "incidents": ["created_at", "updated_at", "resolved_at", "last_status_change_at"],
        "log_entries": ["created_at"],
        "notifications": ["started_at"],
        "oncalls": ["start", "end"],
        "audit_records": ["execution_time"],
        "maintenance_windows": ["start_time", "end_time"],
        "change_events": ["timestamp"],
        "services": ["created_at", "last_incident_timestamp"],
        "incident_notes": ["created_at", "updated_at"],
        "analytics_incidents": ["created_at", "updated_at", "resolved_at"],
        "event_orchestrations": ["created_at", "updated_at"],
    }
    for stream, fields in expected.items():
        props = load_schema(stream)["properties"]
        for field in fields:
            assert props[field].get("format") == "date-time", f"{stream}.{field}"


def test_time_of_day_fields_are_not_datetime():
    # services.support_hours.start_time is "09:00:00", not a timestamp.
    support_hours = load_schema("services")["properties"]["support_hours"]["properties"]
    for name in TIME_OF_DAY_NAMES & support_hours.keys():
        assert support_hours[name].get("format") != "date-time", name


def test_tap_specific_field_types():
    oncalls = load_schema("oncalls")["properties"]
    assert "format" not in oncalls["shift_start"]  # may be "permanent"
    assert "string" in _types(oncalls["schedule_id"])  # "none" when no schedule
    assert "integer" in _types(oncalls["escalation_level"])
    assert set(load_schema("abilities")["properties"]) == {"name"}


def test_undeclared_fields_helper():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": ["string", "null"]},
            "free": {"type": ["object", "null"]},
            "obj": {"type": ["object", "null"], "properties": {"x": {"type": ["string", "null"]}}},
            "arr": {
                "type": ["array", "null"],
                "items": {"type": ["object", "null"], "properties": {"y": {"type": ["integer"]}}},
            },
        },
    }
    record = {
        "a": "1",
        "free": {"anything": {"goes": 1}},
        "obj": {"x": "2", "z": 3},
        "arr": [{"y": 1}, {"y": 2, "w": [1]}, None],
        "top": None,
    }
    assert undeclared_fields(schema, record) == {"obj.z", "arr[].w", "top"}
    assert undeclared_fields(schema, {"obj": None, "arr": None}) == set()


# --- 3. cross-check against the emulator ----------------------------------------------------


def _emulator_now(emulator) -> datetime:
    now = getattr(emulator, "now", None)
    if isinstance(now, (int, float)):
        return datetime.fromtimestamp(now, tz=timezone.utc)
    return datetime.fromisoformat(EMULATOR_NOW)


def _truth(emulator, stream: str) -> list[dict[str, Any]]:
    if stream == "oncalls":
        now = _emulator_now(emulator)
        since, until = (t.isoformat().replace("+00:00", "Z") for t in (now, now + ONCALL_WINDOW))
        return emulator.truth(stream, since=since, until=until)
    if stream in ("schedule_overrides", "schedule_users"):
        return emulator.truth(stream, since="2026-01-01T00:00:00Z", until="2027-01-01T00:00:00Z")
    if stream.startswith("analytics_metrics_"):
        return emulator.truth(stream, since="2026-01-01T00:00:00Z", until="2026-11-01T00:00:00Z")
    return [as_written(stream, r) for r in emulator.truth(stream)]


@pytest.mark.parametrize("stream", STREAMS)
def test_emulator_truth_matches_schema(emulator, stream):
    schema = load_schema(stream)
    if stream in ("oncalls", "license_allocations"):
        # The tap derives these; the emulator's truth is the raw API object.
        schema = json.loads(json.dumps(schema))
        for key in TAP_ADDED_FIELDS[stream]:
            del schema["properties"][key]
    records = _truth(emulator, stream)
    assert isinstance(records, list)
    assert records, f"{stream}: the emulator has no truth records, so nothing was checked"
    validator = Draft202012Validator(schema)
    invalid: list[str] = []
    undeclared: set[str] = set()
    bad_times: set[str] = set()
    for record in records:
        invalid += [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(record)
        ]
        undeclared |= undeclared_fields(schema, record)
        bad_times |= bad_datetimes(schema, record)
    assert not invalid, f"{stream}: records fail the schema: {sorted(set(invalid))[:20]}"
    assert not undeclared, f"{stream}: fields not declared in the schema: {sorted(undeclared)}"
    assert not bad_times, f"{stream}: unparsable date-time values: {sorted(bad_times)[:20]}"


def test_email_parser_predicates_of_any_depth_conform() -> None:
    """Match predicates nest without bound; the schemas stop at two levels and must let
    deeper ones through (an object schema without properties crashes the SDK's conformance)."""
    import logging

    from singer_sdk.helpers._typing import conform_record_data_types
    from singer_sdk.helpers.conform import TypeConformanceLevel

    deep = {"type": "contains", "matcher": "x", "part": "body", "children": [{"type": "x"}]}
    predicate = {"type": "all", "children": [{"type": "any", "children": [deep]}]}
    for name, wrap in (
        ("service_integrations", lambda p: {"id": "P1", "email_parsers": [p]}),
        ("services", lambda p: {"id": "P1", "integrations": [{"id": "P2", "email_parsers": [p]}]}),
    ):
        schema = json.loads(
            (Path(__file__).resolve().parents[1] / "schemas" / f"{name}.json").read_text()
        )
        record = wrap({"match_predicate": predicate})
        out = conform_record_data_types(
            name, record, schema, TypeConformanceLevel.RECURSIVE, logging.getLogger("t")
        )
        assert out == record

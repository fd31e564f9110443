"""Custom fields, incident types, schedule overrides and users, licenses: ground truth on a
first and an incremental sync, what the values cost, and skipping what an account lacks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tap_pagerduty.windows import iso_z, parse_time
from tests.support.tap_runs import ANCHOR, assert_matches_truth, config_for, run_in_process

NOW = "2026-11-01T00:00:00Z"
FULL = [
    "incident_types",
    "incident_custom_fields",
    "service_custom_fields",
    "services",
    "service_custom_field_values",
    "schedules",
    "schedule_overrides",
    "schedule_users",
    "licenses",
    "license_allocations",
]
STREAMS = [*FULL, "incidents", "incident_custom_field_values"]
VALUES_PATH = "/incidents/{id}/custom_fields/values"


def schedule_window(now: str) -> dict[str, str]:
    return {"since": ANCHOR, "until": iso_z(parse_time(now) + timedelta(days=90))}


def truth(emulator, stream: str, now: str) -> list[dict]:
    if stream in ("schedule_overrides", "schedule_users"):
        return emulator.truth(stream, **schedule_window(now))
    if stream in ("incidents", "incident_custom_field_values"):
        return emulator.truth(stream, since=ANCHOR, until=now)
    return emulator.truth(stream)


def value_requests(emulator) -> list[str]:
    return [
        path.split("/")[2]
        for _t, _m, path, _q, _s in emulator.stats(log=True)["log"]
        if path.endswith("/custom_fields/values") and path.startswith("/incidents/")
    ]


def test_first_and_incremental_sync_equal_ground_truth(emulator_factory) -> None:
    emulator = emulator_factory(seed=31, incidents=300, days=200, now=NOW, rate_limit=0)
    config = config_for(emulator)
    first = run_in_process(config, STREAMS)
    for stream in STREAMS:
        expected = truth(emulator, stream, NOW)
        assert expected, f"the emulator has no {stream}: the test would prove nothing"
        assert_matches_truth(stream, first.records.get(stream, []), expected, "first sync")
    # Values were asked only for incidents whose type has fields (most have none here).
    typed = {
        i["id"]
        for i in first.records["incidents"]
        if i["incident_type"]["name"] != "incident_default"
    }
    asked = value_requests(emulator)
    assert sorted(asked) == sorted(typed)
    assert 0 < len(asked) < len(first.records["incidents"]) / 2

    emulator.advance(30)  # also edits some values (each edit writes a log entry)
    edited = {incident for incident, _field in emulator.extras.edited}
    assert edited
    later = iso_z(parse_time(NOW) + timedelta(hours=30))
    emulator.reset_stats()
    second = run_in_process(config, STREAMS, first.last_state)
    new_values = {r["incident_id"] for r in second.records["incident_custom_field_values"]}
    assert edited <= new_values  # edited values were read again
    emitted = {i["id"] for i in second.records.get("incidents", [])}
    assert emitted, "the emulator changed nothing: the incremental test would prove nothing"
    # Only incidents emitted in this run cost a value request.
    assert set(value_requests(emulator)) <= emitted
    for stream in STREAMS:
        expected = truth(emulator, stream, later)
        got = second.records.get(stream, [])
        if stream in ("incidents", "incident_custom_field_values"):
            got = first.records.get(stream, []) + got  # a target upserts by key
        assert_matches_truth(stream, got, expected, "incremental sync")


def test_no_field_defined_means_no_value_request(emulator_factory) -> None:
    emulator = emulator_factory(seed=32, incidents=120, days=60, now=NOW, rate_limit=0)
    emulator.extras.incident_fields_defined = False
    emulator.extras.service_fields_defined = False
    output = run_in_process(config_for(emulator), STREAMS)
    assert len(output.records["incidents"]) > 50
    by_path = emulator.stats()["by_path"]
    assert VALUES_PATH not in by_path
    assert "/services/{id}/custom_fields/values" not in by_path
    assert "incident_custom_field_values" not in output.records
    assert "service_custom_field_values" not in output.records


@pytest.mark.parametrize(
    ("path", "status", "skipped"),
    [
        ("/incidents/types", 402, ["incident_types", "incident_custom_fields"]),
        ("/services/custom_fields", 403, ["service_custom_fields", "service_custom_field_values"]),
        ("/licenses", 403, ["licenses"]),
        ("/license_allocations", 402, ["license_allocations"]),
    ],
)
def test_streams_the_account_lacks_are_skipped(emulator_factory, path, status, skipped) -> None:
    emulator = emulator_factory(
        seed=33, incidents=60, days=30, now=NOW, rate_limit=0, force_status={path: status}
    )
    output = run_in_process(config_for(emulator), STREAMS)
    for stream in skipped:
        assert stream not in output.records, stream
    assert len(output.records["schedule_overrides"]) > 0  # the run went on
    assert len(output.records["incidents"]) == len(emulator.truth("incidents", since=ANCHOR))


METRICS = [
    "analytics_metrics_services",
    "analytics_metrics_teams",
    "analytics_metrics_escalation_policies",
    "analytics_metrics_responders",
]


def test_metrics_first_and_later_sync_equal_ground_truth(emulator_factory) -> None:
    emulator = emulator_factory(seed=34, incidents=300, days=400, now=NOW, rate_limit=0)
    config = config_for(emulator)
    first = run_in_process(config, METRICS)
    for stream in METRICS:
        expected = emulator.truth(stream, since=ANCHOR, until=NOW)
        assert expected, stream
        assert_matches_truth(stream, first.records.get(stream, []), expected, "first sync")
    emulator.advance(30)  # open incidents resolve: past days' aggregates change
    later = iso_z(parse_time(NOW) + timedelta(hours=30))
    emulator.reset_stats()
    second = run_in_process(config, METRICS, first.last_state)
    # A year from the anchor is one query; the 30 hours after it are a second one.
    assert emulator.stats()["by_path"]["/analytics/metrics/incidents/services"] == {"200": 2}
    for stream in METRICS[:3]:
        expected = emulator.truth(stream, since=ANCHOR, until=later)
        assert_matches_truth(stream, second.records[stream], expected, "later sync")
    year = iso_z(parse_time(ANCHOR) + timedelta(days=365))
    responders = emulator.truth(METRICS[3], since=ANCHOR, until=year)
    responders += emulator.truth(METRICS[3], since=year, until=later)
    assert_matches_truth(METRICS[3], second.records[METRICS[3]], responders, "later sync")


@pytest.mark.parametrize("unit", ["week", "month"])
def test_metrics_by_week_and_month_start_on_unit_boundaries(emulator_factory, unit) -> None:
    emulator = emulator_factory(seed=35, incidents=200, days=400, now=NOW, rate_limit=0)
    config = config_for(emulator, anchor_date="2025-11-01T12:00:00Z", metrics_unit=unit)
    output = run_in_process(config, ["analytics_metrics_services"])
    start = {"week": "2025-10-27T00:00:00Z", "month": "2025-11-01T00:00:00Z"}[unit]
    rows = emulator.extras.metrics(
        "service", parse_time(start).timestamp(), parse_time(NOW).timestamp(), unit, {}
    )
    assert rows
    assert_matches_truth("analytics_metrics_services", output.records[METRICS[0]], rows)
    periods = {parse_time(r["range_start"]) for r in rows}
    if unit == "week":
        assert {p.weekday() for p in periods} == {0}
    else:
        assert {p.day for p in periods} == {1}
    # Incidents of the anchor's own week or month, before the anchor, are counted too: the
    # first period is whole.
    assert min(periods) <= parse_time(start) + timedelta(days=7)


def test_overrides_range_refused_by_pagerduty_is_asked_in_halves(emulator_factory) -> None:
    emulator = emulator_factory(seed=36, incidents=40, days=400, now=NOW, rate_limit=0)
    emulator.extras.overrides_max_days = 100
    output = run_in_process(config_for(emulator), ["schedules", "schedule_overrides"])
    expected = truth(emulator, "schedule_overrides", NOW)
    assert_matches_truth("schedule_overrides", output.records["schedule_overrides"], expected)
    answers = emulator.stats()["by_path"]["/schedules/{id}/overrides"]
    schedules = len(output.records["schedules"])
    assert answers["400"] == 7 * schedules  # 455 days: refused whole, in 2 and in 4 parts
    assert answers["200"] == 8 * schedules


@pytest.mark.parametrize("with_definitions", [True, False])
def test_values_know_the_typed_incidents_with_or_without_the_definition_streams(
    emulator_factory, with_definitions
) -> None:
    emulator = emulator_factory(seed=37, incidents=100, days=60, now=NOW, rate_limit=0)
    streams = ["incidents", "incident_custom_field_values"]
    if with_definitions:
        streams += ["incident_types", "incident_custom_fields"]
    output = run_in_process(config_for(emulator), streams)
    values = "incident_custom_field_values"
    expected = emulator.truth(values, since=ANCHOR, until=NOW)
    assert_matches_truth(values, output.records[values], expected)
    by_path = emulator.stats()["by_path"]
    # Read once: by the definition streams when they run, else by the values stream.
    assert by_path["/incidents/types"] == {"200": 1}
    assert by_path["/incidents/types/{id}/custom_fields"] == {"200": 3}

"""A living account: parents deleted or merged between their listing and their children.

The emulator deletes one parent of every per-parent child stream (and merges one incident)
right after the request that listed it: every child request for it then answers 404. The
run must go on and exit 0, warn once per gone parent naming stream, parent and status, count
them in its summary line, and otherwise equal the account as it is after the run.
(A 404 on a core stream's own listing still fails the run: tests/test_fault_drills.py.)
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tap_pagerduty.windows import iso_z, parse_time
from tests.support.tap_runs import assert_matches_truth, config_for, run_process

NOW = "2026-11-01T00:00:00Z"
ANCHOR = iso_z(parse_time(NOW) - timedelta(days=30))
UNTIL = iso_z(parse_time(NOW) + timedelta(days=90))
# Every child stream read per parent record, with its parent stream (embedded children need
# no request: they come with the parent's listing, so a deletion cannot touch them).
CHILDREN = {
    "user_notification_rules": "users",
    "user_contact_methods": "users",
    "team_members": "teams",
    "service_integrations": "services",
    "service_custom_field_values": "services",
    "schedule_overrides": "schedules",
    "schedule_users": "schedules",
    "incident_custom_fields": "incident_types",
    "incident_alerts": "incidents",
    "incident_notes": "incidents",
    "incident_custom_field_values": "incidents",
}
EMBEDDED = {"user_contact_methods", "service_integrations"}
PARENT_FIELD = {
    "users": "user_id",
    "teams": "team_id",
    "services": "service_id",
    "schedules": "schedule_id",
    "incident_types": "incident_type_id",
    "incidents": "incident_id",
}
STREAMS = sorted({*CHILDREN, *CHILDREN.values(), "service_custom_fields"})


def truth(emulator, stream: str) -> list[dict]:
    if stream in ("schedule_overrides", "schedule_users"):
        return emulator.truth(stream, since=ANCHOR, until=UNTIL)
    if stream.startswith("incident") and stream not in ("incident_types", "incident_custom_fields"):
        return emulator.truth(stream, since=ANCHOR, until=NOW)
    return emulator.truth(stream)


# One pytest-xdist worker for the module: its module fixture (a sync) is built once.
pytestmark = pytest.mark.xdist_group("churn")


@pytest.fixture(scope="module")
def churned_run(tmp_path_factory):
    from pagerduty_emulator import Emulator

    emulator = Emulator(
        seed=3, incidents=30, days=30, now=NOW, users=8, services=4, rate_limit=0
    ).start()
    world, extras = emulator.world, emulator.extras
    # An incident with alerts and custom field values is deleted; one with a note (read in
    # the backfill only for incidents whose log shows one) and values is merged away.
    with_alerts = next(
        i
        for i in world.incidents
        if emulator.r.alerts(i) and extras.incident_values(i) and not emulator.r.notes(i)
    )
    with_note = next(
        i for i in world.incidents if emulator.r.notes(i) and extras.incident_values(i)
    )
    kind = next(k for k in extras.types if k["name"] != "incident_default")
    gone = {
        "users": world.users[1]["id"],
        "teams": world.teams[1]["id"],
        "services": world.services[1]["id"],
        "schedules": world.schedules[1]["id"],
        "incident_types": kind["id"],
    }
    listing = {"incident_types": "/incidents/types"}
    changes = [
        {"action": "delete", "kind": k, "id": i, "path": listing.get(k, f"/{k}")}
        for k, i in gone.items()
    ]
    changes += [
        {"action": "delete", "kind": "incidents", "id": with_alerts.id, "path": "/incidents"},
        {"action": "merge", "kind": "incidents", "id": with_note.id, "path": "/incidents"},
    ]
    emulator.churn.add(changes)
    config = config_for(emulator, anchor_date=ANCHOR)
    output = run_process(config, tmp_path_factory.mktemp("churn"), STREAMS, timeout=120)
    yield emulator, output, gone, with_alerts.id, with_note.id
    emulator.stop()


def test_gone_parents_are_skipped_and_the_run_exits_0(churned_run) -> None:
    emulator, output, gone, deleted, merged = churned_run
    assert output.returncode == 0, output.stderr[-3000:]
    assert len(emulator.churn.applied) == 7  # every change happened during the run
    warned = re.findall(
        r"(\w+): skipping (\w+) (\w+), listed earlier in this run but gone now \(HTTP 404\)",
        output.stderr,
    )
    expected = {
        ("user_notification_rules", "user", gone["users"]),
        ("team_members", "team", gone["teams"]),
        ("service_custom_field_values", "service", gone["services"]),
        ("schedule_overrides", "schedule", gone["schedules"]),
        ("schedule_users", "schedule", gone["schedules"]),
        ("incident_custom_fields", "incident_type", gone["incident_types"]),
        ("incident_alerts", "incident", deleted),
        ("incident_custom_field_values", "incident", deleted),
        ("incident_notes", "incident", merged),
        ("incident_custom_field_values", "incident", merged),
    }
    assert sorted(warned) == sorted(expected)  # each once
    summary = [line for line in output.stderr.splitlines() if "Run summary:" in line]
    assert len(summary) == 1 and "10 parent(s) gone since they were listed" in summary[0]
    assert "incident_custom_field_values 2" in summary[0]


@pytest.mark.parametrize("stream", sorted(CHILDREN))
def test_every_child_stream_equals_the_account_after_the_run(churned_run, stream: str) -> None:
    emulator, output, gone, _deleted, _merged = churned_run
    parent = CHILDREN[stream]
    got = output.records.get(stream, [])
    expected = truth(emulator, stream)
    if stream in EMBEDDED:  # read with the parent, before it was deleted
        field = PARENT_FIELD[parent]
        got = [r for r in got if r[field] != gone[parent]]
    assert expected, stream
    assert_matches_truth(stream, got, expected, "after churn")


@pytest.mark.parametrize("stream", sorted(set(CHILDREN.values())))
def test_parents_equal_the_account_plus_those_deleted_after_their_listing(
    churned_run, stream: str
) -> None:
    emulator, output, gone, deleted, _merged = churned_run
    was_listed = {"incidents": deleted}.get(stream) or gone[stream]
    got = [r for r in output.records.get(stream, []) if r["id"] != was_listed]
    assert len(got) == len(output.records.get(stream, [])) - 1  # emitted as it was listed
    assert_matches_truth(stream, got, truth(emulator, stream), "after churn")

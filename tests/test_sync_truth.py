"""A full sync of the emulator equals its ground truth, stream by stream."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tap_pagerduty.streams import STREAM_TYPES
from tap_pagerduty.windows import iso_z, parse_time
from tests.support.tap_runs import ANCHOR, assert_matches_truth, config_for, run_in_process

NOW = "2026-11-01T00:00:00Z"
INCREMENTAL_FROM_ANCHOR = {
    "incidents",
    "log_entries",
    "notifications",
    "incident_alerts",
    "incident_notes",
    "audit_records",
    "analytics_incidents",
    "change_events",
    "incident_custom_field_values",
    "analytics_metrics_services",
    "analytics_metrics_teams",
    "analytics_metrics_escalation_policies",
    "analytics_metrics_responders",
}
# Read over `overrides_start_date` (default: the anchor) .. now + `overrides_days_ahead` (90).
SCHEDULE_WINDOW_STREAMS = {"schedule_overrides", "schedule_users"}


def truth_for(emulator, stream: str) -> list[dict]:
    if stream == "oncalls":
        now = parse_time(NOW)
        return emulator.truth("oncalls", since=NOW, until=iso_z(now + timedelta(days=90)))
    if stream in SCHEDULE_WINDOW_STREAMS:
        until = iso_z(parse_time(NOW) + timedelta(days=90))
        return emulator.truth(stream, since=ANCHOR, until=until)
    if stream in INCREMENTAL_FROM_ANCHOR:
        return emulator.truth(stream, since=ANCHOR, until=NOW)
    return emulator.truth(stream)


# One pytest-xdist worker for the module: its module fixture (a sync) is built once.
pytestmark = pytest.mark.xdist_group("sync_truth")


@pytest.fixture(scope="module")
def full_sync(request):
    from pagerduty_emulator import Emulator

    # No emulator rate limit: the sync sends about 1,000 requests at up to 500/s, and waiting
    # out PagerDuty's 960/min is tested elsewhere (tests/test_http_layer.py).
    emulator = Emulator(seed=7, incidents=400, days=400, now=NOW, rate_limit=0).start()
    request.addfinalizer(emulator.stop)
    output = run_in_process(config_for(emulator))
    return emulator, output


@pytest.mark.parametrize("stream", [cls.name for cls in STREAM_TYPES])
def test_every_stream_equals_ground_truth(full_sync, stream: str) -> None:
    emulator, output = full_sync
    truth = truth_for(emulator, stream)
    assert truth, f"the emulator has no {stream}: the test would prove nothing"
    assert_matches_truth(stream, output.records.get(stream, []), truth)


def test_no_duplicates_within_the_run(full_sync) -> None:
    _, output = full_sync
    for stream in ("incidents", "log_entries", "notifications", "users", "incident_alerts"):
        ids = [r["id"] for r in output.records[stream]]
        assert len(ids) == len(set(ids)), stream


def test_only_reads_and_always_sends_z_and_accept(full_sync) -> None:
    emulator, _ = full_sync
    stats = emulator.stats()
    assert stats["write_attempts"] == 0
    assert stats["missing_z"] == 0
    assert stats["missing_accept"] == 0
    assert all(
        status.startswith("2")
        for path, by_status in stats["by_path"].items()
        for status in by_status
    ), stats["by_path"]


def test_embedded_children_fail_loudly_when_their_parent_did_not_prepare_them() -> None:
    import pytest

    from tap_pagerduty.tap import TapPagerDuty

    tap = TapPagerDuty(config={"api_token": "x"}, parse_env_config=False)
    stream = tap.streams["user_contact_methods"]
    with pytest.raises(RuntimeError, match="did not hand over the embedded 'contact_methods'"):
        list(stream.get_records({"user_id": "PUNKNWN"}))


def test_every_request_is_an_operation_and_parameter_the_spec_declares(full_sync) -> None:
    from tests.support.spec_check import request_log, undeclared

    emulator, _ = full_sync
    log = request_log(emulator)
    assert len(log) == emulator.stats()["requests"] > 100
    assert undeclared(log) == []

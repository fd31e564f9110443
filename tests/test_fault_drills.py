"""Fault drills at the command line: refused requests end in one clear line."""

from __future__ import annotations

import pytest

from tap_pagerduty.streams import STREAM_TYPES
from tests.support.tap_runs import assert_matches_truth, config_for, run_process

NOW = "2026-11-01T00:00:00Z"


@pytest.mark.parametrize("status", [401, 402, 403, 404, 410])
def test_refused_first_request_is_one_line_and_a_nonzero_exit(
    emulator_factory, tmp_path, status: int
) -> None:
    emulator = emulator_factory(seed=1, incidents=30, days=20, now=NOW)
    config = config_for(emulator)
    if status == 401:
        config["api_token"] = "not-the-token"
    else:
        emulator.configure(force_status={"/teams": status})
    output = run_process(config, tmp_path, ["teams", "priorities"], timeout=120)
    assert output.returncode != 0
    lines = [line for line in output.stderr.splitlines() if line.startswith("tap-pagerduty:")]
    assert len(lines) == 1, output.stderr[-3000:]
    assert "teams" in lines[0] and "/teams" in lines[0] and f"HTTP {status}" in lines[0]
    assert "Traceback" not in output.stderr
    assert not output.records.get("teams")


# One optional endpoint of each kind of absence: retired (410), unknown (404), no scope (403).
UNAVAILABLE = {"/rulesets": 410, "/extensions": 404, "/audit/records": 403}


def test_unavailable_optional_streams_are_skipped_and_the_rest_equals_truth(
    emulator_factory, tmp_path
) -> None:
    from tests.test_sync_truth import truth_for

    emulator = emulator_factory(
        seed=7, incidents=60, days=400, now=NOW, force_status=dict(UNAVAILABLE)
    )
    output = run_process(config_for(emulator), tmp_path)
    assert output.returncode == 0, output.stderr[-3000:]
    warnings = [line for line in output.stderr.splitlines() if "Skipping optional stream" in line]
    assert len(warnings) == 3, warnings
    for (path, status), stream in zip(
        UNAVAILABLE.items(), ["rulesets", "extensions", "audit_records"], strict=True
    ):
        (line,) = [w for w in warnings if f"'{stream}'" in w]
        assert f"HTTP {status}" in line and path in line, line
        assert "WARN" in line and "Traceback" not in output.stderr
        assert stream not in output.records
    for cls in STREAM_TYPES:
        if cls.name not in {"rulesets", "extensions", "audit_records"}:
            truth = truth_for(emulator, cls.name)
            assert_matches_truth(cls.name, output.records.get(cls.name, []), truth)


def test_a_retired_analytics_endpoint_does_not_stop_incremental_incidents(
    emulator_factory, caplog
) -> None:
    """Incidents read analytics for changes that write no log entry; a 410 there is the
    same absence as for the analytics stream: one warning, and the sync goes on."""
    from tests.support.tap_runs import run_in_process

    emulator = emulator_factory(seed=2, incidents=40, days=30, now=NOW)
    config = config_for(emulator)
    first = run_in_process(config, ["incidents", "analytics_incidents"])
    emulator.advance(24)
    emulator.configure(force_status={"/analytics/raw/incidents": 410})
    second = run_in_process(config, ["incidents", "analytics_incidents"], first.last_state)
    assert "analytics_incidents" not in second.records
    messages = [r.getMessage() for r in caplog.records]
    assert any("analytics is not available" in m and "HTTP 410" in m for m in messages)
    assert any("Skipping optional stream 'analytics_incidents'" in m for m in messages)


def test_truncated_bodies_are_retried(emulator_factory) -> None:
    from tests.support.tap_runs import ANCHOR, assert_matches_truth, run_in_process

    emulator = emulator_factory(seed=9, incidents=200, days=120, now=NOW, fault_truncate=0.2)
    output = run_in_process(config_for(emulator), ["users", "incidents", "log_entries"])
    assert emulator.stats()["faults"].get("truncate", 0) > 5
    for stream in ("incidents", "log_entries"):
        truth = emulator.truth(stream, since=ANCHOR)
        assert_matches_truth(stream, output.records[stream], truth)
    assert_matches_truth("users", output.records["users"], emulator.truth("users"))


def test_giving_up_after_max_retries_is_one_clear_line(emulator_factory, tmp_path) -> None:
    emulator = emulator_factory(seed=1, incidents=30, days=20, now=NOW, fault_5xx=1.0)
    output = run_process(config_for(emulator, max_retries=2), tmp_path, ["priorities"])
    assert output.returncode != 0
    lines = [line for line in output.stderr.splitlines() if line.startswith("tap-pagerduty:")]
    assert len(lines) == 1, output.stderr[-3000:]
    assert "gave up" in lines[0] and "/priorities" in lines[0] and "HTTP 50" in lines[0]
    assert "Traceback" not in output.stderr
    assert sum(emulator.stats()["by_path"]["/priorities"].values()) == 3  # 1 try + 2 retries

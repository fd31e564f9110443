"""Fault drills at the command line: refused requests end in one clear line."""

from __future__ import annotations

import pytest

from tests.support.tap_runs import config_for, run_process

NOW = "2026-11-01T00:00:00Z"


@pytest.mark.parametrize("status", [401, 402, 403, 404])
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


@pytest.mark.parametrize("status", [402, 403])
def test_optional_stream_refused_is_skipped_and_the_sync_succeeds(
    emulator_factory, tmp_path, status: int
) -> None:
    emulator = emulator_factory(
        seed=1, incidents=30, days=20, now=NOW, force_status={"/audit/records": status}
    )
    output = run_process(config_for(emulator), tmp_path, ["audit_records", "priorities"])
    assert output.returncode == 0, output.stderr[-3000:]
    assert output.records["priorities"]
    assert "audit_records" not in output.records
    warnings = [line for line in output.stderr.splitlines() if "Skipping stream" in line]
    assert len(warnings) == 1 and "audit_records" in warnings[0]


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

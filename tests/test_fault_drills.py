"""Fault drills at the command line: refused requests end in one clear line."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator

import pytest

from tap_pagerduty.engine import REFUSED_TRIES
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
    assert f"HTTP {status}" in lines[0]
    if status == 401:
        # Every request is refused; the first refusal of the run is reported, which may be a
        # later stream's first page sent ahead, and nothing is sent after it.
        assert re.search(r"tap-pagerduty: (teams|priorities): GET /(teams|priorities) ", lines[0])
    else:
        assert "teams" in lines[0] and "/teams" in lines[0]
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


def _error_line(output) -> str:
    """The run's one error line, which must also be the last line on stderr."""
    lines = [line for line in output.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("tap-pagerduty:")]
    assert len(errors) == 1, output.stderr[-3000:]
    assert lines[-1] == errors[0], f"not the last line:\n{output.stderr[-3000:]}"
    assert "Traceback" not in output.stderr
    return errors[0]


@contextlib.contextmanager
def _refusing_port() -> Iterator[int]:
    """A port bound but not listening: connections to it are refused, and no other test's
    server can take it meanwhile (as it could a port bound and closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_tls_against_a_plain_http_port_fails_at_once_with_the_cause(
    emulator_factory, tmp_path
) -> None:
    emulator = emulator_factory(seed=1, incidents=30, days=20, now=NOW)
    config = {**config_for(emulator), "api_url": emulator.url.replace("http:", "https:")}
    output = run_process(config, tmp_path, ["priorities"], timeout=60)
    assert output.returncode != 0
    line = _error_line(output)
    assert "/priorities" in line and "SSL" in line and "TLS" in line, line
    # A TLS mismatch cannot heal: not one retry (counted by the log's lines, not the clock).
    assert "gave up" not in line and "retr" not in output.stderr.lower()


def test_connection_refused_fails_after_the_first_tries(tmp_path) -> None:
    with _refusing_port() as port:
        config = {
            "api_token": "emulator-token",
            "api_url": f"http://127.0.0.1:{port}",
            "anchor_date": "2026-01-01",
        }
        output = run_process(config, tmp_path, ["priorities"], timeout=60)
    assert output.returncode != 0
    line = _error_line(output)
    assert "/priorities" in line and "connection refused" in line.lower(), line
    assert "Max retries exceeded" not in line
    # Given up after REFUSED_TRIES tries, not after every retry `max_retries` allows.
    assert f"({REFUSED_TRIES} tries)" in line, line
    retries = [text for text in output.stderr.splitlines() if "priorities: retry " in text]
    assert len(retries) == REFUSED_TRIES - 1, retries


def test_after_a_401_no_request_is_sent_and_the_error_is_the_last_line(
    emulator_factory, tmp_path
) -> None:
    """The token is revoked mid-run while children are fetched three at a time."""
    emulator = emulator_factory(
        seed=6, incidents=400, days=60, now=NOW, fault_401_after=60, latency_ms=5
    )
    config = config_for(emulator, max_concurrency=3, anchor_date="2026-09-01T00:00:00Z")
    output = run_process(config, tmp_path, ["incidents", "incident_alerts", "incident_notes"])
    assert output.returncode != 0
    line = _error_line(output)
    assert "HTTP 401" in line, line
    stats = emulator.stats()
    # Requests already in flight when the 401 came may complete; none may start after it.
    assert stats["after_first_401"] <= 2, stats["after_first_401"]
    assert stats["requests"] <= 60 + 3, stats["requests"]


def test_giving_up_names_the_real_cause(emulator_factory, tmp_path) -> None:
    emulator = emulator_factory(seed=1, incidents=30, days=20, now=NOW, fault_drop=1.0)
    output = run_process(config_for(emulator, max_retries=1), tmp_path, ["priorities"])
    assert output.returncode != 0
    line = _error_line(output)
    assert "gave up after 1 retries" in line and "/priorities" in line, line
    assert "'max_retries'" not in line and "Max retries exceeded" not in line
    assert "Connection" in line or "closed" in line, line

"""The one HTTP layer: throttle, retries, errors, regions, secrecy."""

from __future__ import annotations

import json
import re

import pytest
import requests_mock

from tap_pagerduty.errors import PagerDutyAPIError
from tests.support.tap_runs import (
    ANCHOR,
    assert_matches_truth,
    config_for,
    run_in_process,
    run_process,
)

NOW = "2026-11-01T00:00:00Z"
SECRET = "tok-very-secret-4711"


def test_faults_are_retried_and_the_result_is_still_exact(emulator_factory) -> None:
    emulator = emulator_factory(
        seed=3,
        incidents=250,
        days=200,
        now=NOW,
        fault_5xx=0.10,
        fault_429_every=20,
        fault_drop=0.02,
        fault_truncate=0.01,
    )
    streams = ["users", "teams", "team_members", "incidents", "incident_notes", "log_entries"]
    output = run_in_process(config_for(emulator, max_retries=12), streams)
    for stream in streams:
        since = {"since": ANCHOR, "until": NOW} if stream.startswith(("incident", "log")) else {}
        assert_matches_truth(
            stream, output.records.get(stream, []), emulator.truth(stream, **since)
        )
    for stream in ("incidents", "log_entries", "users"):
        ids = [r["id"] for r in output.records[stream]]
        assert len(ids) == len(set(ids)), f"duplicates in {stream}"
    faults = emulator.stats()["faults"]
    for kind in ("429_headers", "429_bare", "drop"):
        assert faults.get(kind, 0) > 0, faults
    assert sum(faults.get(code, 0) for code in ("500", "502", "503")) > 0, faults


def test_rate_and_concurrency_caps_hold(emulator_factory) -> None:
    emulator = emulator_factory(seed=4, incidents=600, days=60, now=NOW, latency_ms=400)
    config = config_for(emulator, requests_per_second=12, max_concurrency=3)
    # About 60 incidents, 60-odd requests: five seconds at the cap, plenty to reach it.
    config["anchor_date"] = "2026-10-26T00:00:00Z"
    output = run_in_process(config, ["incidents", "incident_alerts"])
    assert output.records["incident_alerts"]
    stats = emulator.stats()
    assert stats["requests"] > 40
    assert stats["peak_per_second"] <= 12, stats["peak_per_second"]
    # 400 ms per answer at 12 req/s would need 4.8 in flight: the cap is reached, not passed.
    assert stats["peak_in_flight"] == 3


def test_bad_token_fails_in_one_line_without_the_token(emulator_factory, tmp_path) -> None:
    emulator = emulator_factory(seed=1, incidents=50, days=30, now=NOW)
    output = run_process(
        {**config_for(emulator), "api_token": SECRET}, tmp_path, ["priorities"], timeout=120
    )
    assert output.returncode != 0
    lines = [line for line in output.stderr.splitlines() if line.startswith("tap-pagerduty:")]
    assert len(lines) == 1, output.stderr
    assert "priorities" in lines[0] and "/priorities" in lines[0] and "401" in lines[0]
    assert "Traceback" not in output.stderr
    assert SECRET not in output.stderr


@pytest.mark.parametrize("status", [402, 403, 404, 410])
def test_refused_core_stream_names_stream_path_and_message(status: int) -> None:
    body = {"error": {"message": f"Refused {status}", "code": 2010, "errors": ["nope"]}}
    config = {"api_token": SECRET, "api_url": "https://pd.test"}
    with requests_mock.Mocker() as mock:
        mock.get("https://pd.test/teams", status_code=status, json=body)
        with pytest.raises(PagerDutyAPIError) as error:
            run_in_process(config, ["teams"])
    message = str(error.value)
    assert "teams" in message and "/teams" in message and str(status) in message
    assert f"Refused {status}" in message and "nope" in message
    assert SECRET not in message and "\n" not in message


@pytest.mark.parametrize("status", [402, 403, 404, 410])
def test_optional_stream_without_plan_or_scope_is_skipped(status: int, caplog) -> None:
    config = {"api_token": SECRET, "api_url": "https://pd.test"}
    body = {"error": {"message": "Account does not have the ability", "code": 2014}}
    with requests_mock.Mocker() as mock:
        mock.get("https://pd.test/extensions", status_code=status, json=body)
        mock.get(
            "https://pd.test/priorities",
            json={"priorities": [{"id": "P1"}], "more": False, "total": 1},
        )
        output = run_in_process(config, ["extensions", "priorities"])
    assert output.records.get("extensions") is None
    assert [r["id"] for r in output.records["priorities"]] == ["P1"]
    messages = [r.getMessage() for r in caplog.records]
    warnings = [m for m in messages if "Skipping optional stream" in m]
    assert len(warnings) == 1 and "extensions" in warnings[0] and str(status) in warnings[0]


def test_optional_stream_refused_after_answering_fails_the_run() -> None:
    """A refusal once the endpoint has answered is not about availability: no silent skip."""
    config = {"api_token": SECRET, "api_url": "https://pd.test"}
    first = {"extensions": [{"id": f"E{i}"} for i in range(100)], "more": True, "total": 150}
    with requests_mock.Mocker() as mock:
        mock.get(
            re.compile(r"https://pd.test/extensions\?.*offset=0"), json=first, complete_qs=False
        )
        mock.get(
            re.compile(r"https://pd.test/extensions\?.*offset=99"),  # pages overlap by one
            status_code=404,
            json={"error": {"message": "Not Found", "code": 2100}},
        )
        with pytest.raises(PagerDutyAPIError, match="HTTP 404"):
            run_in_process(config, ["extensions"])


def test_optional_streams_are_declared_by_their_classes() -> None:
    from tap_pagerduty.streams import OPTIONAL_STREAMS, STREAM_TYPES

    names = {cls.name for cls in STREAM_TYPES}
    core = names - OPTIONAL_STREAMS
    assert {"users", "teams", "services", "incidents", "log_entries", "oncalls"} <= core
    # Products, plan features and scopes not every account has; endpoints PagerDuty retired.
    assert {"rulesets", "audit_records", "licenses", "analytics_metrics_teams"} <= OPTIONAL_STREAMS
    assert len(OPTIONAL_STREAMS) == 21


@pytest.mark.parametrize(
    ("config", "host", "auth"),
    [
        ({"api_token": "t1", "region": "eu"}, "api.eu.pagerduty.com", "Token token=t1"),
        ({"oauth_token": "o1"}, "api.pagerduty.com", "Bearer o1"),
        ({"api_token": "t2", "api_url": "https://proxy.test/pd"}, "proxy.test", "Token token=t2"),
    ],
)
def test_region_api_url_and_auth_header(config: dict, host: str, auth: str) -> None:
    with requests_mock.Mocker() as mock:
        mock.get(
            re.compile(r"https://[^/]+(/pd)?/priorities"),
            json={"priorities": [{"id": "P1"}], "more": False, "total": 1},
        )
        run_in_process(config, ["priorities"])
    request = mock.request_history[0]
    assert request.hostname == host
    assert request.headers["Authorization"] == auth
    assert request.headers["Accept"] == "application/vnd.pagerduty+json;version=2"
    assert request.method == "GET"


def test_token_never_appears_at_debug_level(emulator_factory, tmp_path) -> None:
    emulator = emulator_factory(
        seed=2, incidents=60, days=40, now=NOW, tokens=(SECRET,), fault_5xx=0.05
    )
    config = {**config_for(emulator), "api_token": SECRET}
    output = run_process(
        config,
        tmp_path,
        ["users", "incidents", "notifications"],
        extra_args=("--log-level", "debug"),
    )
    assert output.returncode == 0, output.stderr[-2000:]
    assert "DEBUG" in output.stderr  # debug logging was really on
    assert output.records["incidents"]
    assert SECRET not in output.stderr
    assert SECRET not in json.dumps(output.records)
    assert SECRET not in json.dumps(output.states)

"""The HTTP engine is the one way to the wire, and it stands without the Tap class.

A request's walk (look-ahead, build, retry, throttle slot, send, check, decode) is in
`engine.py` alone: these tests drive an engine built from settings and a logger only, with
requests-mock for PagerDuty, and check that no other module sends or throttles requests.
"""

from __future__ import annotations

import ast
import logging
import typing as t
from pathlib import Path

import pytest
import requests_mock

from tap_pagerduty import engine as engine_module
from tap_pagerduty.engine import Engine
from tap_pagerduty.errors import PagerDutyAPIError, RequestFailedError
from tap_pagerduty.settings import Settings
from tap_pagerduty.throttle import Stopped

PACKAGE = Path(engine_module.__file__).parent
URL = "http://127.0.0.1:9"
TOKEN = "engine-test-token"


class Caller:
    """The least a stream must offer the engine: a name and its fixed query parameters."""

    name = "widgets"
    path = "/widgets"
    extra_params: t.ClassVar[dict[str, t.Any]] = {"include[]": ["a", "b"]}
    selected = True
    parent_stream_type = None


def standalone_engine(**config: t.Any) -> Engine:
    settings = Settings.from_config({"api_token": TOKEN, "api_url": URL, **config})
    return Engine(settings, logging.getLogger("test-engine"), streams=dict)


def test_an_engine_needs_no_tap_and_builds_requests_as_pagerduty_expects() -> None:
    engine = standalone_engine()
    with requests_mock.Mocker() as mock:
        mock.get(f"{URL}/widgets", json={"widgets": [{"id": "W1"}]})
        payload = engine.fetch(
            t.cast("t.Any", Caller()), "/widgets", {"since": "2026-01-01T00:00:00Z"}
        )
    assert payload == {"widgets": [{"id": "W1"}]}
    sent = mock.request_history[0]
    assert sent.method == "GET"
    assert sent.headers["Authorization"] == f"Token token={TOKEN}"
    assert sent.headers["Accept"] == "application/vnd.pagerduty+json;version=2"
    # `[]` and `:` stay readable; list values repeat their key; times keep their Z.
    assert sent.url.split("?", 1)[1] == "include[]=a&include[]=b&since=2026-01-01T00:00:00Z"


def test_an_analytics_body_makes_the_only_post() -> None:
    engine = standalone_engine()
    with requests_mock.Mocker() as mock:
        mock.post(f"{URL}/analytics/raw/incidents", json={"data": []})
        engine.fetch(t.cast("t.Any", Caller()), "/analytics/raw/incidents", body={"limit": 5})
    assert mock.request_history[0].json() == {"limit": 5}


def test_each_attempt_takes_a_throttle_slot_and_a_429_waits_ratelimit_reset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = standalone_engine(max_retries=3)
    slots = []
    original = engine.throttle.acquire

    def counting_acquire() -> None:
        slots.append(1)
        original()

    monkeypatch.setattr(engine.throttle, "acquire", counting_acquire)
    pauses: list[float] = []
    monkeypatch.setattr(engine.throttle, "pause", pauses.append)
    with requests_mock.Mocker() as mock:
        mock.get(
            f"{URL}/widgets",
            [
                {"status_code": 503, "json": {}},
                {"status_code": 429, "json": {}, "headers": {"ratelimit-reset": "0"}},
                {"json": {"widgets": []}},
            ],
        )
        assert engine.fetch(t.cast("t.Any", Caller()), "/widgets") == {"widgets": []}
    assert len(mock.request_history) == 3
    assert len(slots) == 3  # retries included
    assert pauses == [0.0]  # every thread holds for PagerDuty's reset


def test_a_refusal_is_one_line_and_a_401_stops_every_later_request() -> None:
    engine = standalone_engine()
    with requests_mock.Mocker() as mock:
        mock.get(f"{URL}/widgets", status_code=401, json={"error": {"message": "Unauthorized"}})
        with pytest.raises(PagerDutyAPIError) as refused:
            engine.fetch(t.cast("t.Any", Caller()), "/widgets")
        message = str(refused.value)
        assert message.startswith("widgets: GET /widgets failed with HTTP 401: Unauthorized")
        assert "\n" not in message and TOKEN not in message
        assert engine.throttle.stopped
        later = engine.submit(engine.fetch, Caller(), "/widgets")
        with pytest.raises(Stopped):
            later.result(timeout=5)
    assert len(mock.request_history) == 1


def test_retries_that_run_out_name_the_stream_the_path_and_the_count() -> None:
    engine = standalone_engine(max_retries=1)
    with requests_mock.Mocker() as mock:
        mock.get(f"{URL}/widgets", status_code=502, json={})
        with pytest.raises(
            RequestFailedError, match=r"^widgets: GET /widgets failed with HTTP 502"
        ):
            engine.fetch(t.cast("t.Any", Caller()), "/widgets")
    assert len(mock.request_history) == 2


def sources() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text())
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def attribute_calls(tree: ast.Module) -> set[str]:
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


def test_only_the_engine_puts_requests_on_the_wire() -> None:
    """Sending, throttling, sessions and worker threads are called in `engine.py` (and the
    OAuth token request, which the engine throttles and retries, in `oauth.py`) only."""
    wire = {"send", "request_slot", "Session", "prepare_request", "ThreadPoolExecutor"}
    offenders = {
        name: sorted(attribute_calls(tree) & wire)
        for name, tree in sources().items()
        if name not in ("engine.py", "oauth.py") and attribute_calls(tree) & wire
    }
    assert not offenders, offenders


def test_no_stream_climbs_into_the_tap_for_http() -> None:
    """Streams reach the throttle, pool, clock and look-ahead through `self.engine` only; the
    Tap class holds none of them."""
    from tap_pagerduty.tap import TapPagerDuty

    http = {"throttle", "clock", "submit", "prefetch", "lookahead", "stop", "_pool", "session"}
    offenders = []
    for name, tree in sources().items():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in http
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "tap"
            ):
                offenders.append(f"{name}:{node.lineno}: tap.{node.attr}")
    assert not offenders, offenders
    assert not http & set(vars(TapPagerDuty)), http & set(vars(TapPagerDuty))

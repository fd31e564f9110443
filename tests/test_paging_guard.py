"""Paging that contradicts itself ends the stream with one clear error, never a loop.

A proxy that caches, a gateway that rewrites, or an API bug can answer `more: true` forever.
Each case is driven through a whole sync with requests-mock: the sync stops after a few
requests, with a `PagingError` naming the stream and the path, and no record twice.
"""

from __future__ import annotations

import io
import re
import time
import typing as t
from contextlib import redirect_stdout
from urllib.parse import parse_qs, urlparse

import pytest
import requests_mock

from tap_pagerduty.errors import PagerDutyAPIError, PagingError
from tap_pagerduty.streams import STREAM_TYPES
from tap_pagerduty.tap import TapPagerDuty
from tests.support.tap_runs import SyncOutput, catalog_for, config_for, run_process

BASE = "https://pd.test"
DATE = "Sun, 01 Nov 2026 00:00:00 GMT"
CONFIG = {
    "api_token": "t",
    "api_url": BASE,
    "anchor_date": "2026-10-20T00:00:00Z",
    "requests_per_second": 500,
}


def replying_with(answer: t.Callable[[str, dict], dict]) -> t.Callable[..., dict]:
    """A requests-mock callback: `answer(path, query)`, with PagerDuty's `Date` header."""

    def reply(request: t.Any, context: t.Any) -> dict:
        context.headers["Date"] = DATE
        query = {k: v[-1] for k, v in parse_qs(urlparse(request.url).query).items()}
        return answer(urlparse(request.url).path, query)

    return reply


def sync_until_error(streams: list[str], answer: t.Callable[[str, dict], dict]) -> tuple:
    """Run a sync of `streams` where every GET is answered by `answer(path, query)`; return
    the error, the records the tap wrote before it, and the number of requests."""

    tap = TapPagerDuty(config=CONFIG, catalog=catalog_for(streams), parse_env_config=False)
    buffer = io.StringIO()
    with requests_mock.Mocker() as mock, redirect_stdout(buffer):
        mock.get(re.compile(f"{BASE}/.*"), json=replying_with(answer))
        with pytest.raises(PagerDutyAPIError) as error:
            tap.sync_all()
        tap.message_writer.flush()  # what reached the target before the error
        settle(mock)
        requests = mock.call_count
    written = SyncOutput()
    written.add_lines(buffer.getvalue())
    return error.value, written, requests


def settle(mock: requests_mock.Mocker) -> None:
    """Wait until requests already in flight on worker threads (children fetched ahead)
    are answered, so that none outlives the mock."""
    count = -1
    for _ in range(50):
        if count == mock.call_count:
            return
        count = mock.call_count
        time.sleep(0.05)


def ids(output: SyncOutput, stream: str) -> list[str]:
    return [r["id"] for r in output.records.get(stream, [])]


def same_page_forever(key: str) -> t.Callable[[str, dict], dict]:
    """A caching proxy: every request gets the same page, which says more follow."""
    page = [{"id": f"{key}-1"}, {"id": f"{key}-2"}]
    return lambda path, query: {key: page, "more": True, "total": None, "next_cursor": "next"}


@pytest.mark.parametrize(
    ("stream", "key"),
    [
        ("priorities", "priorities"),  # classic listing without total
        ("log_entries", "log_entries"),  # time windows
        ("audit_records", "records"),  # cursor paging
    ],
)
def test_a_page_repeating_forever_stops_the_stream_at_once(stream: str, key: str) -> None:
    error, output, requests = sync_until_error([stream], same_page_forever(key))
    assert isinstance(error, PagingError), error
    message = str(error)
    assert stream in message and "\n" not in message
    assert "repeats the previous page" in message or "does not advance" in message, message
    assert requests <= 6, requests  # a first page, one repeat (plus windows asked ahead)
    assert ids(output, stream) == [f"{key}-1", f"{key}-2"]  # no record twice


def test_more_beyond_total_stops_the_stream() -> None:
    """Every page is new and says `more`, but the listing counts 250 records."""

    def answer(path: str, query: dict) -> dict:
        offset, limit = int(query["offset"]), int(query["limit"])
        page = [{"id": f"P{i}"} for i in range(offset, offset + limit)]
        return {"priorities": page, "more": True, "total": 250 if "total" in query else None}

    error, output, requests = sync_until_error(["priorities"], answer)
    assert isinstance(error, PagingError), error
    assert "beyond PagerDuty's own total of 250" in str(error), error
    assert "/priorities" in str(error)
    # Offsets 0, 99, 198 (known from total; pages overlap by one record); the page at 298
    # (asking for the total again) is refused.
    assert requests == 4
    got = ids(output, "priorities")
    assert got == [f"P{i}" for i in range(298)]


def test_a_cursor_that_does_not_advance_stops_the_stream() -> None:
    """New records every page, but the cursor comes back unchanged."""
    pages = iter(range(1_000))

    def answer(path: str, query: dict) -> dict:
        if path != "/audit/records":  # PagerDuty's clock, asked first
            return {"abilities": []}
        n = next(pages)
        return {"records": [{"id": f"S{n}"}], "next_cursor": "same"}

    error, output, requests = sync_until_error(["audit_records"], answer)
    assert isinstance(error, PagingError), error
    assert "next_cursor 'same' does not advance" in str(error), error
    assert requests == 3  # PagerDuty's clock (the window ends at now), a page, one repeat
    assert ids(output, "audit_records") == ["S0", "S1"]


def test_status_dashboards_are_read_in_one_request_without_paging_parameters(caplog) -> None:
    """The spec declares no paging parameter: a `next_cursor` is not followed but said."""
    tap = TapPagerDuty(
        config=CONFIG, catalog=catalog_for(["status_dashboards"]), parse_env_config=False
    )
    answer = {"status_dashboards": [{"id": "S0"}, {"id": "S1"}], "next_cursor": "more"}
    buffer = io.StringIO()
    with requests_mock.Mocker() as mock, redirect_stdout(buffer):
        mock.get(f"{BASE}/status_dashboards", json=answer, headers={"Date": DATE})
        tap.sync_all()
        assert [r.query for r in mock.request_history] == [""]
    written = SyncOutput()
    written.add_lines(buffer.getvalue())
    assert ids(written, "status_dashboards") == ["S0", "S1"]
    assert "only the first 2 are synced" in caplog.text


def test_a_cache_that_ignores_offset_fails_the_cli_in_one_line(emulator_factory, tmp_path):
    """The emulator answers /priorities as a cache that ignores `offset` would."""
    emulator = emulator_factory(
        seed=1, incidents=30, days=20, now="2026-11-01T00:00:00Z", stale_paging=["/priorities"]
    )
    output = run_process(config_for(emulator, page_size=2), tmp_path, ["priorities"])
    assert output.returncode != 0
    lines = [line for line in output.stderr.splitlines() if line.startswith("tap-pagerduty:")]
    assert len(lines) == 1, output.stderr[-3000:]
    assert "priorities: GET /priorities" in lines[0] and "repeats the previous page" in lines[0]
    assert "Traceback" not in output.stderr
    got = ids(output, "priorities")
    assert len(got) == 2 and len(set(got)) == 2  # the first page, once
    # The first page, then the pages its total announced (asked together, each starting on
    # the last record of the one before: a stride of 1 for pages of 2); nothing more.
    announced = len(emulator.truth("priorities")) - 1
    assert sum(emulator.stats()["by_path"]["/priorities"].values()) <= 1 + announced


def test_analytics_starting_after_that_does_not_advance_stops_the_stream() -> None:
    """The analytics query pages with `starting_after` = the previous page's `last`."""
    rows = iter(range(1_000))

    def answer(request: t.Any, context: t.Any) -> dict:
        context.headers["Date"] = DATE
        n = next(rows)
        return {"data": [{"id": f"A{n}"}], "more": True, "last": "stuck"}

    tap = TapPagerDuty(
        config=CONFIG, catalog=catalog_for(["analytics_incidents"]), parse_env_config=False
    )
    with requests_mock.Mocker() as mock, redirect_stdout(io.StringIO()):
        mock.get(re.compile(f"{BASE}/.*"), json={}, headers={"Date": DATE})
        mock.post(f"{BASE}/analytics/raw/incidents", json=answer)
        with pytest.raises(PagingError, match=r"POST /analytics/raw/incidents.*'stuck'"):
            tap.sync_all()
        settle(mock)
        assert mock.call_count <= 3


EVERY_KEY = {
    "records",
    "data",
    "members",
    "notification_rules",
    "orchestrations",
    "alerts",
    "notes",
    *(cls.name for cls in STREAM_TYPES),
}


@pytest.mark.parametrize("stream", [cls.name for cls in STREAM_TYPES])
def test_every_stream_stops_quickly_when_every_page_says_more(stream: str) -> None:
    """Like a mock of PagerDuty's OpenAPI examples: every answer is the same example page,
    which says `more: true` (and carries a cursor). No stream may keep paging."""
    times = {"created_at": "2026-10-25T00:00:00Z", "updated_at": "2026-10-26T00:00:00Z"}
    example = [{"id": "EXAMPLE1", "name": "one", **times}, {"id": "EXAMPLE2", **times}]
    page = {
        **{key: example for key in EVERY_KEY},
        "abilities": ["sso"],
        "more": True,
        "total": None,
        "next_cursor": "next",
        "last": "EXAMPLE2",
    }
    tap = TapPagerDuty(config=CONFIG, catalog=catalog_for([stream]), parse_env_config=False)
    with requests_mock.Mocker() as mock, redirect_stdout(io.StringIO()):
        mock.get(re.compile(f"{BASE}/.*"), json=page, headers={"Date": DATE})
        mock.post(re.compile(f"{BASE}/.*"), json=page, headers={"Date": DATE})
        try:
            tap.sync_all()
        except PagingError as error:
            assert "\n" not in str(error)
        settle(mock)
        assert mock.call_count <= 12, (stream, mock.call_count)


def answer_and_count(answer: t.Callable[[str, dict], dict]) -> tuple[SyncOutput, int]:
    """A sync of `priorities` that must succeed: its output and its number of requests."""

    tap = TapPagerDuty(config=CONFIG, catalog=catalog_for(["priorities"]), parse_env_config=False)
    buffer = io.StringIO()
    with requests_mock.Mocker() as mock, redirect_stdout(buffer):
        mock.get(re.compile(f"{BASE}/.*"), json=replying_with(answer))
        tap.sync_all()
        settle(mock)
        requests = mock.call_count
    output = SyncOutput()
    output.add_lines(buffer.getvalue())
    return output, requests


def test_a_listing_that_grows_while_it_is_read_is_not_a_paging_fault() -> None:
    """150 records when the first page is read, 250 by the time the last one is: the pages
    past the first total are followed (each asking for the new total) and nothing is lost."""

    def answer(path: str, query: dict) -> dict:
        offset, limit = int(query["offset"]), int(query["limit"])
        size = 150 if offset == 0 else 250
        page = [{"id": f"P{i}"} for i in range(offset, min(offset + limit, size))]
        more = offset + len(page) < size
        return {"priorities": page, "more": more, "total": size if "total" in query else None}

    output, requests = answer_and_count(answer)
    assert ids(output, "priorities") == [f"P{i}" for i in range(250)]
    assert requests == 3


def test_reaching_the_offset_cap_with_more_to_come_is_said(caplog) -> None:
    """No total, every page says more: paging stops at PagerDuty's cap and says so."""

    def answer(path: str, query: dict) -> dict:
        offset, limit = int(query["offset"]), int(query["limit"])
        page = [{"id": f"P{i}"} for i in range(offset, offset + limit)]
        return {"priorities": page, "more": True, "total": None}

    output, requests = answer_and_count(answer)
    assert len(ids(output, "priorities")) == 10_000 == len(set(ids(output, "priorities")))
    assert requests == 100
    warnings = [r.getMessage() for r in caplog.records if "offset paging reaches" in r.getMessage()]
    assert len(warnings) == 1 and "/priorities" in warnings[0], warnings

"""PagerDuty's clock: only believable, successful answers move it; bookmarks never pass it."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from tap_pagerduty.clock import ServerClock
from tap_pagerduty.windows import parse_time
from tests.support.tap_runs import ANCHOR, assert_matches_truth, config_for, run_in_process

LOCAL = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
AHEAD_WARNING = "ahead of this machine's clock"


def _clock(caplog) -> ServerClock:
    caplog.set_level(logging.WARNING)
    return ServerClock(logging.getLogger("test-clock"), local_now=lambda: LOCAL)


def _date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def test_only_successful_answers_set_the_clock(caplog) -> None:
    clock = _clock(caplog)
    for status in (401, 404, 429, 500, 503):
        clock.observe(_date(LOCAL - timedelta(minutes=1)), status)
    assert clock.now(probe=lambda: None) == LOCAL  # nothing believable: the local clock
    clock.observe(_date(LOCAL - timedelta(minutes=2)), 200)
    clock.observe(_date(LOCAL - timedelta(minutes=1)), 500)
    assert clock.now(probe=lambda: None) == LOCAL - timedelta(minutes=2)


def test_a_date_far_ahead_warns_once_and_the_local_clock_wins(caplog) -> None:
    clock = _clock(caplog)
    clock.observe(_date(LOCAL - timedelta(seconds=30)), 200)
    clock.observe(_date(LOCAL + timedelta(days=2)), 200)
    clock.observe(_date(LOCAL + timedelta(hours=1)), 200)
    assert clock.now(probe=lambda: None) == LOCAL - timedelta(seconds=30)
    warnings = [r.getMessage() for r in caplog.records if AHEAD_WARNING in r.getMessage()]
    assert len(warnings) == 1, warnings
    # A few minutes ahead is PagerDuty's clock being a little ahead of ours: believed.
    clock.observe(_date(LOCAL + timedelta(minutes=3)), 200)
    assert clock.now(probe=lambda: None) == LOCAL + timedelta(minutes=3)


def test_runs_with_a_skewed_date_still_equal_ground_truth(emulator_factory, caplog) -> None:
    """A proxy stamps a Date days ahead on every 2nd answer, errors included: bookmarks
    stay at PagerDuty's real clock, each run warns once, and the union of three runs with
    changes between them equals ground truth."""
    caplog.set_level(logging.WARNING)
    # The emulator's clock must be behind this machine's, as PagerDuty's is: 3 days behind,
    # moved 24 h between runs.
    now = (int(time.time()) // 3600 - 72) * 3600
    emulator = emulator_factory(
        seed=31,
        incidents=400,
        days=200,
        now=now,
        rate_limit=0,
        fault_5xx=0.05,
        date_skew_seconds=5 * 86400,  # two days ahead of this machine
        date_skew_every=2,
    )
    streams = [
        "incidents",
        "log_entries",
        "notifications",
        "audit_records",
        "analytics_incidents",
    ]
    config = config_for(emulator, max_retries=12)
    target: dict[str, list[dict]] = {}
    state = None
    for run in range(3):
        if run:
            emulator.advance(24)
        caplog.clear()
        output = run_in_process(config, streams, state)
        for stream, records in output.records.items():
            target.setdefault(stream, []).extend(records)
        warnings = [r for r in caplog.records if AHEAD_WARNING in r.getMessage()]
        assert len(warnings) == 1, f"run {run}: {[r.getMessage() for r in warnings]}"
        state = output.last_state
        assert state is not None
        limit = datetime.fromtimestamp(emulator.now + 1, timezone.utc)
        for stream in streams:
            bookmark = state["bookmarks"][stream]["replication_key_value"]
            assert parse_time(bookmark) <= limit, f"run {run}: {stream} bookmark {bookmark}"
    for stream in streams:
        since = {} if stream == "audit_records" else {"since": ANCHOR}
        assert_matches_truth(stream, target.get(stream, []), emulator.truth(stream, **since))
    assert emulator.stats()["faults"], "no fault was injected"

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from tap_pagerduty.windows import OFFSET_CAP, Window, iso_z, parse_time, windows_between

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_windows_cover_the_range_without_gaps_or_overlap() -> None:
    end = T0 + timedelta(days=400)
    windows = list(windows_between(T0, end, timedelta(days=180)))
    assert windows[0].start == T0
    assert windows[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert all(w.span <= timedelta(days=180) for w in windows)


def test_split_makes_parts_under_the_cap() -> None:
    window = Window(T0, T0 + timedelta(days=30))
    parts = window.split(25_000)
    assert len(parts) >= 25_000 // (OFFSET_CAP // 2)
    assert parts[0].start == window.start and parts[-1].end == window.end
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))


def test_times_are_sent_in_utc_with_z() -> None:
    moment = parse_time("2026-03-01T04:05:06-08:00")
    assert iso_z(moment) == "2026-03-01T12:05:06Z"
    assert Window(T0, T0 + timedelta(hours=1)).params() == {
        "since": "2025-01-01T00:00:00Z",
        "until": "2025-01-01T01:00:00Z",
    }


def test_metrics_windows_are_never_longer_than_365_days() -> None:
    """Twelve months holding a 29 February are 366 days: PagerDuty's maximum is one year."""
    from tap_pagerduty.streams.metrics import unit_windows

    start, end = parse_time("2023-01-15T00:00:00Z"), parse_time("2029-06-01T00:00:00Z")
    for unit in ("day", "week", "month"):
        windows = list(unit_windows(start, end, unit))
        assert all(w.span <= timedelta(days=365) for w in windows), unit
        assert all(a.end == b.start for a, b in itertools.pairwise(windows)), unit
        assert windows[-1].end == end
    months = list(unit_windows(start, end, "month"))
    assert all(w.start.day == 1 and w.start.hour == 0 for w in months)
    leap = next(w for w in months if w.start <= parse_time("2024-02-29T00:00:00Z") < w.end)
    assert leap.span == timedelta(days=335), leap  # eleven months, not twelve


def test_schedule_users_list_the_calendar_feed_urls() -> None:
    import json
    from pathlib import Path

    schema = json.loads((Path(__file__).parents[1] / "schemas" / "schedule_users.json").read_text())
    assert {"http_cal_url", "web_cal_url"} <= set(schema["properties"])

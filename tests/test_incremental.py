"""Incremental syncs never miss a change; backfills of any size resume without gaps."""

from __future__ import annotations

import json
import random
from collections import Counter
from urllib.parse import parse_qs

from tap_pagerduty.streams import INCREMENTAL_STREAMS
from tests.support.kills import gate_to, run_tap
from tests.support.tap_runs import (
    ANCHOR,
    assert_matches_truth,
    catalog_for,
    config_for,
    run_in_process,
)

NOW = "2026-11-01T00:00:00Z"
HISTORY = ["incidents", "incident_alerts", "incident_notes", "log_entries", "notifications"]


def test_three_syncs_with_changes_between_them_match_ground_truth(emulator_factory) -> None:
    emulator = emulator_factory(seed=21, incidents=900, days=420, now=NOW, rate_limit=0)
    config = config_for(emulator)
    target: dict[str, list[dict]] = {}  # what a target keyed by primary key receives
    state = None
    old_open = {
        i["id"] for i in emulator.truth("incidents", since=ANCHOR) if i["status"] != "resolved"
    }
    for run in range(3):
        output = run_in_process(config, HISTORY, state)
        for stream, records in output.records.items():
            target.setdefault(stream, []).extend(records)
        for stream in HISTORY:
            truth = emulator.truth(stream, since=ANCHOR)
            assert_matches_truth(stream, target.get(stream, []), truth, f"run {run}")
        for stream in ("incidents", "log_entries", "notifications"):
            ids = Counter(r["id"] for r in output.records.get(stream, []))
            assert not [i for i, n in ids.items() if n > 1], f"duplicates in {stream}, run {run}"
        state = output.last_state
        emulator.advance(30)
    # Incidents opened weeks before the first sync were resolved after it, and we have that.
    final = {i["id"]: i for i in emulator.truth("incidents", since=ANCHOR)}
    assert any(final[i]["status"] == "resolved" for i in old_open)


def test_run_with_nothing_new_costs_one_request_per_incremental_stream(emulator_factory) -> None:
    emulator = emulator_factory(seed=22, incidents=400, days=200, now=NOW, rate_limit=0)
    config = config_for(emulator)
    incremental = list(INCREMENTAL_STREAMS)
    first = run_in_process(config, ["priorities", *incremental])
    emulator.reset_stats()
    again = run_in_process(config, ["priorities", *incremental], first.last_state)
    by_path = {path: sum(c.values()) for path, c in emulator.stats()["by_path"].items()}
    # PagerDuty's clock did not move, so some streams have nothing to ask at all; none asks
    # more than once. /log_entries serves two streams: the incidents change feed and itself.
    assert by_path.pop("/priorities") == 1
    assert by_path.pop("/log_entries", 0) <= 2
    # Analytics serves two: its own stream and the incidents feed for unlogged changes, which
    # asks even when the clock has not moved (analytics lists changes late).
    assert by_path.pop("/analytics/raw/incidents", 0) <= 2
    allowed = {"/notifications", "/audit/records", "/change_events", "/incidents"}
    assert set(by_path) <= allowed, by_path
    assert all(count <= 1 for count in by_path.values()), by_path
    stats = emulator.stats()
    print(f"\nno-change run: {stats['requests']} requests: {stats['by_path']}")
    # Only analytics re-reads: the rows updated in the last `analytics_lag_hours` (24).
    rows = again.records.pop("analytics_incidents", [])
    assert all(r["updated_at"] >= "2026-10-31T00:00:00Z" for r in rows), rows[:1]
    assert sum(len(v) for k, v in again.records.items() if k != "priorities") == 0


def test_backfill_of_two_years_with_a_dense_month(emulator_factory) -> None:
    # Two years of 6-month windows, one month of which holds more than twice PagerDuty's
    # offset cap (10,000): that window is split, and split again, before any of its records
    # are read, and no request is answered 400 (what an offset past the cap gets).
    emulator = emulator_factory(
        seed=23,
        incidents=2_000,
        days=730,
        now=NOW,
        rate_limit=0,
        bursts=[("2025-06-01", 30, 21_000)],
    )
    config = config_for(emulator, anchor_date="2024-11-01T00:00:00Z", requests_per_second=1000)
    output = run_in_process(config, ["incidents"])
    truth = emulator.truth("incidents", since="2024-11-01T00:00:00Z")
    dense = [i for i in truth if "2025-06-01" <= i["created_at"] < "2025-07-01"]
    assert len(dense) > 2 * 10_000 and len(truth) >= 22_000
    assert_matches_truth("incidents", output.records["incidents"], truth)
    stats = emulator.stats()
    statuses = {s for by in stats["by_path"].values() for s in by}
    assert statuses == {"200"}, stats["by_path"]
    print(f"\nbackfill: {len(truth)} incidents in {stats['requests']} requests")
    assert stats["requests"] <= len(truth) / 100 * 1.1 + 20


def _window_requests(emulator) -> list[tuple[str, str, str]]:
    """(stream, since, until) of every windowed request's first page, in arrival order."""
    out = []
    for _t, _method, path, query, _status in emulator.stats(log=True)["log"]:
        q = parse_qs(query)
        if "since" in q and "until" in q and q.get("offset", ["0"]) == ["0"]:
            # /log_entries serves two streams: the incidents change feed includes incidents.
            stream = "incidents" if "include[]" in q else path.strip("/")
            out.append((stream, q["since"][0], q["until"][0]))
    return out


def test_backfill_killed_anywhere_resumes_without_gaps(emulator_factory, tmp_path) -> None:
    emulator = emulator_factory(seed=24, incidents=2500, days=730, now=NOW)
    streams = ["incidents", "log_entries", "notifications"]
    rng = random.Random(7)
    union: dict[str, list[dict]] = {}
    state = None
    completed: set[tuple[str, str, str]] = set()
    with gate_to(emulator) as gate:
        # Kills land on request counts, so the pace changes only how long the drill takes.
        config = config_for(emulator, anchor_date="2024-11-01T00:00:00Z", requests_per_second=250)
        (tmp_path / "config.json").write_text(json.dumps({**config, "api_url": gate.url}))
        (tmp_path / "catalog.json").write_text(json.dumps(catalog_for(streams)))
        for attempt in range(11):
            emulator.reset_stats()
            # Killed after a random number of requests: anywhere in the sync, on any machine.
            kill_after = None if attempt == 10 else rng.randint(15, 120)
            output = run_tap(tmp_path, state, gate, kill_after)
            for stream, records in output.records.items():
                union.setdefault(stream, []).extend(records)
            requested = _window_requests(emulator)
            again = completed & set(requested)
            assert not again, f"completed windows requested again: {sorted(again)[:3]}"
            state = output.last_state or state
            completed |= _completed_windows(requested, state)
            if output.returncode == 0:
                break
    assert output.returncode == 0, "the last, unkilled run must finish"
    assert attempt >= 3, f"killed only {attempt} times: the drill did not test resuming"
    for stream in streams:
        assert_matches_truth(
            stream, union[stream], emulator.truth(stream, since="2024-11-01T00:00:00Z")
        )


def _completed_windows(requested, state) -> set[tuple[str, str, str]]:
    """Requested windows that end at or before the bookmark the state records."""
    bookmarks = (state or {}).get("bookmarks", {})
    done = set()
    for stream, since, until in requested:
        bookmark = bookmarks.get(stream, {})
        # While the incidents backfill runs, its progress is `backfill_from`.
        mark = bookmark.get("backfill_from") or bookmark.get("replication_key_value")
        if mark and until <= mark:
            done.add((stream, since, until))
    return done


def test_backfill_logs_one_progress_line_per_window(emulator_factory, tmp_path) -> None:
    from tests.support.tap_runs import run_process

    emulator = emulator_factory(seed=25, incidents=300, days=700, now=NOW, rate_limit=0)
    config = config_for(emulator, anchor_date="2025-01-01T00:00:00Z")
    output = run_process(config, tmp_path, ["incidents", "notifications"])
    assert output.returncode == 0, output.stderr[-2000:]
    lines = [line for line in output.stderr.splitlines() if "% of the range done" in line]
    incident_lines = [line for line in lines if "incidents: window" in line]
    # 2025-01-01 .. 2026-11-01 in 180-day windows: 4 windows, the last one at 100 %.
    assert len(incident_lines) == 4, lines
    assert incident_lines[-1].endswith("100.0% of the range done")
    assert f"{len(output.records['incidents'])} records so far" in incident_lines[-1]
    assert len([line for line in lines if "notifications: window" in line]) == 23


def test_one_read_of_the_change_log_serves_log_entries_and_the_incidents_feed(
    emulator_factory,
) -> None:
    emulator = emulator_factory(seed=26, incidents=300, days=200, now=NOW, rate_limit=0)
    config = config_for(emulator)
    streams = ["incidents", "log_entries"]
    first = run_in_process(config, streams)
    emulator.advance(2)
    emulator.reset_stats()
    again = run_in_process(config, streams, first.last_state)
    log_requests = emulator.stats(log=True)["by_path"]["/log_entries"]
    assert sum(log_requests.values()) == 1, log_requests  # one 31-day window, one page
    for stream in streams:
        assert_matches_truth(
            stream,
            first.records[stream] + again.records.get(stream, []),
            emulator.truth(stream, since=ANCHOR),
        )
    # The entries are emitted with incident references, as PagerDuty lists them.
    assert all(e["incident"]["type"] == "incident_reference" for e in again.records["log_entries"])

"""Issue 22: the state is declared (typed, versioned, validated before any request), trusts
PagerDuty's clock for every saved time, and stays bounded; config files that are not a JSON
object are one line. Each test reproduces a finding of the issue on a small account."""

from __future__ import annotations

import json
import logging
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from tap_pagerduty.state import (
    FORMAT,
    MAX_OVERLAP_IDS,
    MAX_VERSIONS,
    AnalyticsIncidentsState,
    Bookmark,
    IncidentsState,
    NotedLog,
    OverlapBookmark,
    SilentFeeds,
    StateError,
    bookmark_of,
)
from tap_pagerduty.windows import parse_time
from tests.support.cli import run_cli
from tests.support.tap_runs import (
    assert_matches_truth,
    config_for,
    run_in_process,
    run_process,
)

NOW = "2026-11-01T00:00:00Z"
FIXTURE = Path(__file__).parent / "fixtures" / "state_0_1.json"
FUTURE = "2030-01-01T00:00:00Z"


def _cli(tmp_path: Path, config_text: str | None, *extra: str) -> subprocess.CompletedProcess:
    args = [*extra]
    if config_text is not None:
        (tmp_path / "config.json").write_text(config_text)
        args += ["--config", str(tmp_path / "config.json")]
    return run_cli(args, timeout=60)


# -- finding 1: a setting date later than PagerDuty's clock ---------------------------------


def test_anchor_later_than_pagerduty_clock_is_refused_and_bookmarks_nothing(
    emulator_factory, tmp_path
) -> None:
    """PagerDuty's clock 2026-11-01, the machine's later: an anchor of 2026-11-20 passes the
    machine-clock check, so only PagerDuty's clock can refuse it. The old code bookmarked an
    empty window and lost every incident before 2026-11-20 once the anchor was fixed."""
    emulator = emulator_factory(seed=3, incidents=40, days=60, now=NOW, rate_limit=0)
    streams = ["incidents", "log_entries"]
    refused = run_process(
        config_for(emulator, anchor_date="2026-11-20T00:00:00Z"), tmp_path, streams
    )
    assert refused.returncode == 2, refused.stderr[-1500:]
    last = refused.stderr.strip().splitlines()[-1]
    assert (
        "anchor_date" in last and "PagerDuty's clock" in last and "Traceback" not in refused.stderr
    )
    bookmarks = (refused.last_state or {}).get("bookmarks", {})
    assert not any(b.get("replication_key_value") for b in bookmarks.values()), bookmarks
    fixed_anchor = "2026-09-15T00:00:00Z"
    fixed = run_process(
        config_for(emulator, anchor_date=fixed_anchor), tmp_path, streams, refused.last_state
    )
    assert fixed.returncode == 0, fixed.stderr[-1500:]
    for stream in streams:
        truth = emulator.truth(stream, since=fixed_anchor)
        assert truth
        assert_matches_truth(stream, fixed.records.get(stream, []), truth)


# -- finding 2: every saved time is clamped to PagerDuty's clock ----------------------------


def test_every_future_position_is_clamped_and_later_runs_catch_silent_changes(
    emulator_factory, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    emulator = emulator_factory(
        seed=33, incidents=150, days=90, now=NOW, rate_limit=0, silent_changes=20
    )
    config = config_for(emulator, anchor_date="2026-08-01T00:00:00Z")
    streams = ["incidents", "log_entries"]
    first = run_in_process(config, streams)
    state = json.loads(json.dumps(first.last_state))
    incidents = state["bookmarks"]["incidents"]
    incidents["replication_key_value"] = FUTURE
    incidents["silent_from"] = {"open": FUTURE, "analytics": FUTURE, "lookback": FUTURE}
    incidents["versions"] = {"PFUTURE": FUTURE}
    state["bookmarks"]["log_entries"]["replication_key_value"] = FUTURE
    second = run_in_process(config, streams, state)
    warnings = [r.getMessage() for r in caplog.records if "later than PagerDuty" in r.getMessage()]
    assert sorted(w.split(":")[0] for w in warnings) == streams, warnings
    saved = IncidentsState.parse("incidents", second.final_state["bookmarks"]["incidents"])
    clock = parse_time(NOW).replace(second=1)
    for feed, value in saved.feed_positions().items():
        assert value is None or parse_time(value) <= clock, (feed, value)
    assert "PFUTURE" not in saved.versions
    target = {"incidents": first.records["incidents"] + second.records.get("incidents", [])}
    for _run in range(2):  # 48 hours apart, as in the issue
        emulator.advance(48)
        emulator.reset_stats()
        later = run_in_process(config, streams, second.last_state)
        target["incidents"] += later.records.get("incidents", [])
        paths = emulator.stats()["by_path"]
        assert sum(paths.get("/incidents", {}).values()) > 0, paths
        second = later
    truth = emulator.truth("incidents", since="2026-08-01T00:00:00Z")
    assert_matches_truth("incidents", target["incidents"], truth)


# -- findings 7: wrong types inside a bookmark, before any request --------------------------


@pytest.mark.parametrize(
    ("bookmarks", "named"),
    [
        ({"incidents": {"versions": "abc"}}, "versions"),
        ({"incidents": {"versions": {"Q1": 5}}}, "versions"),
        ({"incidents": {"notes_unread": 7}}, "notes_unread"),
        ({"log_entries": {"overlap_ids": 5}}, "overlap_ids"),
        ({"incidents": {"versions": {"Q1": "yesterday"}}}, "versions.Q1"),
        ({"incidents": {"format": 99}}, "format 99"),
        ({"incidents": {"no_such_key": 1}}, "no_such_key"),
        ({"analytics_incidents": {"unfinished_query": "page 2"}}, "unfinished_query"),
    ],
)
def test_wrong_types_in_a_bookmark_are_one_line_before_any_request(
    emulator_factory, tmp_path, bookmarks, named
) -> None:
    emulator = emulator_factory(seed=1, incidents=20, days=20, now=NOW)
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps({"bookmarks": bookmarks}))
    run = _cli(tmp_path, json.dumps(config_for(emulator)), "--state", str(state_path))
    assert run.returncode == 2 and run.stdout == "", run.stderr[-1500:]
    assert emulator.stats()["requests"] == 0
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    stream = next(iter(bookmarks))
    assert last.startswith("tap-pagerduty: state error:") and f"'{stream}'" in last, last
    assert named in last, last


# -- finding 8: config files that are not a JSON object; an empty date ----------------------


@pytest.mark.parametrize("content", ["{not json", "[1,2,3]", "", "  \n", '"text"'])
def test_config_file_that_is_not_a_json_object_is_one_line(tmp_path, content) -> None:
    run = _cli(tmp_path, content)
    assert run.returncode == 2, run.stderr[-1500:]
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "config.json" in lines[0], run.stderr[-1500:]


def test_missing_config_file_is_one_line(tmp_path) -> None:
    run = _cli(tmp_path, None, "--config", str(tmp_path / "nowhere.json"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "nowhere.json" in lines[0], run.stderr


def test_empty_anchor_date_is_refused_not_the_default(tmp_path) -> None:
    run = _cli(tmp_path, json.dumps({"api_token": "x", "anchor_date": ""}))
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert "anchor_date" in last and "empty" in last, run.stderr[-1500:]


# -- migration: the state today's release writes --------------------------------------------


def test_state_of_format_1_is_migrated_and_resumes(emulator_factory) -> None:
    """The states release 0.1 wrote (captured from it, before this format): mid-backfill
    and after an incremental run, both read, migrated and used."""
    saved = json.loads(FIXTURE.read_text())
    for name, state in saved.items():
        incidents = bookmark_of(state, "incidents", IncidentsState)
        assert incidents.format == FORMAT and incidents.replication_key == "updated_at", name
        log = bookmark_of(state, "log_entries", OverlapBookmark)
        assert log.format == FORMAT and log.replication_key_value
        assert "format" not in state["bookmarks"]["incidents"]  # it was format 1
    mid = saved["mid_backfill"]
    assert bookmark_of(mid, "incidents", IncidentsState).backfill_from
    emulator = emulator_factory(seed=5, incidents=120, days=60, now=NOW, rate_limit=0)
    config = config_for(emulator, anchor_date="2026-09-01T00:00:00Z")
    resumed = run_in_process(config, ["incidents", "log_entries"], saved["after_incremental"])
    written = resumed.final_state["bookmarks"]["incidents"]
    assert written["format"] == FORMAT
    assert IncidentsState.parse("incidents", written).replication_key_value


def test_declared_state_round_trips_and_bounds_versions() -> None:
    versions = {
        f"P{i:07d}": f"2026-10-{1 + i % 28:02d}T00:00:00Z" for i in range(MAX_VERSIONS + 50)
    }
    state = IncidentsState(replication_key="updated_at", versions=versions)
    written = state.to_state()
    assert len(written["versions"]) == MAX_VERSIONS
    again = IncidentsState.parse("incidents", json.loads(json.dumps(written)))
    assert again.versions == written["versions"] and again.format == FORMAT
    with pytest.raises(StateError, match="'incidents'"):
        IncidentsState.parse("incidents", {"silent_from": {"open": 3}})


# -- finding 3: the incidents state is bounded across runs ----------------------------------


def test_versions_are_pruned_when_the_lookback_is_off(emulator_factory) -> None:
    """Analytics available, `reconcile_days` 0 (the look-back off): the old code never
    moved the look-back's position, so `versions` was never pruned and grew every run."""
    lag = 2
    emulator = emulator_factory(
        seed=34, incidents=120, days=60, now=NOW, rate_limit=0, analytics_lag_hours=lag
    )
    config = config_for(
        emulator, anchor_date="2026-09-01T00:00:00Z", analytics_lag_hours=lag, reconcile_days=0
    )
    streams = ["incidents", "log_entries"]
    state = None
    sizes = []
    for _run in range(8):
        output = run_in_process(config, streams, state)
        state = output.final_state
        sizes.append(len(json.dumps(state["bookmarks"]["incidents"])))
        emulator.advance(1)
    saved = IncidentsState.parse("incidents", output.final_state["bookmarks"]["incidents"])
    bookmark = saved.position()
    assert bookmark is not None and saved.versions, saved
    oldest = min(parse_time(v) for v in saved.versions.values())
    assert bookmark - oldest <= timedelta(hours=lag + 2), (oldest, bookmark, sizes)
    assert saved.feed_positions()["lookback"] is None


# -- finding 6: analytics rows are emitted again only when they changed ---------------------


def test_analytics_rows_are_not_sent_again_unchanged(emulator_factory) -> None:
    emulator = emulator_factory(
        seed=35, incidents=200, days=60, now=NOW, rate_limit=0, analytics_lag_hours=0
    )
    config = config_for(emulator, anchor_date="2026-09-01T00:00:00Z", analytics_lag_hours=24)
    streams = ["analytics_incidents"]
    first = run_in_process(config, streams)
    sent = list(first.records["analytics_incidents"])
    recent = [r for r in sent if r["updated_at"] >= "2026-10-31T00:00:00Z"]
    assert recent, "no row inside the analytics lag: the test would prove nothing"
    state = first.last_state
    for hours, changes in ((1, False), (3, True)):
        emulator.advance(hours, changes=changes)
        later = run_in_process(config, streams, state)
        rows = later.records.get("analytics_incidents", [])
        resent = [r for r in rows if r in sent]
        assert resent == [], f"{len(resent)} unchanged rows sent again"
        sent += rows
        state = later.last_state
    truth = emulator.truth("analytics_incidents", since="2026-09-01T00:00:00Z")
    assert_matches_truth("analytics_incidents", sent, truth)


def test_a_state_with_every_list_full_stays_under_the_documented_bound() -> None:
    """docs/state.md: the whole state stays under 256 KB (PagerDuty's longer ids, 14
    characters; every list at its cap, every time set)."""
    ids = [f"Q{i:013d}" for i in range(MAX_VERSIONS * 2)]
    time = "2026-11-01T00:00:00Z"
    incidents = IncidentsState(
        replication_key="updated_at",
        replication_key_value=time,
        silent_from=SilentFeeds(open=time, analytics=time, lookback=time),
        versions=dict.fromkeys(ids, time),
        notes_unread=ids,
        overlap_ids=ids,
        backfill_from=time,
        backfill_done=ids[:10],
        noted=NotedLog(until=time),
    )
    log = OverlapBookmark(replication_key="created_at", replication_key_value=time)
    log.overlap_ids = ids
    analytics = AnalyticsIncidentsState(
        replication_key="updated_at", replication_key_value=time, rows=dict.fromkeys(ids, "0" * 12)
    )
    plain = Bookmark(replication_key="started_at", replication_key_value=time)
    state = {
        "bookmarks": {
            "incidents": incidents.to_state(),
            "log_entries": log.to_state(),
            "analytics_incidents": analytics.to_state(),
            **{name: plain.to_state() for name in ("notifications", "audit_records")},
        }
    }
    assert len(state["bookmarks"]["incidents"]["versions"]) == MAX_VERSIONS
    assert len(state["bookmarks"]["log_entries"]["overlap_ids"]) == MAX_OVERLAP_IDS
    assert len(json.dumps(state)) < 256 * 1024


# -- finding 4: backfill checkpoints carry positions, not growing id lists -------------------


def test_backfill_state_is_small_and_a_small_share_of_the_output(emulator_factory) -> None:
    """The old checkpoints repeated the ids of every incident with a note still to emit:
    most of a backfill's output was STATE. Now each STATE holds positions only."""
    emulator = emulator_factory(seed=36, incidents=800, days=365, now=NOW, rate_limit=0)
    config = config_for(emulator, anchor_date="2025-11-01T00:00:00Z")
    streams = ["incidents", "incident_alerts", "incident_notes"]
    output = run_in_process(config, streams)
    for stream in streams:
        truth = emulator.truth(stream, since="2025-11-01T00:00:00Z")
        assert_matches_truth(stream, output.records.get(stream, []), truth)
    states = [len(json.dumps({"type": "STATE", "value": s})) for s in output.states]
    records = sum(
        len(json.dumps({"type": "RECORD", "stream": name, "record": r}))
        for name, rows in output.records.items()
        for r in rows
    )
    assert max(states) < 8 * 1024, max(states)
    assert sum(states) < 0.05 * (sum(states) + records), (sum(states), records)
    mid = [s["bookmarks"]["incidents"] for s in output.states[1:-1]]
    assert any(b.get("backfill_from") for b in mid)
    assert all("ids" not in (b.get("noted") or {}) for b in mid)

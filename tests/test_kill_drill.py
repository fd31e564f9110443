"""A backfill of incidents with alerts and notes, killed again and again, finishes with the
target equal to ground truth and repeats few requests: it checkpoints after every incident
whose children are out, and reads little ahead."""

from __future__ import annotations

import json

from tests.support.tap_runs import ANCHOR, assert_matches_truth, catalog_for, config_for
from tests.test_incremental import _run_and_maybe_kill

NOW = "2026-11-01T00:00:00Z"
STREAMS = ["incidents", "incident_alerts", "incident_notes"]


def test_backfill_killed_every_three_seconds_repeats_at_most_five_percent(
    emulator_factory, tmp_path
) -> None:
    emulator = emulator_factory(seed=41, incidents=500, days=365, now=NOW, rate_limit=0)
    # 40 requests/s and a kill every 3 s: about 100 requests per run after start-up, as a kill
    # every 20 s would be at the default 5 requests/s.
    config = config_for(emulator, requests_per_second=40)
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog_for(STREAMS)))
    clean = _run_and_maybe_kill(tmp_path, None, None)
    assert clean.returncode == 0
    clean_requests = emulator.stats()["requests"]

    emulator.reset_stats()
    union: dict[str, list[dict]] = {stream: [] for stream in STREAMS}
    state = None
    kills = 0
    for _attempt in range(40):
        output = _run_and_maybe_kill(tmp_path, state, 3.0)
        for stream in STREAMS:
            union[stream].extend(output.records.get(stream, []))
        state = output.last_state or state
        if output.returncode == 0:
            break
        kills += 1
    assert output.returncode == 0, "the drill must finish"
    assert kills >= 3, f"only {kills} kills: the drill did not test resuming"
    for stream in STREAMS:
        assert_matches_truth(stream, union[stream], emulator.truth(stream, since=ANCHOR))
    drill_requests = emulator.stats()["requests"]
    repeated = drill_requests / clean_requests - 1
    print(
        f"\nkill drill: {kills} kills, {drill_requests} requests vs {clean_requests} clean "
        f"({repeated:+.1%})"
    )
    assert repeated <= 0.05, f"{drill_requests} requests vs {clean_requests} in a clean run"


def test_analytics_incidents_resumes_at_the_page_a_killed_run_reached(
    emulator_factory, tmp_path
) -> None:
    emulator = emulator_factory(
        seed=42, incidents=2500, days=300, now=NOW, rate_limit=0, latency_ms=1000
    )
    config = config_for(emulator, anchor_date="2026-01-01T00:00:00Z")
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog_for(["analytics_incidents"])))
    truth = emulator.truth("analytics_incidents", since="2026-01-01T00:00:00Z")
    assert len(truth) > 2000  # three pages of 1000
    # Kill once the first page is out (later on a slow machine): the state names the next.
    for delay in (3.6, 4.4, 3.2, 5.2, 6.0):
        killed = _run_and_maybe_kill(tmp_path, None, delay)
        bookmarks = (killed.last_state or {}).get("bookmarks", {})
        saved = bookmarks.get("analytics_incidents", {})
        if killed.returncode != 0 and saved.get("unfinished_query"):
            break
    assert killed.returncode != 0, "the run finished before it could be killed"
    assert saved["unfinished_query"]["starting_after"], saved
    pages_read = len(killed.records["analytics_incidents"]) // 1000
    emulator.reset_stats()
    resumed = _run_and_maybe_kill(tmp_path, killed.last_state, None)
    assert resumed.returncode == 0
    assert emulator.stats()["requests"] == 3 - pages_read  # no page read twice
    union = killed.records["analytics_incidents"] + resumed.records["analytics_incidents"]
    assert_matches_truth("analytics_incidents", union, truth)
    final = resumed.last_state["bookmarks"]["analytics_incidents"]
    assert final["unfinished_query"] is None and final["replication_key_value"]

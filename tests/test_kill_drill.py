"""A backfill of incidents with alerts and notes, killed again and again, finishes with the
target equal to ground truth and repeats few requests: it checkpoints after every incident
whose children are out, and reads little ahead."""

from __future__ import annotations

import json
import signal

from tests.support.kills import gate_to, run_tap
from tests.support.tap_runs import ANCHOR, assert_matches_truth, catalog_for, config_for

NOW = "2026-11-01T00:00:00Z"
STREAMS = ["incidents", "incident_alerts", "incident_notes"]
# About what a kill every 20 s lets through at the default 5 requests/s.
KILL_EVERY = 100
ANALYTICS = "/analytics/raw/incidents"
# What one kill can lose: the children (alerts, notes) of the incidents read ahead of the last
# checkpoint (IncidentsStream.records_ahead: 2 x max_concurrency 3) and one page ahead.
READ_AHEAD = 2 * 3 * 2 + 1


def test_backfill_killed_every_hundred_requests_repeats_only_what_it_read_ahead(
    emulator_factory, tmp_path
) -> None:
    emulator = emulator_factory(seed=41, incidents=500, days=365, now=NOW, rate_limit=0)
    with gate_to(emulator) as gate:
        # 200 requests/s, faster than any key's budget: the fetching threads run as far
        # ahead of the writer as the look-ahead lets them, so a kill repeats the most a real
        # one can (and the drill takes seconds, not a minute).
        config = {**config_for(emulator, requests_per_second=200), "api_url": gate.url}
        (tmp_path / "config.json").write_text(json.dumps(config))
        (tmp_path / "catalog.json").write_text(json.dumps(catalog_for(STREAMS)))
        clean, kills, union = _drill(tmp_path, emulator, gate)
    clean_requests, drill_requests = clean, emulator.stats()["requests"]
    assert kills >= 3, f"only {kills} kills: the drill did not test resuming"
    for stream in STREAMS:
        assert_matches_truth(stream, union[stream], emulator.truth(stream, since=ANCHOR))
    repeated = drill_requests - clean_requests
    print(
        f"\nkill drill: {kills} kills, {drill_requests} requests vs {clean_requests} clean "
        f"({repeated / clean_requests:+.1%})"
    )
    # About +3 % on an idle machine, +5 to +6 % beside two CPU hogs (the writer thread lags
    # the fetching ones, up to the look-ahead bound): the bound is what holds on any machine.
    assert repeated <= kills * READ_AHEAD, f"{drill_requests} vs {clean_requests} clean"


def _drill(tmp_path, emulator, gate) -> tuple[int, int, dict[str, list[dict]]]:
    """(requests of a clean run, kills, records of all killed runs and the last one)."""
    clean = run_tap(tmp_path, None, gate, None)
    assert clean.returncode == 0
    clean_requests = emulator.stats()["requests"]
    # A kill after every KILL_EVERY requests the emulator sees, wherever the sync is then.
    assert clean_requests > 4 * KILL_EVERY, "too small an account to kill a few times"

    emulator.reset_stats()
    union: dict[str, list[dict]] = {stream: [] for stream in STREAMS}
    state = None
    kills = 0
    for _attempt in range(40):
        output = run_tap(tmp_path, state, gate, KILL_EVERY)
        for stream in STREAMS:
            union[stream].extend(output.records.get(stream, []))
        state = output.last_state or state
        if output.returncode == 0:
            return clean_requests, kills, union
        kills += 1
    raise AssertionError(f"the drill did not finish in {kills} kills")


def test_analytics_incidents_resumes_at_the_page_a_killed_run_reached(
    emulator_factory, tmp_path
) -> None:
    emulator = emulator_factory(seed=42, incidents=2500, days=300, now=NOW, rate_limit=0)
    truth = emulator.truth("analytics_incidents", since="2026-01-01T00:00:00Z")
    assert len(truth) > 2000  # three pages of 1000
    with gate_to(emulator) as gate:
        config = {**config_for(emulator, anchor_date="2026-01-01T00:00:00Z"), "api_url": gate.url}
        (tmp_path / "config.json").write_text(json.dumps(config))
        (tmp_path / "catalog.json").write_text(json.dumps(catalog_for(["analytics_incidents"])))
        # The first page is answered, the second held: killed once the state names it.
        killed = run_tap(tmp_path, None, gate, 1, _names_the_next_page, path=ANALYTICS)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        saved = (killed.last_state or {})["bookmarks"]["analytics_incidents"]
        assert saved["unfinished_query"]["starting_after"], saved
        assert len(killed.records["analytics_incidents"]) == 1000
        emulator.reset_stats()
        resumed = run_tap(tmp_path, killed.last_state, gate, None)
    assert resumed.returncode == 0
    pages = emulator.stats()["by_path"][ANALYTICS]
    assert pages == {"200": 2}, pages  # pages 2 and 3: no page read twice
    union = killed.records["analytics_incidents"] + resumed.records["analytics_incidents"]
    assert_matches_truth("analytics_incidents", union, truth)
    final = (resumed.last_state or {})["bookmarks"]["analytics_incidents"]
    assert final["unfinished_query"] is None and final["replication_key_value"]


def _names_the_next_page(state: dict) -> bool:
    saved = state.get("bookmarks", {}).get("analytics_incidents", {})
    return bool((saved.get("unfinished_query") or {}).get("starting_after"))

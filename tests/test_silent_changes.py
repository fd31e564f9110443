"""Changes PagerDuty writes no log entry for (priority, title, note edits) still reach the
target: through the open-incident rescan, analytics (`updated_after`, possibly late) and the
look-back rescan, with one record per incident per run."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support.tap_runs import ANCHOR, assert_matches_truth, config_for, run_in_process

NOW = "2026-11-01T00:00:00Z"
STREAMS = ["incidents", "incident_alerts", "incident_notes"]


def _sync_until_exact(emulator, config, busy_hours: float, lag_hours: float) -> dict:
    """Run, let `busy_hours` of changes happen, run, wait one analytics lag with nothing
    happening, run: returns what a target keyed by primary key holds."""
    target: dict[str, list[dict]] = {}
    state = None
    for step in ("busy", "quiet", None):
        output = run_in_process(config, STREAMS, state)
        for stream, records in output.records.items():
            target.setdefault(stream, []).extend(records)
        ids = Counter(r["id"] for r in output.records.get("incidents", []))
        assert not [i for i, n in ids.items() if n > 1], "an incident twice in one run"
        state = output.last_state
        if step == "busy":
            emulator.advance(busy_hours)
        elif step == "quiet":
            emulator.advance(max(lag_hours, 1), changes=False)
    return target


def _silently_changed(emulator, before: dict[str, dict]) -> set[str]:
    after = {i["id"]: i for i in emulator.truth("incidents", since=ANCHOR)}
    return {
        i
        for i in before
        if after[i]["updated_at"] != before[i]["updated_at"]
        and after[i]["status"] == before[i]["status"]
        and after[i]["assignments"] == before[i]["assignments"]
    }


@pytest.mark.parametrize("lag_hours", [0, 24])
def test_silent_changes_reach_the_target_within_the_analytics_lag(
    emulator_factory, lag_hours
) -> None:
    emulator = emulator_factory(
        seed=31,
        incidents=300,
        days=400,
        now=NOW,
        rate_limit=0,
        silent_changes=60,
        analytics_lag_hours=lag_hours,
    )
    config = config_for(emulator, analytics_lag_hours=lag_hours)
    before = {i["id"]: i for i in emulator.truth("incidents", since=ANCHOR)}
    # Silent changes happen in the first 6 hours; the last run is one lag later.
    target = _sync_until_exact(emulator, config, busy_hours=6, lag_hours=lag_hours)
    silent = _silently_changed(emulator, before)
    resolved = {i for i in silent if before[i]["status"] == "resolved"}
    assert len(silent) >= 20 and resolved, (len(silent), len(resolved))
    for stream in STREAMS:
        assert_matches_truth(stream, target[stream], emulator.truth(stream, since=ANCHOR))


def test_without_analytics_the_lookback_catches_recent_incidents_and_says_what_it_misses(
    emulator_factory,
) -> None:
    emulator = emulator_factory(
        seed=32,
        incidents=400,
        days=200,
        now=NOW,
        rate_limit=0,
        force_status={"/analytics/raw/incidents": 403},
    )
    config = config_for(emulator, reconcile_days=30)
    first = run_in_process(config, STREAMS)
    before = {i["id"]: i for i in emulator.truth("incidents", since=ANCHOR)}
    emulator.configure(silent_changes=80)
    emulator.advance(3)
    second = run_in_process(config, STREAMS, first.last_state)
    target = {s: first.records.get(s, []) + second.records.get(s, []) for s in STREAMS}
    truth = {i["id"]: i for i in emulator.truth("incidents", since=ANCHOR)}
    held = {i["id"]: i for i in target["incidents"]}
    lookback_from = "2026-10-02T03:00:00Z"  # 30 days before the second run
    silent = _silently_changed(emulator, before)
    recent = {i for i in silent if truth[i]["created_at"] >= lookback_from}
    old_resolved = {
        i for i in silent - recent if truth[i]["status"] == "resolved" and i not in recent
    }
    assert recent and old_resolved
    stale = [
        i
        for i in recent | {i for i in silent if truth[i]["status"] != "resolved"}
        if held[i] != truth[i]
    ]
    assert not stale, f"{len(stale)} recent or open incidents stale"
    # What the look-back does not cover is missed, as the warning says.
    assert any(held[i] != truth[i] for i in old_resolved)


def test_the_uncovered_changes_are_named_in_one_warning(emulator_factory, tmp_path) -> None:
    from tests.support.tap_runs import run_process

    emulator = emulator_factory(
        seed=33,
        incidents=200,
        days=100,
        now=NOW,
        rate_limit=0,
        force_status={"/analytics/raw/incidents": 402},
    )
    config = config_for(emulator)
    first = run_process(config, tmp_path, ["incidents"])
    assert first.returncode == 0, first.stderr[-2000:]
    emulator.advance(1)
    again = run_process(config, tmp_path, ["incidents"], first.last_state)
    assert again.returncode == 0, again.stderr[-2000:]
    lines = [line for line in again.stderr.splitlines() if "analytics is not available" in line]
    assert len(lines) == 1, lines
    assert "HTTP 402" in lines[0]
    assert "created in the last 7 days" in lines[0]
    assert "reconcile_days" in lines[0]


def test_a_run_killed_while_reading_the_silent_feeds_resumes_without_loss(
    emulator_factory, tmp_path
) -> None:
    import json
    import random

    from tests.support.kills import gate_to, run_tap
    from tests.support.tap_runs import catalog_for

    emulator = emulator_factory(
        seed=34, incidents=300, days=300, now=NOW, rate_limit=0, silent_changes=120
    )
    (tmp_path / "catalog.json").write_text(json.dumps(catalog_for(STREAMS)))
    first = run_in_process(config_for(emulator, analytics_lag_hours=0), STREAMS)
    union = {s: list(first.records.get(s, [])) for s in STREAMS}
    emulator.advance(12)
    # About 150 requests: kills after 10 to 120 of them land anywhere, the feeds included.
    config = config_for(emulator, requests_per_second=200, analytics_lag_hours=0)
    state = first.last_state
    rng = random.Random(5)
    with gate_to(emulator) as gate:
        (tmp_path / "config.json").write_text(json.dumps({**config, "api_url": gate.url}))
        for attempt in range(8):
            output = run_tap(tmp_path, state, gate, None if attempt == 7 else rng.randint(10, 120))
            for stream in STREAMS:
                union[stream].extend(output.records.get(stream, []))
            ids = Counter(r["id"] for r in output.records.get("incidents", []))
            assert not [i for i, n in ids.items() if n > 1], "an incident twice in one run"
            state = output.last_state or state
            if output.returncode == 0:
                break
    assert output.returncode == 0 and attempt > 0, "the runs must be killed, then finish"
    for stream in STREAMS:
        assert_matches_truth(stream, union[stream], emulator.truth(stream, since=ANCHOR))


def test_a_backfill_with_an_end_date_reads_notes_added_after_it(emulator_factory) -> None:
    import random

    emulator = emulator_factory(seed=35, incidents=400, days=200, now=NOW, rate_limit=0)
    emulator.advance(24, changes=False)
    world = emulator.world
    # A note added a day after the end date to incidents of the range that had none.
    with emulator.lock:
        plain = [i for i in world.incidents if not i.notes and i.status == "resolved"][:5]
        logs: list = []
        for incident in plain:
            world._apply(incident, world.now - 60, "note", "late", random.Random(1), logs, [])
        world._commit(logs, [])
        world.version += 1
    config = config_for(emulator, end_date=NOW)
    output = run_in_process(config, STREAMS)
    truth = emulator.truth("incident_notes", since=ANCHOR, until=NOW)
    assert {i.id for i in plain} <= {n["incident_id"] for n in truth}
    assert_matches_truth("incident_notes", output.records.get("incident_notes", []), truth)


@pytest.mark.parametrize("credential", ["oauth", "user-level key"])
def test_silent_changes_reach_the_target_under_scoped_credentials(
    emulator_factory, monkeypatch, credential
) -> None:
    """OAuth tokens and user-level keys get unfiltered analytics queries refused: the change
    feed sends every service id, in parts (under OAuth with exactly the scopes the tap asked
    for; a user-level key with `analytics_filter: service_ids`); no look-back helps."""
    from tap_pagerduty.streams import metrics
    from tests.support.spec_check import request_log, scopes_used, undeclared
    from tests.test_oauth import CLIENT_ID, SECRET, oauth_config
    from tests.test_oauth_scopes import ALL_SCOPES

    emulator = emulator_factory(
        seed=36,
        incidents=300,
        days=300,
        now=NOW,
        rate_limit=0,
        silent_changes=40,
        tokens=("user-key",),
    )
    monkeypatch.setattr(metrics, "FILTER_BATCH", 3)
    settings = {"analytics_lag_hours": 0, "reconcile_days": 0}
    if credential == "oauth":
        emulator.extras.add_oauth_client(CLIENT_ID, SECRET, ALL_SCOPES)
        config = oauth_config(emulator, **settings)
    else:
        emulator.extras.user_level_tokens = {"user-key"}
        config = config_for(emulator, api_token="user-key", analytics_filter="service_ids")
        config.update(settings)
    before = {i["id"]: i for i in emulator.truth("incidents", since=ANCHOR)}
    target = _sync_until_exact(emulator, config, busy_hours=6, lag_hours=0)
    silent = _silently_changed(emulator, before)
    assert [i for i in silent if before[i]["status"] == "resolved"], "nothing to prove"
    for stream in STREAMS:
        assert_matches_truth(stream, target[stream], emulator.truth(stream, since=ANCHOR))
    stats = emulator.stats()
    queries = stats["by_path"]["/analytics/raw/incidents"]
    assert set(queries) == {"200"} and queries["200"] >= 2 * len(emulator.world.services) / 3
    log = request_log(emulator)
    assert not undeclared(log)
    if credential == "oauth":
        tokens = emulator.extras.oauth_tokens.values()
        assert scopes_used(log) <= set().union(*(scopes for _expiry, scopes in tokens))


def test_a_user_level_key_without_a_filter_is_told_to_set_one(emulator_factory) -> None:
    from tap_pagerduty.errors import PagerDutyAPIError

    emulator = emulator_factory(
        seed=37, incidents=40, days=20, now=NOW, rate_limit=0, tokens=("user-key",)
    )
    emulator.extras.user_level_tokens = {"user-key"}
    config = config_for(emulator, api_token="user-key")
    first = run_in_process(config, ["incidents"])
    emulator.advance(1)
    with pytest.raises(PagerDutyAPIError) as error:
        run_in_process(config, ["incidents"], first.last_state)
    message = str(error.value)
    assert "POST /analytics/raw/incidents failed with HTTP 400" in message
    assert "set 'analytics_filter' to 'service_ids'" in message and "\n" not in message

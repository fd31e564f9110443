"""The Dagster orchestration (orchestration/) against emulator accounts, in-process.

* Two accounts: the hourly asset job of each materializes the raw PagerDuty assets, the dbt
  assets and the report, every check (ours and dbt's tests) passes, and the union of the
  outputs equals each emulator's ground truth, after a first and after a later run.
* A backfill of one account in 4 time slices over its 2 keys, on Dagster's multi-process
  executor: slices run in parallel, no key goes over its budget (emulator statistics per
  key), a slice killed half-way (on a request the emulator sees) is retried by Dagster and
  resumes from its STATE, the emulator's clock moves while the backfill runs, and after the
  hand-over one incremental run makes the union equal the ground truth.

The tests that run Dagster are marked `slow`: `make check`'s fast lane leaves them out.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
from collections.abc import Set as AbstractSet
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    build_reconstructable_job,
    execute_job,
)

from orchestration.accounts import AccountsError, load_accounts, token_pool
from orchestration.backfill import (
    expected_requests,
    hand_over_state,
    incidents_missing_notes,
    parse,
    plan_slices,
    request_weights,
)
from orchestration.definitions import backfill_config, build_definitions
from orchestration.raw_assets import Paths
from orchestration.sink import read_outputs
from tap_pagerduty.streams import INCREMENTAL_STREAMS, STREAM_TYPES
from tests.support.tap_runs import assert_matches_truth, config_for, run_in_process

# Dagster; one pytest-xdist worker for the module: its module fixture (a backfill) is built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("orchestration")]


def _stop_fork_server() -> None:
    """Dagster forks each step from multiprocessing's fork server, and a forked step has the
    environment the server started with. These tests put the keys in the environment test by
    test, and another test of the same pytest worker may have started the server already
    (tests/support/cli.py uses it too): each Dagster run here starts a fresh one. The stdlib
    has no public way to stop it."""
    import multiprocessing.forkserver

    multiprocessing.forkserver._forkserver._stop()  # type: ignore[attr-defined]


@pytest.fixture(autouse=True, scope="module")
def _fresh_fork_server_for_the_module():  # before the module fixtures' Dagster runs
    _stop_fork_server()


@pytest.fixture(autouse=True)
def _fresh_fork_server():
    _stop_fork_server()


NOW = "2026-11-01T00:00:00Z"
ANCHOR = "2026-08-01T00:00:00Z"
BUDGET = 60  # requests/s per key (above PagerDuty's 16: the emulator allows what we set)
RUNS_PER_KEY = 2
STREAMS = sorted(cls.name for cls in STREAM_TYPES)
HISTORY = set(INCREMENTAL_STREAMS)
# Streams whose older rows stay in the union after the clock moved (window / retention).
KEPT_AFTER_ADVANCE = {"oncalls", "change_events", "schedule_overrides", "schedule_users"}
RETRY_DELAY = 0.5


def emulator_for(factory, seed: int, tokens: tuple[str, ...], **kwargs):
    return factory(
        seed=seed,
        incidents=80,
        days=120,
        now=NOW,
        rate_limit=BUDGET * 60,  # the emulator answers 429 past the budget, per key
        tokens=tokens,
        users=10,
        services=4,
        **kwargs,
    )


def write_accounts(folder: Path, accounts: list[dict], freshness_hours: float = 24) -> Path:
    lines = [f"token_budget_rps: {BUDGET}", f"runs_per_token: {RUNS_PER_KEY}", "accounts:"]
    for account in accounts:
        lines.append(f"  - name: {account['name']}")
        lines.append(f"    api_url: {account['api_url']}")
        lines.append(f"    token_env: {json.dumps(account['token_env'])}")
        lines.append(f'    anchor_date: "{ANCHOR}"')
        lines.append(f"    freshness_hours: {freshness_hours}")
    path = folder / "accounts.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def paths_in(folder: Path, accounts_file: Path) -> Paths:
    return Paths(
        str(accounts_file),
        str(folder / "state"),
        str(folder / "out"),
        warehouse_dir=str(folder / "warehouse"),
        reports_dir=str(folder / "reports"),
    )


def assert_union_is_truth(
    emulator, paths: Paths, account: str, kept: AbstractSet[str] = frozenset()
):
    now = emulator.stats()["now"]
    tables = read_outputs(Path(paths.output_dir) / account)
    for stream in STREAMS:
        if stream == "oncalls":
            until = (parse(now) + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
            truth = emulator.truth("oncalls", since=now, until=until)
        elif stream in ("schedule_overrides", "schedule_users"):  # anchor .. now + 90 days
            until = (parse(now) + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
            truth = emulator.truth(stream, since=ANCHOR, until=until)
        elif stream in HISTORY or stream.startswith("analytics_metrics_"):  # from the anchor
            truth = emulator.truth(stream, since=ANCHOR, until=now)
        else:
            truth = emulator.truth(stream)
        got = list(tables.get(stream, {}).values())
        if stream in kept:  # the target keeps rows the source no longer lists
            assert len(got) >= len(truth), f"{account}: {stream} lost rows"
            continue
        assert_matches_truth(stream, got, truth, where=account)


@pytest.fixture
def keys_in_env(monkeypatch):
    def put(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return put


# ---------------------------------------------------------------------------------------------
# accounts file and the plan (no Dagster run)
# ---------------------------------------------------------------------------------------------
def test_accounts_file_errors_are_one_line(tmp_path, monkeypatch):
    path = tmp_path / "a.yaml"
    path.write_text("accounts:\n  - name: x\n    token_env: [lower-case]\n")
    with pytest.raises(AccountsError, match="'token_env' must name the environment variable"):
        load_accounts(path)
    path.write_text("token_budget_rps: -1\naccounts:\n  - name: x\n    token_env: K\n")
    with pytest.raises(AccountsError, match="'token_budget_rps' must be a positive number"):
        load_accounts(path)
    path.write_text("accounts:\n  - name: x\n    token_env: PD_KEY_X\n    runs_per_token: 4\n")
    account = load_accounts(path)["x"]
    assert account.run_rps == pytest.approx(5 / 4)  # the default budget split four ways
    monkeypatch.delenv("PD_KEY_X", raising=False)
    with pytest.raises(AccountsError, match="PD_KEY_X is empty or unset"):
        account.tap_config("PD_KEY_X")
    monkeypatch.setenv("PD_KEY_X", "s3cret")
    assert account.tap_config("PD_KEY_X")["requests_per_second"] == pytest.approx(1.25)
    assert "s3cret" not in token_pool("PD_KEY_X")


def test_plan_slices_cover_the_range_without_gap():
    anchor, now = parse(ANCHOR), parse(NOW)
    slices = plan_slices(anchor, None, now, 5, ["K1", "K2"])
    assert [s.token_env for s in slices] == ["K1", "K2", "K1", "K2", "K1"]
    assert slices[0].anchor_date == ANCHOR and slices[-1].end_date is None
    for before, after in itertools.pairwise(slices):
        assert before.end_date == after.anchor_date
    bounded = plan_slices(anchor, now, now, 4, ["K1"])
    assert bounded[-1].end_date == NOW


def test_plan_slices_share_the_work_not_the_time():
    anchor, now = parse(ANCHOR), parse(NOW)
    third = (now - anchor) / 3
    # Nine times as many incidents in the last third as in the first two together.
    weights = [(anchor, anchor + third, 5.0), (anchor + third, anchor + 2 * third, 5.0)]
    weights.append((anchor + 2 * third, now, 90.0))
    slices = plan_slices(anchor, None, now, 4, ["K1", "K2"], weights)
    starts = [parse(s.anchor_date) for s in slices]
    assert starts[0] == anchor
    assert all(start > anchor + 2 * third for start in starts[2:])  # small slices where busy
    lengths = [b - a for a, b in itertools.pairwise([*starts, now])]
    assert lengths[0] > 3 * lengths[-1]


def test_hand_over_takes_the_earliest_change_feed_position():
    started = parse("2026-11-01T00:00:00Z")
    early = {
        "replication_key": "updated_at",
        "replication_key_value": "2026-09-01T00:00:00Z",
        "versions": {"P1": "2026-10-31T12:00:00Z", "P2": "2026-10-31T13:00:00Z"},
        "notes_unread": [],
    }
    late = {
        "replication_key": "updated_at",
        "replication_key_value": "2026-11-01T02:00:01Z",
        "silent_from": {"open": "2026-11-01T01:50:01Z", "analytics": "2026-10-31T02:00:01Z"},
        "versions": {"P2": "2026-11-01T01:00:00Z", "P3": "2026-11-01T01:30:00Z"},
        "notes_unread": ["P3"],
    }
    log = {"replication_key": "created_at"}
    states = [
        {"bookmarks": {"incidents": early, "log_entries": {**log, "replication_key_value": "a"}}},
        {"bookmarks": {"incidents": late, "log_entries": {**log, "replication_key_value": "b"}}},
    ]
    entries = [
        {"id": "in-overlap", "created_at": "2026-10-31T23:55:00Z"},
        {"id": "too-early", "created_at": "2026-10-31T23:45:00Z"},
        {"id": "after-start", "created_at": "2026-11-01T00:00:00Z"},
    ]
    handed = hand_over_state(states, started, ["incidents"], entries)["bookmarks"]
    incidents = handed["incidents"]
    # Not the latest slice's position (02:00:01): changes between the start and that would
    # be lost for incidents other slices read before them.
    assert incidents["replication_key_value"] == "2026-11-01T00:00:00Z"
    # The silent-change feeds move back by as much, keeping their offsets.
    assert incidents["silent_from"] == {
        "open": "2026-10-31T23:50:00Z",
        "analytics": "2026-10-31T00:00:00Z",
        "lookback": None,
    }
    assert incidents["versions"] == {
        "P1": "2026-10-31T12:00:00Z",
        "P2": "2026-11-01T01:00:00Z",
        "P3": "2026-11-01T01:30:00Z",
    }
    assert incidents["notes_unread"] == ["P3"]
    assert incidents["overlap_ids"] == ["in-overlap"]
    assert handed["log_entries"]["replication_key_value"] == "b"  # by-time: the latest
    with pytest.raises(ValueError, match="did not complete"):
        hand_over_state([states[0], None], started, ["incidents"])


def test_notes_logged_after_a_slice_ended_are_found():
    slices = plan_slices(parse(ANCHOR), None, parse(NOW), 2, ["K1"])
    cut = slices[1].anchor_date

    def note(entry_id: str, incident: str, at: str) -> dict:
        return {
            "id": entry_id,
            "type": "annotate_log_entry",
            "channel": {"type": "note"},
            "incident": {"id": incident},
            "created_at": at,
        }

    early, late = "2026-08-02T00:00:00Z", "2026-10-30T00:00:00Z"
    assert early < cut < late
    tables = {
        "incidents": {
            ("P1",): {"id": "P1", "created_at": early},  # noted in its slice: read there
            ("P2",): {"id": "P2", "created_at": early},  # noted again after: missed
            ("P3",): {"id": "P3", "created_at": late},  # in the last slice: read to now
            ("P4",): {"id": "P4", "created_at": early},  # acknowledged later, no note
        },
        "log_entries": {
            ("L1",): note("L1", "P1", early),
            ("L2",): note("L2", "P2", early),
            ("L3",): note("L3", "P2", late),
            ("L4",): note("L4", "P3", late),
            ("L5",): {
                "id": "L5",
                "type": "acknowledge_log_entry",
                "incident": {"id": "P4"},
                "created_at": late,
            },
        },
        "incident_notes": {("N1",): {"id": "N1", "incident_id": "P2"}},
    }
    # P2 has a note already: the one added after its slice ended is still missing.
    assert incidents_missing_notes(tables, slices) == ["P2"]
    assert incidents_missing_notes(tables, slices[1:]) == []  # one slice read to now


def test_slices_share_the_expected_requests():
    anchor, now = parse(ANCHOR), parse(NOW)
    counts = [(anchor, anchor + (now - anchor) / 2, 0.0), (anchor + (now - anchor) / 2, now, 900.0)]
    weights = request_weights(counts)
    assert weights[0][2] == pytest.approx(expected_requests(0, *counts[0][:2]))
    assert weights[1][2] > 100 * weights[0][2]  # incidents, not days, make the requests
    slices = plan_slices(anchor, None, now, 2, ["K1"], weights)
    # The quiet first half goes to slice 0 with a share of the busy one.
    assert parse(slices[1].anchor_date) > anchor + (now - anchor) / 2


# ---------------------------------------------------------------------------------------------
# hourly: two accounts, raw assets -> dbt assets -> report, with checks
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_hourly_assets_of_two_accounts_down_to_the_report(emulator_factory, tmp_path, keys_in_env):
    acme = emulator_for(emulator_factory, 11, ("acme-key",))
    beta = emulator_for(emulator_factory, 12, ("beta-key",))
    keys_in_env(ACME_KEY="acme-key", BETA_KEY="beta-key")
    accounts_file = write_accounts(
        tmp_path,
        [
            {"name": "acme", "api_url": acme.url, "token_env": ["ACME_KEY"]},
            {"name": "beta-eu", "api_url": beta.url, "token_env": ["BETA_KEY"]},
        ],
        freshness_hours=24 * 7,
    )
    paths = paths_in(tmp_path, accounts_file)
    defs = build_definitions(paths, retry_delay=RETRY_DELAY)
    hourly = defs.resolve_schedule_def("pagerduty_hourly_beta_eu")
    assert hourly.cron_schedule == "0 * * * *"
    assert hourly.job_name == "pagerduty_hourly_beta_eu"
    graph = defs.resolve_asset_graph()
    # Lineage: a PagerDuty stream -> staging -> mart -> report, per account.
    report = graph.get(AssetKey(["beta_eu", "report"]))
    assert AssetKey(["beta_eu", "incident_lifecycle"]) in report.parent_keys
    staging = graph.get(AssetKey(["beta_eu", "stg_incidents"]))
    assert AssetKey(["beta_eu", "pagerduty", "incidents"]) in staging.parent_keys

    instance = DagsterInstance.ephemeral()
    for emulator, name in ((acme, "acme"), (beta, "beta-eu")):
        job = defs.resolve_job_def(f"pagerduty_hourly_{name.replace('-', '_')}")
        result = job.execute_in_process(instance=instance)
        assert result.success
        assert result.dagster_run.tags["pagerduty/account"] == name
        materialized = {
            e.asset_key.path[-1]
            for e in result.get_asset_materialization_events()
            if e.asset_key is not None
        }
        assert {"incidents", "stg_incidents", "incident_lifecycle", "report"} <= materialized
        evaluations = result.get_asset_check_evaluations()
        names = {e.check_name for e in evaluations}
        assert {"rows_loaded", "incidents_fresh"} <= names and len(names) > 10  # + dbt tests
        failed = [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed]
        assert failed == []
        assert_union_is_truth(emulator, paths, name)
        assert_warehouse_is_truth(emulator, paths, name)
        html = (Path(paths.reports_dir) / f"{name}.html").read_text()
        assert "<svg" in html and name in html
    first = {n: json.loads(paths.incremental_state(n).read_text()) for n in ("acme", "beta-eu")}

    for emulator in (acme, beta):
        emulator.advance(24)
    for emulator, name in ((acme, "acme"), (beta, "beta-eu")):
        job = defs.resolve_job_def(f"pagerduty_hourly_{name.replace('-', '_')}")
        raw = [k for k in job.asset_layer.executable_asset_keys if "pagerduty" in k.path]
        assert job.execute_in_process(instance=instance, asset_selection=raw).success
        assert_union_is_truth(emulator, paths, name, kept=KEPT_AFTER_ADVANCE)
        later = json.loads(paths.incremental_state(name).read_text())
        bookmark = later["bookmarks"]["incidents"]["replication_key_value"]
        assert bookmark > first[name]["bookmarks"]["incidents"]["replication_key_value"]
    for emulator, key in ((acme, "acme-key"), (beta, "beta-key")):
        assert set(emulator.stats()["by_token"]) == {key}  # each account used its own key


def assert_warehouse_is_truth(emulator, paths: Paths, account: str) -> None:
    """The raw incidents table holds every incident of the range once."""
    import duckdb

    truth = {i["id"] for i in emulator.truth("incidents", since=ANCHOR)}
    with duckdb.connect(str(paths.warehouse(account)), read_only=True) as con:
        ids = [row[0] for row in con.execute("select id from pagerduty.incidents").fetchall()]
    assert len(ids) == len(set(ids)) and set(ids) == truth


# ---------------------------------------------------------------------------------------------
# hourly on PostgreSQL: the same assets with PAGERDUTY_WAREHOUSE_URL set
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_hourly_assets_on_postgres_by_configuration(emulator_factory, tmp_path, keys_in_env):
    """With a PostgreSQL URL the raw tables, dbt's models and the report are on that database
    (a private server on a free port, stopped after): checks and dbt tests pass, the raw
    incidents are the emulator's, the marts hold them, and no DuckDB file is written."""
    import dataclasses

    from tests.support.postgres import DATABASE, PASSWORD, USER, TempPostgres

    emulator = emulator_for(emulator_factory, 13, ("pg-key",))
    keys_in_env(PG_KEY="pg-key")
    accounts_file = write_accounts(
        tmp_path,
        [{"name": "acme-pg", "api_url": emulator.url, "token_env": ["PG_KEY"]}],
        freshness_hours=24 * 7,
    )
    with TempPostgres() as postgres:
        url = f"postgresql://{USER}:{PASSWORD}@{postgres.host}:{postgres.port}/{DATABASE}"
        paths = dataclasses.replace(paths_in(tmp_path, accounts_file), warehouse_url=url)
        defs = build_definitions(paths, retry_delay=RETRY_DELAY)
        job = defs.resolve_job_def("pagerduty_hourly_acme_pg")
        result = job.execute_in_process(instance=DagsterInstance.ephemeral())
        assert result.success
        evaluations = result.get_asset_check_evaluations()
        assert {"rows_loaded", "incidents_fresh"} <= {e.check_name for e in evaluations}
        assert len(evaluations) > 10  # + dbt's tests
        assert [e.check_name for e in evaluations if not e.passed] == []
        truth = {i["id"] for i in emulator.truth("incidents", since=ANCHOR)}
        con = postgres.connect()
        try:
            with con.cursor() as cur:
                cur.execute("select id from acme_pg_pagerduty.incidents")
                ids = [row[0] for row in cur.fetchall()]
                cur.execute("select count(*) from acme_pg_analytics.incident_lifecycle")
                (modelled,) = cur.fetchone()
        finally:
            con.close()
        assert len(ids) == len(set(ids)) and set(ids) == truth
        assert modelled == len(truth)
    assert not Path(paths.warehouse("acme-pg")).exists()
    html = (Path(paths.reports_dir) / "acme-pg.html").read_text()
    assert "<svg" in html and "acme-pg" in html


def test_a_warehouse_url_that_is_not_postgres_is_one_line(tmp_path):
    import dataclasses

    from orchestration.warehouse import WarehouseError

    accounts_file = write_accounts(
        tmp_path, [{"name": "acme", "api_url": "http://127.0.0.1:9", "token_env": ["K"]}]
    )
    paths = dataclasses.replace(
        paths_in(tmp_path, accounts_file), warehouse_url="mysql://me:secret@db/warehouse"
    )
    with pytest.raises(WarehouseError) as raised:
        build_definitions(paths, analytics=False)
    message = str(raised.value)
    assert "PAGERDUTY_WAREHOUSE_URL" in message and "\n" not in message
    assert "secret" not in message


# ---------------------------------------------------------------------------------------------
# backfill: 4 slices over 2 keys, a slice killed half-way, the clock moving meanwhile
# ---------------------------------------------------------------------------------------------
ALERTS = re.compile(r"^/incidents/[^/]+/alerts")


class Drill:
    """Kills the tap of slice 1 half-way through its incidents (some emitted with their
    children and checkpointed, others not yet), then moves the emulator's clock while the
    backfill goes on. Driven by the requests the emulator sees: on each alerts request, the
    slice's state and pid are looked at; no clock, no polling."""

    def __init__(self, emulator, state_dir: Path) -> None:
        self.emulator = emulator
        self.state_dir = state_dir
        self.killed_state: dict | None = None
        self.advanced_to: str | None = None
        original = emulator.handle

        def handle(handler, method: str) -> None:
            if self.killed_state is None and ALERTS.match(handler.path):
                self.on_alerts_request()
            original(handler, method)

        emulator.handle = handle

    def on_alerts_request(self) -> None:
        for state_path in self.state_dir.glob("acme/backfill/*/slice-001.json"):
            state = json.loads(state_path.read_text() or "{}")
            incidents = state.get("bookmarks", {}).get("incidents", {})
            pid_path = state_path.with_name(state_path.name + ".pid")
            if self._half_way(state_path, incidents) and pid_path.exists():
                os.kill(int(pid_path.read_text()), signal.SIGKILL)
                self.killed_state = state
                self.advanced_to = self.emulator.advance(6)
                return

    @staticmethod
    def _half_way(state_path: Path, incidents: dict) -> bool:
        """Past the slice's first incident: `backfill_from` starts at the slice's anchor."""
        plan = json.loads((state_path.parent / "plan.json").read_text())
        done_to = incidents.get("backfill_from")
        return bool(done_to) and done_to > plan["slices"][1]["anchor_date"]


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    from pagerduty_emulator import Emulator

    folder = tmp_path_factory.mktemp("backfill")
    emulator = Emulator(
        seed=21,
        incidents=80,
        days=120,
        now=NOW,
        rate_limit=BUDGET * 60,
        tokens=("acme-key-1", "acme-key-2"),
        users=10,
        services=4,
        latency_ms=40,  # so that slice 1 is still running after its incidents
    ).start()
    env = {"ACME_KEY_1": "acme-key-1", "ACME_KEY_2": "acme-key-2"}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        accounts_file = write_accounts(
            folder,
            [{"name": "acme", "api_url": emulator.url, "token_env": list(env)}],
        )
        paths = paths_in(folder, accounts_file)
        (folder / "dagster").mkdir()
        instance = DagsterInstance.local_temp(str(folder / "dagster"))
        job = build_reconstructable_job(
            "orchestration.definitions",
            "backfill_job_from_files",
            reconstructable_kwargs={
                "accounts_file": paths.accounts_file,
                "state_dir": paths.state_dir,
                "output_dir": paths.output_dir,
                "account": "acme",
                "warehouse_dir": paths.warehouse_dir,
                "retry_delay": RETRY_DELAY,
            },
        )
        drill = Drill(emulator, Path(paths.state_dir))
        account = load_accounts(accounts_file)["acme"]
        with execute_job(
            job, instance=instance, run_config=backfill_config(account, partitions=4)
        ) as result:
            success = result.success
            run_id = result.run_id
            plan = result.output_for_node("acme__pagerduty.acme__plan", "plan")
        budget_stats = emulator.stats()["by_token"]
        # The hourly job takes over from the handed-over state.
        defs = build_definitions(paths, retry_delay=RETRY_DELAY, analytics=False)
        incremental = defs.resolve_job_def("pagerduty_hourly_acme")
        incremental_ok = incremental.execute_in_process(instance=instance).success
        yield {
            "emulator": emulator,
            "paths": paths,
            "success": success,
            "events": instance.all_logs(run_id),
            "plan": plan,
            "drill": drill,
            "budget_stats": budget_stats,
            "incremental_ok": incremental_ok,
        }
    finally:
        emulator.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def step_intervals(events) -> dict[str, list[tuple[float, float]]]:
    """Start and end time of every attempt of every slice step."""
    started: dict[str, float] = {}
    spans: dict[str, list[tuple[float, float]]] = {}
    ends = {
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.STEP_UP_FOR_RETRY,
    }
    for event in events:
        kind = event.dagster_event.event_type if event.dagster_event else None
        if not event.step_key or "sync_key" not in event.step_key:
            continue
        if kind in (DagsterEventType.STEP_START, DagsterEventType.STEP_RESTARTED):
            started[event.step_key] = event.timestamp
        elif kind in ends and event.step_key in started:
            spans.setdefault(event.step_key, []).append(
                (started.pop(event.step_key), event.timestamp)
            )
    return spans


def most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = best = 0
    for _, step in edges:
        running += step
        best = max(best, running)
    return best


@pytest.mark.slow
def test_backfill_runs_slices_in_parallel_within_each_key_budget(backfilled):
    assert backfilled["success"]
    plan = backfilled["plan"]
    assert len(plan["slices"]) == 4
    assert {s["token_env"] for s in plan["slices"]} == {"ACME_KEY_1", "ACME_KEY_2"}
    spans = step_intervals(backfilled["events"])
    assert len(spans) == 4
    everything = [span for attempts in spans.values() for span in attempts]
    assert most_at_once(everything) >= 2, "slices did not run in parallel"
    for key in ("sync_key_0", "sync_key_1"):
        mine = [span for step, attempts in spans.items() if key in step for span in attempts]
        assert most_at_once(mine) <= RUNS_PER_KEY
    stats = backfilled["budget_stats"]
    assert set(stats) == {"acme-key-1", "acme-key-2"}
    for key, seen in stats.items():
        assert seen["requests"] > 0
        assert seen["rate_limited"] == 0, f"{key} got 429s"
        assert seen["peak_per_second"] <= BUDGET, f"{key} over its budget: {seen}"
        assert seen["peak_per_minute"] <= BUDGET * 60


@pytest.mark.slow
def test_killed_slice_is_retried_and_resumes_from_its_state(backfilled):
    drill = backfilled["drill"]
    assert drill.killed_state is not None, "slice 1 never got half-way through its incidents"
    # Killed half-way: some incidents done, the last stream not started.
    resume_at = drill.killed_state["bookmarks"]["incidents"]["backfill_from"]
    assert (
        not drill.killed_state["bookmarks"]
        .get("analytics_incidents", {})
        .get("replication_key_value")
    )
    spans = step_intervals(backfilled["events"])
    killed = [step for step in spans if step.endswith("[slice_1]")]
    assert len(killed) == 1 and len(spans[killed[0]]) == 2, spans
    plan = backfilled["plan"]
    attempts = sorted(
        Path(backfilled["paths"].output_dir, "acme").glob(
            f"*-backfill-{plan['backfill_id'][:8]}-slice-001.jsonl"
        )
    )
    assert len(attempts) == 2
    before, after = (records_of(attempt, "incidents") for attempt in attempts)
    assert any(r["created_at"] <= resume_at for r in before)
    # The retry resumed from the last STATE: no incident before it was read again.
    assert after and all(r["created_at"] >= resume_at for r in after)
    assert records_of(attempts[1], "analytics_incidents")


def records_of(output_file: Path, stream: str) -> list[dict]:
    messages = [json.loads(line) for line in output_file.read_text().splitlines()]
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


@pytest.mark.slow
def test_backfill_hands_over_to_the_incremental_sync_without_gap(backfilled):
    emulator, paths, plan = backfilled["emulator"], backfilled["paths"], backfilled["plan"]
    assert backfilled["incremental_ok"]
    assert backfilled["drill"].advanced_to is not None
    handed = json.loads(
        (paths.backfill_dir("acme", plan["backfill_id"]) / "hand_over.json").read_text()
    )
    assert handed["bookmarks"]["incidents"]["replication_key_value"] == plan["started_at"] == NOW
    # Incidents changed while the backfill ran, after some slices had read them.
    changed = [
        i for i in emulator.truth("incidents", since=ANCHOR) if i["updated_at"] > plan["started_at"]
    ]
    assert changed
    assert_union_is_truth(emulator, paths, "acme", kept=KEPT_AFTER_ADVANCE - {"oncalls"})
    # The first incremental run emitted every incident the backfill has in an older version
    # (changed after a slice read it), never an older version than the backfill wrote.
    outputs = sorted(Path(paths.output_dir, "acme").glob("*.jsonl"))
    incremental = [path for path in outputs if "-incremental-" in path.name]
    assert len(incremental) == 1
    written: dict[str, str] = {}
    for path in outputs:
        if path not in incremental:
            for record in records_of(path, "incidents"):
                written[record["id"]] = max(record["updated_at"], written.get(record["id"], ""))
    emitted = records_of(incremental[0], "incidents")
    stale = {i["id"] for i in changed if written.get(i["id"], "") < i["updated_at"]}
    assert stale <= {r["id"] for r in emitted}
    assert all(r["updated_at"] >= written.get(r["id"], "") for r in emitted)
    assert len({r["id"] for r in emitted}) == len(emitted)


# ---------------------------------------------------------------------------------------------
# a slice reads the note log of its own range only
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("notes_log_end", ["now", "end_date"])
def test_a_slice_reads_the_note_log_to_its_end_only_when_told(emulator, notes_log_end):
    """With `notes_log_end: end_date` (what the backfill's slices get), no request reads the
    log past the slice's end; by default the log is read up to PagerDuty's now."""
    end = "2026-09-01T00:00:00Z"
    config = config_for(emulator, end_date=end, notes_log_end=notes_log_end)
    emulator.reset_stats()
    run_in_process(config, streams=["incidents", "incident_notes"])
    untils = [
        parse_qs(qs).get("until", [""])[0]
        for _, method, path, qs, _ in emulator.stats(log=True)["log"]
        if method == "GET" and path == "/log_entries"
    ]
    assert untils
    past_end = [u for u in untils if u > end]
    assert (past_end == []) == (notes_log_end == "end_date"), untils

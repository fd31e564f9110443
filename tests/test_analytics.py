"""Analytics end to end: Meltano loads the emulator into a real PostgreSQL and into DuckDB,
`dbt build` (analytics/, the same models for both) runs on each, and the results are checked
against the emulator's ground truth.

- PostgreSQL: a private server started in a temporary folder on a free port (tests/support/
  postgres.py), loaded by `meltano run tap-pagerduty target-postgres`, a full sync and then,
  after the emulator's clock moved, an incremental one. After each: raw row counts and staging
  row counts equal ground truth, dbt's own tests pass, and the mart figures equal figures
  computed from ground truth.
- DuckDB: `meltano run tap-pagerduty target-duckdb` with docs/pii.md's stream maps (e-mail
  addresses and phone numbers hashed), `dbt build`, the same mart checks, the hashed columns
  and the join on them, and the HTML report rendered from it.

The mart checks recompute from the emulator's records, in Python: MTTA, MTTR and incident
counts per service and week; pages and night pages per user and week; on-call hours per user
and week (split at week boundaries, including shifts that ended between the two syncs); teams,
contact methods and last audit activity per user.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from statistics import mean
from zoneinfo import ZoneInfo

import pytest
import yaml

from scripts.dbt_build import DBT, dbt_build, dbt_env, duckdb_env
from tests.support.postgres import DATABASE, PASSWORD, USER, TempPostgres
from tests.test_meltano_e2e import (
    ANCHOR,
    DAYS,
    INCIDENTS,
    NOW,
    ONCALL_DAYS,
    STREAMS,
    MeltanoProject,
    installed_plugins,
    mismatches,
    truth_counts,
)

pytestmark = pytest.mark.slow

ADVANCE_HOURS = 48
SCHEMA = "analytics"
# The two syncs of a test run are seconds apart (dbt's default is 10 minutes).
DBT_VARS = {"sync_gap_seconds": 2}
NIGHT = (22, 7)  # dbt_project.yml: night_start_hour, night_end_hour
# Streams whose raw table keeps rows the source no longer lists after a second sync.
KEPT = {"oncalls", "change_events"}
# docs/pii.md: its stream maps hash personal data in the DuckDB load.
PII_PAGE = Path(__file__).resolve().parents[1] / "docs" / "pii.md"
SALT = "test-salt"


# --------------------------------------------------------------------------- ground truth
def ts(value: str) -> datetime:
    """An API timestamp as a naive UTC datetime (how both warehouses return them)."""
    return (
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        .astimezone(timezone.utc)
        .replace(tzinfo=None)
    )


def monday(value: datetime) -> datetime:
    return datetime(value.year, value.month, value.day) - timedelta(days=value.weekday())


def percentile(values: list[float], fraction: float) -> float | None:
    """percentile_cont: linear between the two nearest ranks (PostgreSQL's and DuckDB's)."""
    values = sorted(values)
    if not values:
        return None
    rank = fraction * (len(values) - 1)
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def service_spread(emulator, now: str) -> dict[str, tuple]:
    """service -> (MTTA median, MTTA p90, MTTR median, MTTR p90), all incidents since anchor."""
    acks: dict[str, list[float]] = defaultdict(list)
    resolves: dict[str, list[float]] = defaultdict(list)
    for (service, _), items in incident_times(emulator, now).items():
        acks[service] += [i["ack"] for i in items if i["ack"] is not None]
        resolves[service] += [i["resolve"] for i in items if i["resolve"] is not None]
    return {
        service: (
            percentile(acks[service], 0.5),
            percentile(acks[service], 0.9),
            percentile(resolves[service], 0.5),
            percentile(resolves[service], 0.9),
        )
        for service in set(acks) | set(resolves)
    }


def service_weeks(emulator, now: str) -> dict[tuple, tuple]:
    """(service, week) -> (incidents, MTTA s, MTTR s) for incidents created since the anchor."""

    def avg(values: list) -> float | None:
        values = [v for v in values if v is not None]
        return mean(values) if values else None

    return {
        key: (len(items), avg([i["ack"] for i in items]), avg([i["resolve"] for i in items]))
        for key, items in incident_times(emulator, now).items()
    }


def incident_times(emulator, now: str) -> dict[tuple, list[dict]]:
    """(service, week) -> seconds to first acknowledgement and to resolve of each incident."""
    first_ack: dict[str, datetime] = {}
    for entry in emulator.truth("log_entries", since=ANCHOR, until=now):
        if entry["type"] == "acknowledge_log_entry":
            at = ts(entry["created_at"])
            incident = entry["incident"]["id"]
            first_ack[incident] = min(at, first_ack.get(incident, at))
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for incident in emulator.truth("incidents", since=ANCHOR, until=now):
        created = ts(incident["created_at"])
        groups[(incident["service"]["id"], monday(created).date())].append(
            {
                "ack": (first_ack[incident["id"]] - created).total_seconds()
                if incident["id"] in first_ack
                else None,
                "resolve": (ts(incident["resolved_at"]) - created).total_seconds()
                if incident["status"] == "resolved"
                else None,
            }
        )
    return groups


def pages(emulator, now: str) -> dict[tuple, tuple]:
    """(user, week) -> (pages, night pages in the user's time zone)."""
    zones = {u["id"]: ZoneInfo(u["time_zone"] or "UTC") for u in emulator.truth("users")}
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for notification in emulator.truth("notifications", since=ANCHOR, until=now):
        user = notification["user"]["id"]
        started = ts(notification["started_at"])
        hour = started.replace(tzinfo=timezone.utc).astimezone(zones[user]).hour
        count = counts[(user, monday(started).date())]
        count[0] += 1
        count[1] += hour >= NIGHT[0] or hour < NIGHT[1]
    return {key: tuple(value) for key, value in counts.items()}


def oncall_entries(emulator, now: str) -> list[dict]:
    start = ts(now)
    until = (start + timedelta(days=ONCALL_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [e for e in emulator.truth("oncalls", since=now, until=until) if e["start"]]


def oncall_hours(current: list[dict], earlier: Sequence[dict] = ()) -> dict[tuple, float]:
    """(user, week) -> hours on call: current entries, plus earlier ones that have ended."""
    boundary = min(ts(e["end"]) for e in current)
    shifts = list(current) + [e for e in earlier if ts(e["end"]) < boundary]
    hours: dict[tuple, float] = defaultdict(float)
    for shift in shifts:
        start, end = ts(shift["start"]), ts(shift["end"])
        week = monday(start)
        while week < end:
            overlap = min(end, week + timedelta(days=7)) - max(start, week)
            hours[(shift["user"]["id"], week.date())] += overlap.total_seconds() / 3600
            week += timedelta(days=7)
    return dict(hours)


def access(emulator, now: str) -> dict[str, tuple]:
    """user -> (teams, contact methods, notification rules, last audit activity)."""
    teams: defaultdict[str, int] = defaultdict(int)
    for member in emulator.truth("team_members"):
        teams[member["user_id"]] += 1
    methods: defaultdict[str, int] = defaultdict(int)
    for method in emulator.truth("user_contact_methods"):
        methods[method["user_id"]] += 1
    rules: defaultdict[str, int] = defaultdict(int)
    for rule in emulator.truth("user_notification_rules"):
        rules[rule["user_id"]] += 1
    last: dict[str, datetime] = {}
    for record in emulator.truth("audit_records", since=ANCHOR, until=now):
        actor = (record.get("actors") or [{}])[0]
        if actor.get("type") == "user_reference":
            at = ts(record["execution_time"])
            last[actor["id"]] = max(at, last.get(actor["id"], at))
    return {
        u["id"]: (teams[u["id"]], methods[u["id"]], rules[u["id"]], last.get(u["id"]))
        for u in emulator.truth("users")
    }


# --------------------------------------------------------------------------- warehouse side
def fetch(con, sql: str) -> list[tuple]:
    cursor = con.cursor()
    cursor.execute(sql)
    return cursor.fetchall()


def counts(con, schema: str, tables: list[str]) -> dict[str, int]:
    return {t: fetch(con, f'select count(*) from {schema}."{t}"')[0][0] for t in tables}


def check_unknown_fields_kept(con) -> None:
    """The emulator sends fields no schema lists (`novel_fields`): they reach the target in
    each record's `_extra` column, in the record's own shape."""
    import json

    def extras(table: str) -> list[dict]:
        rows = fetch(con, f'select "_extra" from pagerduty."{table}"')
        return [json.loads(v) if isinstance(v, str) else v for (v,) in rows]

    users = extras("users")
    assert users and all(e["billed"] is True for e in users), users[:2]
    assert any(m and m.get("send_html_email") is False for e in users for m in e["contact_methods"])
    assert all(e == {"parent": None} for e in extras("teams"))
    keys = [e["integration_key"] for e in extras("service_integrations")]
    assert keys and all(k.startswith("key-") for k in keys)


def raw_tables(con) -> list[str]:
    rows = fetch(
        con,
        "select table_name from information_schema.tables where table_schema = 'pagerduty'",
    )
    return sorted(name for (name,) in rows)


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def diff(expected: dict, got: dict, same) -> list[str]:
    keys = sorted(set(expected) | set(got), key=str)
    return [
        f"{key}: expected {expected.get(key)}, got {got.get(key)}"
        for key in keys
        if key not in expected or key not in got or not same(expected[key], got[key])
    ]


def check_marts(con, emulator, now: str, earlier_oncalls: Sequence[dict] = ()) -> None:
    """Every checked mart figure equals the figure computed from ground truth."""
    got_services = {
        (service, week): (n, mtta, mttr)
        for service, week, n, mtta, mttr in fetch(
            con,
            f"select service_id, week_start, incidents, mtta_seconds, mttr_seconds "
            f"from {SCHEMA}.service_health_weekly",
        )
    }
    expected_services = service_weeks(emulator, now)
    assert sum(n for n, _, _ in expected_services.values()) > 50, "too few incidents to prove much"
    bad = diff(
        expected_services,
        got_services,
        lambda e, g: e[0] == g[0] and close(g[1], e[1]) and close(g[2], e[2]),
    )
    assert not bad, "service_health_weekly differs from ground truth:\n" + "\n".join(bad[:20])

    got_spread = {
        service: spread
        for service, *spread in fetch(
            con,
            f"select service_id, mtta_median_seconds, mtta_p90_seconds, mttr_median_seconds, "
            f"mttr_p90_seconds from {SCHEMA}.service_health where incidents > 0",
        )
    }
    bad = diff(
        service_spread(emulator, now),
        {service: tuple(spread) for service, spread in got_spread.items()},
        lambda e, g: all(close(a, b) for a, b in zip(g, e, strict=True)),
    )
    assert not bad, "service_health medians / p90 differ:\n" + "\n".join(bad[:20])

    load = fetch(
        con,
        f"select user_id, week_start, pages, night_pages, oncall_hours "
        f"from {SCHEMA}.oncall_load_weekly",
    )
    got_pages = {(u, w): (p, n) for u, w, p, n, _ in load if p}
    expected_pages = pages(emulator, now)
    assert any(n for _, n in expected_pages.values()), "no night pages: the check proves little"
    bad = diff(expected_pages, got_pages, lambda e, g: e == g)
    assert not bad, "pages per user and week differ:\n" + "\n".join(bad[:20])

    got_hours = {(u, w): h for u, w, _, _, h in load if h}
    expected_hours = oncall_hours(oncall_entries(emulator, now), earlier_oncalls)
    bad = diff(expected_hours, got_hours, lambda e, g: close(g, e))
    assert not bad, "on-call hours per user and week differ:\n" + "\n".join(bad[:20])

    got_access = {
        user: (teams, methods, rules, last)
        for user, teams, methods, rules, last in fetch(
            con,
            f"select user_id, teams, contact_methods, notification_rules, last_activity_at "
            f"from {SCHEMA}.access_review",
        )
    }
    bad = diff(access(emulator, now), got_access, lambda e, g: e == g)
    assert not bad, "access_review differs from ground truth:\n" + "\n".join(bad[:20])


def check_build(result) -> None:
    assert result.returncode == 0, f"dbt build failed:\n{result.output[-4000:]}"
    assert result.counts.get("ERROR") == 0 and result.counts.get("PASS", 0) >= 150, result.summary


def check_staging(con, emulator, now: str, incremental: bool) -> None:
    expected = truth_counts(emulator, now)
    got = counts(con, SCHEMA, [f"stg_{s}" for s in STREAMS])
    got = {name.removeprefix("stg_"): n for name, n in got.items()}
    # Change events: PagerDuty keeps 90 days; the warehouse keeps what it loaded before.
    history = {"change_events"} if incremental else set()
    bad = mismatches({s: n for s, n in expected.items() if s not in history}, got)
    assert not bad, "staging row counts differ from the emulator's truth:\n" + "\n".join(bad)
    for stream in history:
        assert got[stream] >= expected[stream], stream


# --------------------------------------------------------------------------- fixtures
# Each warehouse has its own emulator and Meltano state, so its tests hold in any order and on
# any pytest-xdist worker; the plugins are installed once per worker (installed_plugins).
@pytest.fixture(scope="module")
def plugins(tmp_path_factory) -> Path:
    if not DBT.exists():
        pytest.fail(f"dbt is missing ({DBT}): `make venv` installs it into .venv-dbt")
    return installed_plugins(tmp_path_factory)


def start_emulator(request):
    from pagerduty_emulator import Emulator

    # `novel_fields`: fields PagerDuty sends that no schema lists, kept in `_extra`.
    emulator = Emulator(
        seed=3, incidents=INCIDENTS, days=DAYS, now=NOW, rate_limit=0, novel_fields=True
    ).start()
    request.addfinalizer(emulator.stop)
    return emulator


@pytest.fixture
def postgres_pipeline(tmp_path, request, plugins):
    emulator = start_emulator(request)
    postgres = TempPostgres().start()
    request.addfinalizer(postgres.stop)
    project = MeltanoProject(tmp_path, emulator.url, plugins)
    project.env.update(
        TARGET_POSTGRES_HOST=postgres.host,
        TARGET_POSTGRES_PORT=str(postgres.port),
        TARGET_POSTGRES_USER=USER,
        TARGET_POSTGRES_PASSWORD=PASSWORD,
        TARGET_POSTGRES_DATABASE=DATABASE,
    )
    con = postgres.connect()
    con.autocommit = True
    request.addfinalizer(con.close)
    pg_env = dbt_env(
        "postgres",
        DBT_POSTGRES_HOST=postgres.host,
        DBT_POSTGRES_PORT=str(postgres.port),
        DBT_POSTGRES_USER=USER,
        DBT_POSTGRES_PASSWORD=PASSWORD,
        DBT_POSTGRES_DATABASE=DATABASE,
    )
    return emulator, project, con, pg_env, tmp_path


def pii_maps() -> dict[str, str]:
    """The stream maps of docs/pii.md's meltano.yml block, as Meltano reads them from the
    environment (the salt given here)."""
    block = PII_PAGE.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    (tap,) = yaml.safe_load(block)["plugins"]["extractors"]
    map_config = {
        key: value.replace("${PII_HASH_SALT}", SALT)
        for key, value in tap["config"]["stream_map_config"].items()
    }
    return {
        "TAP_PAGERDUTY_STREAM_MAPS": json.dumps(tap["config"]["stream_maps"]),
        "TAP_PAGERDUTY_STREAM_MAP_CONFIG": json.dumps(map_config),
    }


@pytest.fixture
def duckdb_built(tmp_path, request, plugins):
    """The DuckDB load runs with docs/pii.md's stream maps: personal data hashed."""
    emulator = start_emulator(request)
    tmp = tmp_path / "duckdb"
    tmp.mkdir()
    project = MeltanoProject(tmp, emulator.url, plugins)
    plain = dict(project.env)
    project.env.update(pii_maps())
    try:
        project.meltano("run", "tap-pagerduty", "target-duckdb")
    finally:
        project.env.clear()
        project.env.update(plain)
    result = dbt_build(duckdb_env(project.warehouse), tmp / "dbt-duckdb", DBT_VARS)
    return emulator, project.warehouse, result


def test_postgres_full_then_incremental_sync_and_dbt_match_ground_truth(
    postgres_pipeline,
) -> None:
    """One test for both syncs: the second needs the first's warehouse and Meltano state, so
    they cannot run on different pytest-xdist workers or in the other order."""
    emulator, project, con, pg_env, tmp = postgres_pipeline
    project.meltano("run", "tap-pagerduty", "target-postgres")
    tables = raw_tables(con)
    assert tables == STREAMS
    bad = mismatches(truth_counts(emulator, NOW), counts(con, "pagerduty", tables))
    assert not bad, "raw row counts differ from the emulator's truth:\n" + "\n".join(bad)
    check_unknown_fields_kept(con)

    # Both builds share dbt's target folder: the second reuses the first's parse (partial
    # parsing), as nothing in the project, its variables or its profile changed between them.
    dbt_work = tmp / "dbt-pg"
    check_build(dbt_build(pg_env, dbt_work, DBT_VARS))
    check_staging(con, emulator, NOW, incremental=False)
    check_marts(con, emulator, NOW)

    # The incremental sync, after the emulator's clock moved.
    before = oncall_entries(emulator, NOW)
    now = emulator.advance(ADVANCE_HOURS)
    project.meltano("run", "tap-pagerduty", "target-postgres")
    expected = truth_counts(emulator, now)
    got = counts(con, "pagerduty", raw_tables(con))
    bad = mismatches({s: n for s, n in expected.items() if s not in KEPT}, got)
    assert not bad, "raw row counts differ from the emulator's truth:\n" + "\n".join(bad)
    assert got["oncalls"] > expected["oncalls"], "no on-call entry ended: the check proves little"

    check_build(dbt_build(pg_env, dbt_work, DBT_VARS))
    # Staging drops the on-call entries the second sync no longer listed.
    check_staging(con, emulator, now, incremental=True)
    check_marts(con, emulator, now, earlier_oncalls=before)


def test_duckdb_dbt_build_marts_hashed_personal_data_and_report(duckdb_built, tmp_path) -> None:
    """One test for the three checks of the DuckDB warehouse: as separate tests, pytest-xdist
    spreads them over its workers, and each worker loads and builds the warehouse again."""
    check_duckdb_build_and_marts(duckdb_built)
    check_personal_data_is_hashed_and_still_joins(duckdb_built)
    check_report_renders_offline_from_the_marts(duckdb_built, tmp_path)


def check_duckdb_build_and_marts(duckdb_built) -> None:
    import duckdb

    emulator, warehouse, result = duckdb_built
    check_build(result)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        check_unknown_fields_kept(con)
        check_staging(con, emulator, NOW, incremental=False)
        check_marts(con, emulator, NOW)


def check_personal_data_is_hashed_and_still_joins(duckdb_built) -> None:
    """docs/pii.md's stream maps, run through Meltano: no e-mail address or phone number in
    clear text, and the mart that joins login e-mails to contact methods gives what clear text
    gives."""
    import duckdb

    emulator, warehouse, _ = duckdb_built
    users, methods = emulator.truth("users"), emulator.truth("user_contact_methods")

    def hashed(value: str) -> str:
        return hashlib.sha256((SALT + value).encode("utf-8")).hexdigest()

    with duckdb.connect(str(warehouse), read_only=True) as con:
        emails = dict(fetch(con, "select id, email from pagerduty.users"))
        addresses = dict(fetch(con, "select id, address from pagerduty.user_contact_methods"))
        embedded = " ".join(
            text for (text,) in fetch(con, "select contact_methods::varchar from pagerduty.users")
        )
        sent_to = [a for (a,) in fetch(con, "select address from pagerduty.notifications")]
        joined = dict(
            fetch(con, f"select user_id, login_email_is_contact_method from {SCHEMA}.access_review")
        )
    assert emails == {u["id"]: hashed(u["email"]) for u in users}
    assert addresses == {m["id"]: hashed(m["address"]) for m in methods}
    assert not [m["address"] for m in methods if m["address"] in embedded]
    assert sent_to and not [a for a in sent_to if a and ("@" in a or a.isdigit())]
    expected = {
        u["id"]: any(
            m["user_id"] == u["id"]
            and m["type"] == "email_contact_method"
            and m["address"] == u["email"]
            for m in methods
        )
        for u in users
    }
    assert any(expected.values()), "no login e-mail is a contact method: the join proves little"
    assert joined == expected


def check_report_renders_offline_from_the_marts(duckdb_built, tmp_path) -> None:
    import duckdb

    from scripts.report import write_report

    _, warehouse, _ = duckdb_built
    page = write_report(warehouse, tmp_path / "report.html", subtitle="test")
    html = page.read_text(encoding="utf-8")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(f"select count(*) from {SCHEMA}.incident_lifecycle").fetchone()
        assert row is not None
        (incidents,) = row
    assert f"<b>{incidents:,}</b><span>incidents</span>" in html, "incident count card"
    assert html.count("<svg") >= 5, "charts missing"
    # Offline: nothing is fetched (no script, stylesheet, image or font from elsewhere).
    for needle in ("<script src", "<link", "@import", 'src="http', "url(http"):
        assert needle not in html
    assert "Payments Gateway" in html or "Auth Service" in html, "no service names in the report"

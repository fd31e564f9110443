"""End to end through Meltano: `meltano run tap-pagerduty target-duckdb` against the emulator.

Uses the repository's meltano.yml as a user would, but with every piece of Meltano state in a
temporary folder (plugin venvs, system database, incremental state) and the DuckDB file
there too, so the test neither needs nor touches the checkout's `.meltano/` and `output/`.
`meltano install` needs PyPI (the tap itself is installed from this checkout); it does not
need Meltano Hub.

Two runs: a full sync, then, after the emulator's clock moved forward, an incremental one.
After each, the row count of every table in DuckDB must equal the emulator's ground truth.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from scripts.meltano_run import meltano_env
from tap_pagerduty.streams import INCREMENTAL_STREAMS, STREAM_TYPES

if TYPE_CHECKING:
    import duckdb

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
MELTANO = Path(sys.executable).parent / "meltano"
TOKEN = "emulator-token"
SCHEMA = "pagerduty"
NOW = "2026-11-01T00:00:00Z"
# Incidents exist before the anchor too, so the test also shows they are left out.
ANCHOR = "2026-05-01T00:00:00Z"
INCIDENTS = 150
DAYS = 240
ADVANCE_HOURS = 48
ONCALL_DAYS = 90  # the tap's default `oncall_days`

# Streams read from `anchor_date` on; the incidents' children follow incidents created since.
FROM_ANCHOR = set(INCREMENTAL_STREAMS)
STREAMS = sorted(cls.name for cls in STREAM_TYPES)
# meltano.yml's plugins the tests run (tests/test_analytics.py loads PostgreSQL too).
PLUGINS = ("tap-pagerduty", "target-duckdb", "target-postgres")


def z(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def truth_counts(emulator, now: str) -> dict[str, int]:
    """What a correct sync holds for each stream when the emulator's clock says `now`."""
    counts = {}
    for stream in STREAMS:
        if stream == "oncalls":
            start = datetime.fromisoformat(now.replace("Z", "+00:00"))
            until = z(start + timedelta(days=ONCALL_DAYS))
            records = emulator.truth("oncalls", since=now, until=until)
        elif stream in ("schedule_overrides", "schedule_users"):  # anchor .. now + 90 days
            start = datetime.fromisoformat(now.replace("Z", "+00:00"))
            until = z(start + timedelta(days=90))
            records = emulator.truth(stream, since=ANCHOR, until=until)
        elif stream in FROM_ANCHOR or stream.startswith("analytics_metrics_"):
            records = emulator.truth(stream, since=ANCHOR, until=now)
        else:
            records = emulator.truth(stream)
        counts[stream] = len(records)
    return counts


class MeltanoProject:
    """The repository's Meltano project with a private database (its state) and warehouse;
    its system folder (plugin venvs) private too unless `plugins` names an installed one."""

    def __init__(self, tmp: Path, api_url: str, plugins: Path | None = None) -> None:
        self.tmp = tmp
        self.warehouse = tmp / "warehouse.duckdb"
        self.env = meltano_env(
            MELTANO_PROJECT_ROOT=str(ROOT),
            MELTANO_SYS_DIR_ROOT=str(plugins or tmp / ".meltano"),
            MELTANO_DATABASE_URI=f"sqlite:///{tmp / 'meltano.db'}",
            TAP_PAGERDUTY_API_URL=api_url,
            TAP_PAGERDUTY_API_TOKEN=TOKEN,
            TAP_PAGERDUTY_ANCHOR_DATE=ANCHOR,
            TAP_PAGERDUTY_REQUESTS_PER_SECOND="200",
            TARGET_DUCKDB_FILEPATH=str(self.warehouse),
        )
        self.runs = 0

    def meltano(self, *args: str, timeout: float = 600) -> None:
        self.runs += 1
        log = self.tmp / f"meltano-{self.runs}-{args[0]}.log"
        with log.open("w", encoding="utf-8") as sink:
            done = subprocess.run(
                [str(MELTANO), *args],
                cwd=ROOT,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        if done.returncode != 0:
            tail = "\n".join(log.read_text(encoding="utf-8").splitlines()[-60:])
            pytest.fail(f"`meltano {' '.join(args)}` exited {done.returncode}; log {log}:\n{tail}")

    def table_counts(self) -> dict[str, int]:
        import duckdb

        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            tables = [
                name
                for (name,) in con.execute(
                    "select table_name from information_schema.tables where table_schema = ?",
                    [SCHEMA],
                ).fetchall()
            ]
            return {t: count_rows(con, f'{SCHEMA}."{t}"') for t in tables}

    def incident_statuses(self) -> dict[str, str]:
        import duckdb

        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return dict(con.execute(f"select id, status from {SCHEMA}.incidents").fetchall())


def count_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"select count(*) from {table}").fetchone()
    assert row is not None, table
    return int(row[0])


def mismatches(expected: dict[str, int], got: dict[str, int]) -> list[str]:
    return [
        f"{stream}: expected {expected[stream]}, got {got.get(stream, 'no table')}"
        for stream in sorted(expected)
        if got.get(stream) != expected[stream]
    ]


def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Meltano system folder with the plugins the tests run installed (`meltano install`),
    once per pytest worker: the install costs seconds of CPU. Projects share it, each with
    its own state database and warehouse; a worker runs one test at a time, so no two runs of
    a plugin use its run folder (`.meltano/run/<plugin>`) at once."""
    if not MELTANO.exists():
        pytest.fail(f"{MELTANO} is missing: install the dev extras (`make venv`)")
    folder = tmp_path_factory.getbasetemp() / "meltano-plugins"
    installed = folder / "installed"
    if not installed.exists():
        folder.mkdir(exist_ok=True)
        # `meltano install` reads no setting's value: no emulator needed.
        installer = MeltanoProject(folder, api_url="http://127.0.0.1:9")
        installer.meltano("install", *PLUGINS)
        installed.touch()
    return folder / ".meltano"


@pytest.fixture
def setup(tmp_path, tmp_path_factory, request):
    from pagerduty_emulator import Emulator

    plugins = installed_plugins(tmp_path_factory)
    emulator = Emulator(seed=3, incidents=INCIDENTS, days=DAYS, now=NOW, rate_limit=0).start()
    request.addfinalizer(emulator.stop)
    return emulator, MeltanoProject(tmp_path, emulator.url, plugins)


def test_meltano_full_then_incremental_run_match_ground_truth(setup) -> None:
    """One test for both runs: the second needs the first's warehouse and Meltano state, so
    they cannot run on different pytest-xdist workers or in the other order."""
    emulator, project = setup
    project.meltano("run", "tap-pagerduty", "target-duckdb")
    expected = truth_counts(emulator, NOW)
    got = project.table_counts()
    assert set(got) == set(STREAMS), "tables differ from the tap's streams"
    assert expected["incidents"] > 0
    assert expected["incidents"] < len(emulator.truth("incidents")), "anchor filters nothing"
    bad = mismatches(expected, got)
    assert not bad, "full run: row counts differ from the emulator's truth:\n" + "\n".join(bad)

    before = project.incident_statuses()
    now = emulator.advance(ADVANCE_HOURS)  # the new 'now', ISO with Z
    project.meltano("run", "tap-pagerduty", "target-duckdb")
    expected = truth_counts(emulator, now)
    got = project.table_counts()
    # Not comparable after a second run: the target keeps rows the source no longer lists.
    # oncalls: the 90-day window moved; change_events: PagerDuty keeps only 90 days.
    kept = {"oncalls", "change_events"}
    bad = mismatches({s: n for s, n in expected.items() if s not in kept}, got)
    assert not bad, "incremental run: row counts differ from the truth:\n" + "\n".join(bad)
    for stream in kept:
        assert got[stream] >= expected[stream], stream
    # Every incident in its latest version (acknowledged, resolved ... since run 1).
    truth = {i["id"]: i["status"] for i in emulator.truth("incidents", since=ANCHOR, until=now)}
    after = project.incident_statuses()
    assert after == truth
    assert len(after) > len(before), "no new incidents: the test would prove little"
    assert any(after[i] != status for i, status in before.items()), "no incident changed"

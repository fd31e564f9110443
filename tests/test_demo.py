"""What `make demo` prints: a query that works as printed, a summary that fits one screen, each
progress line once. (The whole demo runs in `make demo`; these tests stay small.)"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import duckdb

from scripts import demo
from scripts.meltano_run import MeltanoProgress

ROOT = Path(__file__).resolve().parents[1]


def test_the_printed_query_runs_as_printed(tmp_path: Path) -> None:
    """The one-liner, pasted in a shell at the repository root, prints the incidents' statuses
    (the old `duckdb.connect(...).sql(...)` form failed: the connection closed first)."""
    (tmp_path / "output").mkdir()
    with duckdb.connect(str(tmp_path / "output" / demo.WAREHOUSE.name)) as con:
        con.execute(f"create schema {demo.SCHEMA}")
        table = f"{demo.WAREHOUSE.stem}.{demo.SCHEMA}.incidents"
        con.execute(f"create table {table} (id varchar, status varchar)")
        con.execute(
            f"insert into {table} values "
            "('P1', 'resolved'), ('P2', 'resolved'), ('P3', 'triggered')"
        )
    # The command names .venv/bin/python relative to the repository root: give it one.
    (tmp_path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    command = demo.query_command(demo.WAREHOUSE)
    done = subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "resolved" in line or "triggered" in line]
    assert len(lines) == 2 and "2" in lines[0] and "1" in lines[1]


def test_the_summary_fits_one_screen() -> None:
    """The recorded demo run's closing summary: at most 40 rows of a 100-column terminal."""
    results = json.loads((ROOT / "docs" / "results" / "demo.json").read_text())
    lines = demo.summary_lines(results)
    rows = sum(max(1, math.ceil(len(line) / 100)) for line in lines)
    assert rows <= 40, f"{rows} rows"
    assert any("API requests" in line for line in lines)
    assert any(f"{results['dbt']['tests']} tests" in line for line in lines)


def test_progress_says_each_line_once() -> None:
    said: list[str] = []
    progress = MeltanoProgress(said.append, every=3600)
    metric = '{"type": "counter", "metric": "record_count", "value": 5, "tags": {}}'
    progress.feed(f"2026-11-23T20:20:16.070635Z [info     ] tap-pagerduty METRIC: {metric}\n")
    progress.beat()
    progress.finish()  # nothing new since the last beat
    assert len(said) == 1 and "5 records" in said[0]


def test_an_expected_warning_is_said_as_a_fact() -> None:
    """The demo clears its state on purpose: Meltano's "No state was found" is no warning the
    user can act on."""
    said: list[str] = []
    progress = MeltanoProgress(said.append, every=3600)
    line = (
        "2026-11-23T20:20:16.070635Z [warning  ] meltano      No state was found, complete import."
    )
    progress.feed(line + "\n")
    progress.feed("2026-11-23T20:20:17.000000Z [warning  ] tap-pagerduty Skipping stream 'x'\n")
    assert said == [
        "meltano: no saved state: a full sync",
        "tap-pagerduty: warning: Skipping stream 'x'",
    ]

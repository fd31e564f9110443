"""`make demo`: a PagerDuty warehouse in DuckDB from a local emulator, in a few minutes.

1. `meltano install` (plugin venvs in .meltano/, from PyPI and this repository);
2. start the PagerDuty emulator on 127.0.0.1 with two years of history;
3. `meltano run tap-pagerduty target-duckdb` into output/pagerduty.duckdb (full sync);
4. move the emulator's clock forward three days and run again (incremental sync);
5. stop the emulator and print a report from DuckDB;
6. build the dbt models in analytics/ on the warehouse and write output/report.html.

No PagerDuty account and no Meltano Hub are needed. Run it with `make demo` or
`.venv/bin/python -m scripts.demo` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import unicodedata
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

from scripts.dbt_build import dbt_build, duckdb_env
from scripts.meltano_run import MeltanoProgress, meltano_env
from scripts.report import write_report
from tap_pagerduty.streams import INCREMENTAL_STREAMS

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OUTPUT = ROOT / "output"
WAREHOUSE = OUTPUT / "pagerduty.duckdb"
LOGS = OUTPUT / "logs"
SCHEMA = "pagerduty"

# The demo account: two years of history. Sized so that `make demo` stays well under five
# minutes on a fresh clone with two cores.
DAYS = 730
INCIDENTS = 800
SEED = 5  # an account with a few incidents open for days, so run 2 also shows changes
ADVANCE_HOURS = 72
# Rate: the tap is allowed 100 requests/s, and the emulator is started with a limit of
# 7,200 requests/min (120/s) instead of PagerDuty's 960/min, so the demo never waits on a 429.
TAP_REQUESTS_PER_SECOND = 100
EMULATOR_RATE_LIMIT = 7200
TOKEN = "emulator-token"
STATE_SUFFIX = "demo"  # state id dev:tap-pagerduty-to-target-duckdb:demo, apart from real runs

INCREMENTAL = set(INCREMENTAL_STREAMS)

# Analytics (analytics/, dbt): the demo's two syncs are seconds apart, so staging must tell
# them apart by a shorter pause than dbt's default of 10 minutes.
DBT_VARS = {"sync_gap_seconds": 5}
REPORT = OUTPUT / "report.html"
#: Every figure of the run, for scripts/docs.py (`python -m scripts.docs --demo ...`).
RESULTS = OUTPUT / "demo-results.json"


def say(message: str = "") -> None:
    print(message, flush=True)


def step(message: str) -> None:
    say()
    say(f"==> {message}")


# --------------------------------------------------------------------------- emulator
class EmulatorProcess:
    """`python -m pagerduty_emulator` as a child process, driven through its admin API."""

    def __init__(self, incidents: int, days: int) -> None:
        args = [
            sys.executable,
            "-m",
            "pagerduty_emulator",
            "--port",
            "0",
            "--seed",
            str(SEED),
            "--incidents",
            str(incidents),
            "--days",
            str(days),
            # The emulator's clock starts ADVANCE_HOURS behind this machine's, so that after
            # run 2's advance it is not ahead of it: the tap does not believe a server clock
            # more than 5 minutes ahead of its own (it would end run 2's windows at this
            # machine's "now" and miss the new incidents, with a warning).
            "--now",
            iso_z(
                (datetime.now(timezone.utc) - timedelta(hours=ADVANCE_HOURS)).replace(
                    minute=0, second=0, microsecond=0
                )
            ),
            "--rate-limit",
            str(EMULATOR_RATE_LIMIT),
        ]
        self.proc = subprocess.Popen(
            args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if "listening on " not in line:
            self.stop()
            raise SystemExit(f"demo: the emulator did not start: {line!r}")
        self.banner = line
        self.url = line.split("listening on ", 1)[1].split()[0]

    def admin(self, method: str, path: str) -> dict:
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def now(self) -> datetime:
        return parse_z(self.admin("GET", "/_admin/now")["now"])

    def advance(self, hours: float) -> datetime:
        return parse_z(self.admin("POST", f"/_admin/advance?hours={hours:g}")["now"])

    def requests(self) -> int:
        return int(self.admin("GET", "/_admin/stats")["requests"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def parse_z(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def iso_z(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- meltano
def meltano(args: list[str], env: dict[str, str], log: Path, label: str) -> float:
    """Run `meltano ARGS`, show progress, keep the full log; exit the demo if it fails."""
    started = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [str(BIN / "meltano"), *args]
    say(f"    $ meltano {' '.join(args)}    (full log: {log.relative_to(ROOT)})")
    progress = MeltanoProgress(say, prefix="    ")
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            sink.write(line)
            progress.feed(line)
        code = proc.wait()
    took = time.monotonic() - started
    progress.finish()
    if code != 0:
        say(f"demo: `meltano {' '.join(args)}` failed (exit {code}). Last lines of {log}:")
        for line in log.read_text(encoding="utf-8").splitlines()[-40:]:
            say(f"    {line}")
        raise SystemExit(1)
    if label:
        say(f"    {label} finished in {took:.0f} s")
    return took


# --------------------------------------------------------------------------- duckdb
def connect():
    """Open the warehouse read-only with `pagerduty` as the current schema.

    The file is pagerduty.duckdb, so its catalog is also called `pagerduty` and a bare
    `pagerduty.incidents` would be ambiguous: hence `USE <catalog>.<schema>`.
    """
    import duckdb  # the project's dev dependency (same version as target-duckdb's)

    con = duckdb.connect(str(WAREHOUSE), read_only=True)
    con.execute(f'USE "{WAREHOUSE.stem}"."{SCHEMA}"')
    return con


def table_counts(con) -> dict[str, int]:
    tables = [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "order by table_name",
            [SCHEMA],
        ).fetchall()
    ]
    return {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}


def latest_batch(con, tables: list[str]) -> datetime | None:
    stamps = [con.execute(f'select max(_sdc_batched_at) from "{t}"').fetchone()[0] for t in tables]
    stamps = [s for s in stamps if s is not None]
    return max(stamps) if stamps else None


def loaded_since(con, tables: list[str], cutoff: datetime) -> dict[str, int]:
    return {
        t: con.execute(
            f'select count(*) from "{t}" where _sdc_batched_at > ?', [cutoff]
        ).fetchone()[0]
        for t in tables
    }


def minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.2f} h"


def service_report(con, since: datetime) -> list[tuple]:
    """Per service, incidents created since `since`: count, open, MTTA, MTTR and the median
    time to resolve (seconds; a few incidents open for days pull the mean far from it).

    Time to acknowledge: first `acknowledge_log_entry` of the incident minus its creation
    (incidents never acknowledged do not count); time to resolve: `resolved_at` minus
    `created_at` (open incidents do not count).
    """
    return con.execute(
        """
        with recent as (
            select id, created_at, resolved_at, status,
                   json_extract_string(service, '$.id') as service_id,
                   json_extract_string(service, '$.summary') as service_summary
            from incidents
            where created_at >= ?
        ),
        first_ack as (
            select json_extract_string(incident, '$.id') as incident_id,
                   min(created_at) as acked_at
            from log_entries
            where type = 'acknowledge_log_entry'
            group by 1
        )
        select coalesce(s.name, r.service_summary) as service,
               count(*) as incidents,
               count(*) filter (where r.status <> 'resolved') as still_open,
               avg(epoch(a.acked_at) - epoch(r.created_at)) as mtta,
               avg(epoch(r.resolved_at) - epoch(r.created_at)) as mttr,
               median(epoch(r.resolved_at) - epoch(r.created_at)) as mttr_median
        from recent r
        left join first_ack a on a.incident_id = r.id
        left join services s on s.id = r.service_id
        group by 1
        order by incidents desc, service
        """,
        [since.replace(tzinfo=None)],
    ).fetchall()


def width(text: str) -> int:
    """Columns `text` takes in a terminal (East Asian wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table_lines(headers: list[str], rows: list[list], right: set[int]) -> list[str]:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(width(h), *(width(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        padded = []
        for i, value in enumerate(values):
            pad = " " * (widths[i] - width(value))
            padded.append(pad + value if i in right else value + pad)
        return "    " + "  ".join(padded).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)]


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo", description=__doc__)
    parser.add_argument("--incidents", type=int, default=INCIDENTS)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--skip-install", action="store_true", help="skip `meltano install`")
    options = parser.parse_args(argv)

    started = time.monotonic()
    OUTPUT.mkdir(exist_ok=True)
    LOGS.mkdir(exist_ok=True)
    env = meltano_env()

    if not options.skip_install:
        step("Installing the Meltano plugins (tap-pagerduty from this checkout, the targets)")
        sys_dir = Path(env.get("MELTANO_SYS_DIR_ROOT") or ROOT / ".meltano")
        tap_venv = sys_dir / "extractors" / "tap-pagerduty" / "venv"
        existed = tap_venv.exists()
        meltano(["install"], env, LOGS / "meltano-install.log", "meltano install")
        if existed:
            # `pip_url: -e .` follows the code, but not dependencies added since the venv
            # was made: reinstall the tap (a few seconds with uv).
            meltano(
                ["install", "--clean", "tap-pagerduty"],
                env,
                LOGS / "meltano-install-tap.log",
                "tap reinstall",
            )

    step(f"Starting the PagerDuty emulator: {options.incidents} incidents over {options.days} days")
    emulator = EmulatorProcess(options.incidents, options.days)
    try:
        say(f"    {emulator.banner}")
        now = emulator.now()
        anchor = now - timedelta(days=options.days)
        env.update(
            {
                "TAP_PAGERDUTY_API_URL": emulator.url,
                "TAP_PAGERDUTY_API_TOKEN": TOKEN,
                "TAP_PAGERDUTY_ANCHOR_DATE": iso_z(anchor),
                "TAP_PAGERDUTY_REQUESTS_PER_SECOND": str(TAP_REQUESTS_PER_SECOND),
                "TARGET_DUCKDB_FILEPATH": str(WAREHOUSE),
            }
        )
        say(f"    anchor_date {iso_z(anchor)}, emulator clock {iso_z(now)}")
        for leftover in (WAREHOUSE, WAREHOUSE.with_suffix(".duckdb.wal")):
            leftover.unlink(missing_ok=True)

        step(f"Run 1: full sync into {WAREHOUSE.relative_to(ROOT)}")
        # A new emulator each time: forget the previous demo's state. (Not `run
        # --full-refresh`: with it Meltano 4.4.1 keeps keys the tap removed from its state.)
        state_id = f"dev:tap-pagerduty-to-target-duckdb:{STATE_SUFFIX}"
        meltano(["state", "clear", "--force", state_id], env, LOGS / "state-clear.log", "")
        run = ["run", "--state-id-suffix", STATE_SUFFIX]
        requests_before = emulator.requests()
        run1 = meltano([*run, "tap-pagerduty", "target-duckdb"], env, LOGS / "run-1.log", "run 1")
        requests_run1 = emulator.requests() - requests_before
        with connect() as con:
            after1 = table_counts(con)
            cutoff = latest_batch(con, list(after1))
        total1 = sum(after1.values())
        say(f"    {total1:,} rows in {len(after1)} tables, {requests_run1:,} API requests")

        new_now = emulator.advance(ADVANCE_HOURS)
        step(
            f"Run 2: the emulator's clock moved {ADVANCE_HOURS} h to {iso_z(new_now)} "
            "(new incidents, old ones acknowledged, escalated, resolved); incremental sync"
        )
        requests_before = emulator.requests()
        run2 = meltano([*run, "tap-pagerduty", "target-duckdb"], env, LOGS / "run-2.log", "run 2")
        requests_run2 = emulator.requests() - requests_before
    finally:
        step("Stopping the emulator")
        emulator.stop()

    with connect() as con:
        after2 = table_counts(con)
        moved = loaded_since(con, list(after2), cutoff) if cutoff else dict(after2)
        new_incidents, changed_incidents = con.execute(
            "select count(*) filter (where created_at >= ?), "
            "count(*) filter (where created_at < ?) "
            "from incidents where _sdc_batched_at > ?",
            [now.replace(tzinfo=None), now.replace(tzinfo=None), cutoff],
        ).fetchone()
        report = service_report(con, new_now - timedelta(days=90))

    results = {
        "finished_at": "",
        "account": {"incidents": options.incidents, "days": options.days},
        "runs": [
            {
                "run": "run 1 (full)",
                "seconds": round(run1, 1),
                "requests": requests_run1,
                "rows": sum(after1.values()),
            },
            {
                "run": "run 2 (incremental)",
                "seconds": round(run2, 1),
                "requests": requests_run2,
                "rows": sum(moved.values()),
            },
        ],
        "incidents_run2": {"new": new_incidents, "changed": changed_incidents},
        "tables": {
            table: {
                "replication": "incremental" if table in INCREMENTAL else "full table",
                "after_run_1": after1.get(table, 0),
                "loaded_by_run_2": moved.get(table, 0),
                "after_run_2": after2[table],
            }
            for table in sorted(after2)
        },
        "services_since": iso_z(new_now - timedelta(days=90))[:10],
        "services": [
            {
                "service": s,
                "incidents": n,
                "open": o,
                "mtta_seconds": a,
                "mttr_seconds": r,
                "mttr_median_seconds": m,
            }
            for s, n, o, a, r, m in report
        ],
        "query": query_command(WAREHOUSE),
    }
    built = analytics(new_now)
    if built is None:
        return 1
    results["dbt"] = built
    results["seconds_total"] = round(time.monotonic() - started, 1)
    results["finished_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")

    step(f"Summary (every figure also in {RESULTS.relative_to(ROOT)})")
    for line in summary_lines(results):
        say(line)
    return 0


def query_command(warehouse: Path) -> str:
    """A one-liner the user can paste: the connection stays open while the result prints."""
    path = warehouse.relative_to(ROOT)
    sql = f"select status, count(*) from {warehouse.stem}.{SCHEMA}.incidents group by 1 order by 1"
    return (
        f".venv/bin/python -c \"import duckdb; con = duckdb.connect('{path}', read_only=True); "
        f"con.sql('{sql}').show()\""
    )


def summary_lines(results: dict) -> list[str]:
    """The demo's closing summary (one screen), from its results file; docs/demo.md shows the
    same lines, written by scripts/docs.py from docs/results/demo.json."""
    lines = []
    for run in results["runs"]:
        lines.append(
            f"    {run['run'] + ':':21} {run['seconds']:4.0f} s, "
            f"{run['requests']:6,} API requests, "
            f"{run['rows']:7,} rows {'in the warehouse' if 'full' in run['run'] else 'loaded'}"
        )
    changed = results["incidents_run2"]
    lines.append(
        f"    incidents in run 2: {changed['new']} new, {changed['changed']} changed "
        "(each in its latest version)"
    )
    tables = results["tables"].values()
    incremental = [t for t in tables if t["replication"] == "incremental"]
    full = [t for t in tables if t["replication"] != "incremental"]
    lines.append(
        f"    run 2 loaded {sum(t['loaded_by_run_2'] for t in incremental):,} new or changed rows "
        f"into the {len(incremental)} incremental tables"
    )
    lines.append(
        f"    and {sum(t['loaded_by_run_2'] for t in full):,} rows into the {len(full)} "
        "configuration tables (read whole every run)"
    )
    lines.append(
        f"    warehouse: {len(results['tables'])} tables, "
        f"{sum(t['after_run_2'] for t in tables):,} rows (schema `pagerduty`)"
    )
    dbt = results["dbt"]
    lines.append(
        f"    dbt build: {dbt['models']} models, {dbt['tests']} tests "
        f"({dbt['passed']} passed, {dbt['failed']} failed) in {dbt['seconds']:.0f} s"
    )
    lines.append("")
    lines.append(f"    Incidents per service since {results['services_since']} (last 90 days):")
    lines.append("")
    lines += table_lines(
        ["service", "incidents", "open", "mean to ack", "mean to resolve", "median to resolve"],
        [
            [
                s["service"],
                s["incidents"],
                s["open"],
                minutes(s["mtta_seconds"]),
                hours(s["mttr_seconds"]),
                hours(s.get("mttr_median_seconds")),
            ]
            for s in results["services"]
        ],
        right={1, 2, 3, 4, 5},
    )
    lines.append("")
    lines.append("    Report with charts: output/report.html (one file, works offline)")
    lines.append("    Rows per table, dbt marts and the figures above: output/demo-results.json")
    lines.append(f"    Query it yourself: {results['query']}")
    lines.append(f"==> demo finished in {results['seconds_total']:.0f} s")
    return lines


# --------------------------------------------------------------------------- analytics
def analytics(now: datetime) -> dict | None:
    """`dbt build` of analytics/ on the warehouse, then the HTML report from its marts; the
    models and tests dbt ran, from its run_results.json."""
    step(f"Building the dbt models (analytics/) in {WAREHOUSE.relative_to(ROOT)}")
    began = time.monotonic()
    build = dbt_build(duckdb_env(WAREHOUSE), OUTPUT / "dbt", DBT_VARS)
    if build.returncode != 0:
        say(f"demo: `dbt build` failed (exit {build.returncode}). Last lines of {build.log}:")
        for line in build.output.splitlines()[-30:]:
            say(f"    {line}")
        return None
    took = time.monotonic() - began
    say(f"    dbt build: {build.summary} in {took:.0f} s")
    page = write_report(WAREHOUSE, REPORT, subtitle=f"demo account, emulator clock {iso_z(now)}")
    say("    marts in schema `analytics`: incident_lifecycle, service_health(_weekly),")
    say("    oncall_shifts, oncall_load_weekly, access_review")
    say(f"    report written: {page.relative_to(ROOT)}")
    return {
        **run_results(OUTPUT / "dbt" / "target" / "run_results.json"),
        "seconds": round(took, 1),
    }


def run_results(path: Path) -> dict[str, int]:
    """Models and tests of a `dbt build`, counted from dbt's run_results.json."""
    results = json.loads(path.read_text(encoding="utf-8"))["results"]
    kinds = [(r["unique_id"].split(".", 1)[0], r["status"]) for r in results]
    return {
        "models": sum(kind == "model" for kind, _ in kinds),
        "tests": sum(kind == "test" for kind, _ in kinds),
        "passed": sum(kind == "test" and status == "pass" for kind, status in kinds),
        "failed": sum(kind == "test" and status in ("fail", "error") for kind, status in kinds),
    }


if __name__ == "__main__":
    sys.exit(main())

"""Issue 22's benchmarks of the state: how big it gets, and what share of the output it is.

`python -m benchmarks.state_size [--only SOAK,BACKFILL,FIRST] [--runs N]` writes
`results/state_size.json` (every figure below); docs/state.md is generated from it.

* SOAK: 100+ hourly incremental runs of incidents (alerts, notes), log entries and
  analytics incidents against one emulator process (PagerDuty's 960 requests/min per key,
  changes that write no log entry on), after a first sync. Reports the first and the last
  run's final STATE size, its largest `versions`, and whether the target (every record by
  primary key, the last one winning) equals the emulator's truth at the end.
* BACKFILL: a first sync of 20,000 incidents with alerts and notes: STATE bytes as a share of
  all output bytes, the largest STATE message, how many were written.
* FIRST: a full sync of every stream on a 3,000-incident account at 500 ms latency, 5 req/s,
  3 in flight: requests per second from the first request to the last (run under
  `flock /work/bench.lock`: the figure depends on the machine being otherwise idle).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, TOKEN, EmulatorProcess, catalog_for, tap_env
from benchmarks.scenarios import FIRST_SYNC, b9_first_sync_slots
from tests.support.tap_runs import assert_matches_truth

RESULTS = Path(__file__).parent / "results" / "state_size.json"
SOAK_STREAMS = ["incidents", "incident_alerts", "incident_notes", "log_entries"]
SOAK_STREAMS += ["analytics_incidents"]
BACKFILL_STREAMS = ["incidents", "incident_alerts", "incident_notes"]


class Output:
    """One tap run's stdout, split by message type."""

    def __init__(self) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.record_bytes = 0
        self.state_bytes = 0
        self.other_bytes = 0
        self.states = 0
        self.largest_state = 0
        self.last_state: dict[str, Any] | None = None
        self.last_state_size = 0

    def read(self, path: Path, keep_records: bool) -> None:
        with open(path, "rb") as lines:
            for line in lines:
                if line.startswith(b'{"type":"RECORD"'):
                    self.record_bytes += len(line)
                    if keep_records:
                        message = json.loads(line)
                        self.records.setdefault(message["stream"], []).append(message["record"])
                elif line.startswith(b'{"type":"STATE"'):
                    self.state_bytes += len(line)
                    self.states += 1
                    self.largest_state = max(self.largest_state, len(line))
                    self.last_state_size = len(line)
                    self.last_state = json.loads(line)["value"]
                else:
                    self.other_bytes += len(line)


def run_once(
    emulator: EmulatorProcess,
    config: dict[str, Any],
    streams: list[str],
    state: dict[str, Any] | None,
    *,
    keep_records: bool,
    timeout: float = 1800,
    tap_root: Path = ROOT,
) -> Output:
    with tempfile.TemporaryDirectory(prefix="tap-state-") as tmp:
        folder = Path(tmp)
        (folder / "config.json").write_text(
            json.dumps({"api_token": TOKEN, "api_url": emulator.url, **config})
        )
        (folder / "catalog.json").write_text(json.dumps(catalog_for(streams)))
        args = [sys.executable, "-m", "tap_pagerduty", "--config", str(folder / "config.json")]
        args += ["--catalog", str(folder / "catalog.json")]
        if state is not None:
            (folder / "state.json").write_text(json.dumps(state))
            args += ["--state", str(folder / "state.json")]
        with open(folder / "out.jsonl", "wb") as out:
            run = subprocess.run(
                args,
                cwd=tap_root,
                stdout=out,
                stderr=subprocess.PIPE,
                env=tap_env(),
                timeout=timeout,
                check=False,
            )
        if run.returncode != 0:
            raise RuntimeError(run.stderr.decode(errors="replace")[-2000:])
        output = Output()
        output.read(folder / "out.jsonl", keep_records)
        return output


def truth(emulator: EmulatorProcess, stream: str, since: str) -> list[dict[str, Any]]:
    url = f"{emulator.url}/_admin/truth/{stream}?since={since}"
    with urllib.request.urlopen(url, timeout=300) as answer:
        return list(json.loads(answer.read())["records"])


def soak(runs: int, tap_root: Path = ROOT) -> dict[str, Any]:
    anchor = "2026-08-01T00:00:00Z"
    config = {"anchor_date": anchor, "requests_per_second": 16, "max_concurrency": 3}
    options = {"incidents": 300, "days": 92, "rate_limit": 960, "silent_changes": 6}
    target: dict[str, list[dict[str, Any]]] = {}
    sizes: list[int] = []
    versions: list[int] = []
    started = time.monotonic()
    with EmulatorProcess(**options) as emulator:
        state = None
        for run in range(runs + 1):  # the first sync, then `runs` hourly runs
            if run:
                emulator.advance(1)
            output = run_once(
                emulator, config, SOAK_STREAMS, state, keep_records=True, tap_root=tap_root
            )
            for stream, records in output.records.items():
                target.setdefault(stream, []).extend(records)
            state = output.last_state
            assert state is not None
            sizes.append(output.last_state_size)
            versions.append(len(state["bookmarks"]["incidents"].get("versions") or {}))
        exact = {}
        retitled = 0
        for stream in SOAK_STREAMS:
            expected = truth(emulator, stream, anchor)
            got = target.get(stream, [])
            if stream == "log_entries":
                # A log entry is written once; the summary of the incident it references is
                # the incident's title when read, and a title edit comes later (not re-read).
                retitled = _retitled(got, expected)
                got, expected = _without_summary(got), _without_summary(expected)
            try:
                assert_matches_truth(stream, got, expected)
                exact[stream] = "equal"
            except AssertionError as error:
                exact[stream] = str(error)[:300]
    return {
        "hourly_runs": runs,
        "emulator": options,
        "last_state_bytes_first_run": sizes[1],
        "last_state_bytes_last_run": sizes[-1],
        "last_state_bytes_max": max(sizes[1:]),
        # After one analytics lag (24 hourly runs) `versions` holds what the lag can revisit.
        "last_state_bytes_run_25": sizes[25] if len(sizes) > 25 else None,
        "last_state_bytes_max_after_run_25": max(sizes[25:]) if len(sizes) > 25 else None,
        "versions_first_run": versions[1],
        "versions_last_run": versions[-1],
        "versions_max": max(versions[1:]),
        "state_bytes_by_run": sizes,
        "output_equal_to_truth": all(v == "equal" for v in exact.values()),
        "log_entries_with_an_older_incident_title": retitled,
        "by_stream": exact,
        "wall_s": round(time.monotonic() - started, 1),
    }


def _without_summary(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**e, "incident": {**e["incident"], "summary": None}} if e.get("incident") else e
        for e in entries
    ]


def _retitled(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> int:
    latest = {e["id"]: e for e in got}
    return sum(
        1
        for e in expected
        if e["id"] in latest
        and (latest[e["id"]].get("incident") or {}).get("summary")
        != (e.get("incident") or {}).get("summary")
    )


def backfill(incidents: int, tap_root: Path = ROOT) -> dict[str, Any]:
    options = {"incidents": incidents, "days": 365}
    config = {"anchor_date": "2025-11-01T00:00:00Z", "requests_per_second": 1000}
    started = time.monotonic()
    with EmulatorProcess(**options) as emulator:
        output = run_once(
            emulator, config, BACKFILL_STREAMS, None, keep_records=False, tap_root=tap_root
        )
    total = output.record_bytes + output.state_bytes + output.other_bytes
    return {
        "incidents": incidents,
        "streams": BACKFILL_STREAMS,
        "output_bytes": total,
        "state_bytes": output.state_bytes,
        "state_share_percent": round(100.0 * output.state_bytes / total, 2),
        "state_messages": output.states,
        "largest_state_bytes": output.largest_state,
        "wall_s": round(time.monotonic() - started, 1),
    }


def first_sync() -> dict[str, t.Any]:
    """B9 of `make bench` (benchmarks/scenarios.py), its figures kept here too."""
    rows, checks = b9_first_sync_slots()
    figures = rows[0].as_dict()
    return {
        "incidents": FIRST_SYNC["incidents"],
        "requests": figures["requests"],
        "request_span_s": figures["request_span_s"],
        "req_per_s_active": figures["req_per_s_active"],
        "peak_per_second": figures["peak_per_second"],
        "peak_in_flight": figures["peak_in_flight"],
        "met": checks[0].met,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="SOAK,BACKFILL,FIRST")
    parser.add_argument("--runs", type=int, default=105)
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument(
        "--tap-root", type=Path, default=ROOT, help="another source tree's tap (a before figure)"
    )
    parser.add_argument("--label", default="", help="save the figures under NAME-LABEL")
    args = parser.parse_args(argv)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    for name in args.only.split(","):
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if name == "SOAK":
            figures = soak(args.runs, args.tap_root)
        elif name == "BACKFILL":
            figures = backfill(args.incidents, args.tap_root)
        elif name == "FIRST":
            figures = first_sync()
        else:
            raise SystemExit(f"unknown scenario {name!r}")
        if args.tap_root != ROOT:
            commit = f"tree {args.tap_root}"
        key = f"{name}-{args.label}" if args.label else name
        # Read again: another scenario may have finished meanwhile (they run apart).
        report = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        report[key] = {"commit": commit, "started": started, "cpus": os.cpu_count(), **figures}
        RESULTS.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
        print(name, json.dumps({k: v for k, v in figures.items() if k != "state_bytes_by_run"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

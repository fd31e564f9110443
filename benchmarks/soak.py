"""The one-hour soak: hourly-style incremental syncs back to back against a living account.

    python -m benchmarks.soak                   # 60 minutes, writes benchmarks/results/soak.json
    python -m benchmarks.soak --minutes 2 --out /tmp/soak.json     # a short trial

The emulator runs at PagerDuty's real limit (960 requests per rolling minute per token), fails
1 % of requests with a 5xx, forces a 429 every 1000th request, and changes between and during
runs: its clock moves one hour before each run (incidents open, change and resolve; some
changes write no log entry: `silent_changes`), and during each run one user, team, service or
schedule is deleted right after its listing is answered (and created again during the next
run), and one open incident is merged away (its children answer 404 from then on). The tap
runs as a real process at `requests_per_second` 16 (= 960 per minute) with the state of the
previous run, as a scheduler would start it every hour, back to back for the whole duration;
then one last run without churn.

What it checks and writes: no failed run; no 429 beyond those the emulator forces; the output
equal to the emulator's truth at the end (full-refresh streams: the last run; incremental
streams: every run's records, the latest per key, as a target keeps them, without the
children of incidents merged away); peak RSS and state size per run (flat: the last runs
against the first). The figures go to the results file; `python -m scripts.docs` writes them
into docs/. Not a throughput figure: it needs no bench lock.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, TOKEN, tap_env
from tap_pagerduty.streams import INCREMENTAL_STREAMS, STREAM_TYPES
from tap_pagerduty.streams.incidents import IncidentsStream
from tap_pagerduty.windows import iso_z, parse_time
from tests.support.tap_runs import (
    SyncOutput,
    api_fields,
    latest_by_key,
    oncall_key,
    truth_by_key,
)

NOW = "2026-11-01T00:00:00Z"
ANCHOR_DAYS = 30
RESULTS = ROOT / "benchmarks" / "results" / "soak.json"
ACCOUNT: dict[str, Any] = {"seed": 11, "incidents": 400, "days": 60, "users": 24, "services": 8}
RATE_LIMIT = 960
FAULT_5XX = 0.01
FORCED_429_EVERY = 1000
SILENT_CHANGES = 3
TAP_RPS = 16
CHURN_KINDS = ("users", "teams", "services", "schedules")
# Hourly runs during which the incidents state fills (`analytics_lag_hours`, 24 by default).
WARM_UP_RUNS = 24
ALL_STREAMS = sorted(cls.name for cls in STREAM_TYPES)
# Read from the anchor on, accumulated over runs; every other stream is read whole each run.
ACCUMULATED = set(INCREMENTAL_STREAMS)
# The children of incidents (a merged incident's are gone with it).
MERGED_CHILDREN = {cls.name for cls in STREAM_TYPES if cls.parent_stream_type is IncidentsStream}


class Churner:
    """Schedules one deletion per run (the entity comes back during the next run) and one
    merge of an open incident."""

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.turn = 0
        self.back: list[dict[str, Any]] = []  # entities to create again in the next run
        self.merged: set[str] = set()

    def before_run(self) -> None:
        world = self.emulator.world
        changes = [*self.back]
        kind = CHURN_KINDS[self.turn % len(CHURN_KINDS)]
        entities = {
            "users": world.users,
            "teams": world.teams,
            "services": world.services,
            "schedules": world.schedules,
        }[kind]
        entity = entities[(self.turn // len(CHURN_KINDS)) % len(entities)]["id"]
        changes.append({"action": "delete", "kind": kind, "id": entity, "path": f"/{kind}"})
        self.back = [{"action": "create", "kind": kind, "id": entity, "path": f"/{kind}"}]
        open_ids = [world.incidents[i].id for i in sorted(world.open)]
        candidates = [i for i in open_ids if i not in self.merged]
        if candidates:
            merged = candidates[self.turn % len(candidates)]
            self.merged.add(merged)
            changes.append(
                {"action": "merge", "kind": "incidents", "id": merged, "path": "/log_entries"}
            )
        self.emulator.churn.add(changes)
        self.turn += 1

    def settle(self) -> None:
        """Before the last run: the entity deleted last comes back at once (not during the
        run, after its listing), and nothing else changes."""
        churn = self.emulator.churn
        for change in self.back:
            churn.hidden[change["kind"]].discard(change["id"])
        self.back = []


class PeakRss:
    """The tap process's own peak RSS (`VmHWM`, which `exec` resets), read every 0.2 s
    until it exits. Not `ru_maxrss` from `wait4`: the tap is forked from this process,
    which hosts the emulator, and `ru_maxrss` then reports this process's size."""

    def __init__(self, pid: int) -> None:
        self.path = Path(f"/proc/{pid}/status")
        self.kb = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.wait(0.2):
            self._read()

    def _read(self) -> None:
        try:
            text = self.path.read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                self.kb = max(self.kb, int(line.split()[1]))

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)

    @property
    def mb(self) -> float:
        return round(self.kb / 1024, 1)


def run_tap(config_path: Path, state: dict | None, tmp: Path) -> dict[str, Any]:
    args = [sys.executable, "-m", "tap_pagerduty", "--config", str(config_path)]
    if state is not None:
        (tmp / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp / "state.json")]
    out_path, err_path = tmp / "out.jsonl", tmp / "err.log"
    start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=err, env=tap_env())
        killer = threading.Timer(900, proc.kill)
        killer.start()
        peak = PeakRss(proc.pid)
        try:
            _, status, _usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
            peak.stop()
    output = SyncOutput(returncode=os.waitstatus_to_exitcode(status))
    output.add_lines(out_path.read_text())
    stderr = err_path.read_text(errors="replace")
    return {
        "output": output,
        "wall_s": time.monotonic() - start,
        "peak_rss_mb": peak.mb,
        "stderr_tail": "\n".join(stderr.splitlines()[-5:]),
        "gone_warnings": stderr.count("listed earlier in this run but gone now"),
        "rereads": stderr.count("changed while it was paged"),
        "warnings": [line[:300] for line in stderr.splitlines() if "WARNING" in line][:20],
    }


def truth_for(emulator: Any, stream: str, anchor: str) -> list[dict]:
    now = emulator.stats()["now"]
    if stream == "oncalls":
        until = iso_z(parse_time(now) + timedelta(days=90))
        return emulator.truth("oncalls", since=now, until=until)
    if stream in ("schedule_overrides", "schedule_users"):
        until = iso_z(parse_time(now) + timedelta(days=90))
        return emulator.truth(stream, since=anchor, until=until)
    if stream in INCREMENTAL_STREAMS or stream.startswith("analytics_metrics_"):
        return emulator.truth(stream, since=anchor, until=now)
    return emulator.truth(stream)


def compare(
    stream: str, got: dict[tuple, dict], truth: list[dict], skip_parents: set[str]
) -> dict[str, Any]:
    expected = truth_by_key(stream, truth)
    if stream == "log_entries":  # see SNAPSHOT_FIELDS
        expected = {k: _without_title(v) for k, v in expected.items()}
        got = {k: _without_title(v) for k, v in got.items()}
    if stream in MERGED_CHILDREN:
        got = {k: v for k, v in got.items() if v.get("incident_id") not in skip_parents}
    missing = set(expected) - set(got)
    unexpected = set(got) - set(expected)
    differ = [k for k in expected if k in got and got[k] != expected[k]]
    fields = sorted(
        {
            f
            for k in differ
            for f in set(got[k]) | set(expected[k])
            if got[k].get(f) != expected[k].get(f)
        }
    )
    return {
        "missing": len(missing),
        "unexpected": len(unexpected),
        "differ": len(differ),
        "differing_fields": fields,
    }


def _without_title(entry: dict[str, Any]) -> dict[str, Any]:
    """A log entry without its incident reference's `summary`: the entry is read once (by
    creation time), so it keeps the incident's title as it was then; a later retitle (a
    silent change) is in the incidents stream, not in old log entries."""
    incident = entry.get("incident")
    if not isinstance(incident, dict):
        return entry
    return {**entry, "incident": {k: v for k, v in incident.items() if k != "summary"}}


def soak(minutes: float, out: Path) -> dict[str, Any]:
    from pagerduty_emulator import Emulator

    emulator = Emulator(
        **ACCOUNT,
        now=NOW,
        rate_limit=RATE_LIMIT,
        fault_5xx=FAULT_5XX,
        fault_429_every=FORCED_429_EVERY,
        silent_changes=SILENT_CHANGES,
    ).start()
    churner = Churner(emulator)
    anchor = iso_z(parse_time(NOW) - timedelta(days=ANCHOR_DAYS))
    runs: list[dict[str, Any]] = []
    accumulated: dict[str, dict[tuple, dict]] = {s: {} for s in ACCUMULATED}
    state: dict | None = None
    last: SyncOutput | None = None
    deadline = time.monotonic() + minutes * 60
    try:
        with tempfile.TemporaryDirectory(prefix="tap-soak-") as tmpdir:
            tmp = Path(tmpdir)
            config_path = tmp / "config.json"
            config = {
                "api_token": TOKEN,
                "api_url": emulator.url,
                "anchor_date": anchor,
                "requests_per_second": TAP_RPS,
            }
            config_path.write_text(json.dumps(config))
            first = True
            while True:
                final = time.monotonic() >= deadline
                if not first:
                    emulator.advance(1)
                if final:
                    churner.settle()
                elif not first:
                    churner.before_run()
                stats0 = emulator.stats()
                run = run_tap(config_path, state, tmp)
                stats1 = emulator.stats()
                output = run.pop("output")
                token = stats1["by_token"].get(TOKEN, {})
                forced = sum(v for k, v in stats1["faults"].items() if k.startswith("429"))
                forced0 = sum(v for k, v in stats0["faults"].items() if k.startswith("429"))
                limited0 = stats0["by_token"].get(TOKEN, {}).get("rate_limited", 0)
                run.update(
                    run=len(runs) + 1,
                    returncode=output.returncode,
                    records=sum(len(r) for r in output.records.values()),
                    requests=stats1["requests"] - stats0["requests"],
                    forced_429=forced - forced0,
                    real_429=token.get("rate_limited", 0) - limited0,
                    state_bytes=len(json.dumps(output.last_state or state or {})),
                    by_stream={k: len(v) for k, v in sorted(output.records.items())},
                )
                runs.append(run)
                print(
                    f"run {run['run']:3d}: exit {run['returncode']} {run['wall_s']:5.1f} s "
                    f"{run['requests']:4d} req {run['records']:5d} rec "
                    f"rss {run['peak_rss_mb']:.0f} MB state {run['state_bytes']} B "
                    f"429 real {run['real_429']} forced {run['forced_429']} "
                    f"gone {run['gone_warnings']}",
                    flush=True,
                )
                if output.returncode != 0:
                    print(run["stderr_tail"], flush=True)
                else:
                    state = output.last_state or state
                for stream in ACCUMULATED:
                    accumulated[stream].update(
                        latest_by_key(stream, output.records.get(stream, []))
                    )
                last = output
                first = False
                if final:
                    break
        assert last is not None
        checks = {}
        for stream in ALL_STREAMS:
            truth = truth_for(emulator, stream, anchor)
            if stream in ACCUMULATED:
                got = accumulated[stream]
            elif stream == "oncalls":  # keyed as the truth helper keys them
                got = {oncall_key(r): api_fields(stream, r) for r in last.records.get(stream, [])}
            else:
                got = latest_by_key(stream, last.records.get(stream, []))
            checks[stream] = compare(stream, got, truth, churner.merged)
        totals = emulator.stats()
    finally:
        emulator.stop()
    result = summarize(minutes, runs, checks, totals, churner)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def summarize(
    minutes: float,
    runs: list[dict[str, Any]],
    checks: dict[str, dict[str, Any]],
    totals: dict[str, Any],
    churner: Churner,
) -> dict[str, Any]:
    early, late = warm_windows(runs)

    def mean(rows: list[dict[str, Any]], key: str) -> float:
        return round(statistics.fmean(r[key] for r in rows), 1) if rows else 0.0

    wrong = {s: c for s, c in checks.items() if c["missing"] or c["unexpected"] or c["differ"]}
    return {
        "minutes": minutes,
        "account": ACCOUNT,
        "emulator": {
            "rate_limit_per_min": RATE_LIMIT,
            "fault_5xx": FAULT_5XX,
            "forced_429_every": FORCED_429_EVERY,
            "silent_changes_per_hour": SILENT_CHANGES,
        },
        "tap_requests_per_second": TAP_RPS,
        "runs": len(runs),
        "failed_runs": sum(1 for r in runs if r["returncode"] != 0),
        "requests": sum(r["requests"] for r in runs),
        "real_429": sum(r["real_429"] for r in runs),
        "forced_429": sum(r["forced_429"] for r in runs),
        "faults": totals.get("faults", {}),
        "entities_deleted": churner.turn,
        "incidents_merged": len(churner.merged),
        "gone_warnings": sum(r["gone_warnings"] for r in runs),
        "listings_reread": sum(r["rereads"] for r in runs),
        "streams_checked": len(checks),
        "not_compared": "log_entries: the incident reference's summary (the title when the entry "
        "was read; a retitle is in the incidents stream)",
        "streams_differing_from_truth": len(wrong),
        "differences": wrong,
        "incremental_wall_s_mean": mean(runs[1:], "wall_s"),
        "flat_from_run": 2 + WARM_UP_RUNS,
        "peak_rss_mb": {
            "first_runs": mean(early, "peak_rss_mb"),
            "last_runs": mean(late, "peak_rss_mb"),
        },
        "state_bytes": {
            "first_runs": mean(early, "state_bytes"),
            "last_runs": mean(late, "state_bytes"),
        },
        "per_run": [{k: v for k, v in r.items() if k != "stderr_tail"} for r in runs],
    }


def warm_windows(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The first and the last tenth of the runs after the first day: the incidents state
    keeps the versions of the last `analytics_lag_hours` (24), so it fills during the first
    24 hourly runs and must stay flat after."""
    warm = runs[1 + WARM_UP_RUNS :] or runs[1:]
    tenth = max(1, len(warm) // 10)
    return warm[:tenth], warm[-tenth:]


def refresh(path: Path) -> dict[str, Any]:
    """Recompute the flatness figures of a results file from its runs."""
    result = json.loads(path.read_text())
    early, late = warm_windows(result["per_run"])
    for key in ("peak_rss_mb", "state_bytes"):
        result[key] = {
            "first_runs": round(statistics.fmean(r[key] for r in early), 1),
            "last_runs": round(statistics.fmean(r[key] for r in late), 1),
        }
    result["flat_from_run"] = 2 + WARM_UP_RUNS
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--refresh", action="store_true", help="recompute the figures of --out from its runs"
    )
    args = parser.parse_args()
    result = refresh(args.out) if args.refresh else soak(args.minutes, args.out)
    print(
        f"{result['runs']} runs, {result['failed_runs']} failed, {result['requests']} requests, "
        f"429: {result['real_429']} real / {result['forced_429']} forced, "
        f"{result['streams_differing_from_truth']} of {result['streams_checked']} streams differ "
        f"from truth; peak RSS {result['peak_rss_mb']}, state {result['state_bytes']}"
    )


if __name__ == "__main__":
    main()

"""The benchmark scenarios B1-B5. Each starts its own emulator process and runs the real tap
process against it (see harness.py); each returns table rows and target checks."""

from __future__ import annotations

import subprocess
import tempfile
import typing as t
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, EmulatorProcess, TapRun, run_tap
from tap_pagerduty import spec_table
from tap_pagerduty.streams import INCREMENTAL_STREAMS, STREAM_TYPES
from tap_pagerduty.streams.base import IncrementalStream

# A small account whose full sync is about 210 requests: 80 incidents (two child requests
# each: alerts and notes), 10 users (one notification-rules request each), 30 days of history.
SMALL = {"incidents": 80, "days": 30, "users": 10, "services": 6}
SMALL_ANCHOR = "2026-10-02T00:00:00Z"  # the emulator's now (2026-11-01) minus 30 days
YEAR_ANCHOR = "2025-11-01T00:00:00Z"

# The streams are read from their classes (tap_pagerduty.streams), never listed here.
# The incremental streams (the history), read by time from `anchor_date` on.
HISTORY = [cls.name for cls in STREAM_TYPES if issubclass(cls, IncrementalStream)]
# Those whose listing PagerDuty pages by offset (its reference declares `offset` for it);
# the others page by cursor or answer a query.
CLASSIC_PAGED = {
    cls.name
    for cls in STREAM_TYPES
    if cls.name in HISTORY
    and (operation := spec_table.find(f"{cls.method} {cls.path_template()}")) is not None
    and "offset" in operation.query
}
# The history and the children of incidents (read for the incidents a run emits).
INCREMENTAL_FAMILY = set(INCREMENTAL_STREAMS)


@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    label: str
    run: TapRun
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        r = self.run
        per_k = 1000.0 / r.records if r.records else 0.0
        return {
            "scenario": self.scenario,
            "label": self.label,
            "records": r.records,
            "requests": r.requests,
            "wall_s": round(r.wall, 2),
            "request_span_s": round(r.request_span, 2),
            "req_per_s_wall": round(r.requests / r.wall, 2) if r.wall else 0.0,
            "req_per_s_active": round((r.requests - 1) / r.request_span, 2)
            if r.request_span > 0
            else 0.0,
            "records_per_s": round(r.records / r.wall, 1) if r.wall else 0.0,
            "req_per_1000_records": round(r.requests * per_k, 2),
            "peak_rss_mb": round(r.peak_rss_mb, 1),
            "tap_cpu_s": round(r.cpu, 2),
            "cpu_s_per_1000_records": round(r.cpu * per_k, 3),
            "emulator_cpu_s": round(r.emulator_cpu, 2),
            "peak_in_flight": r.peak_in_flight,
            "peak_per_second": r.peak_per_second,
            "by_stream": r.by_stream,
            "by_path": r.by_path,
            "notes": self.notes,
            **self.extra,
        }


@dataclass
class Check:
    """One target: the figure, the bound and whether it is met."""

    scenario: str
    what: str
    value: float
    target: str
    met: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "what": self.what,
            "value": self.value,
            "target": self.target,
            "met": self.met,
            "note": self.note,
        }


Result = tuple[list[Row], list[Check]]


def _config(anchor: str, rps: float, concurrency: int) -> dict[str, Any]:
    # Whole numbers: the SDK reads config floats as Decimal, which the settings refuse.
    return {
        "anchor_date": anchor,
        "requests_per_second": int(rps) if float(rps).is_integer() else rps,
        "max_concurrency": concurrency,
    }


def b1_throttled_full_sync() -> Result:
    """Full sync of the small account, 500 ms latency, cap 5 req/s; concurrency 3 vs 1."""
    rows: list[Row] = []
    checks: list[Check] = []
    with EmulatorProcess(**SMALL, latency_ms=500) as emu:
        for concurrency, timeout in ((3, 180.0), (1, 300.0)):
            run = run_tap(emu, _config(SMALL_ANCHOR, 5, concurrency), timeout=timeout)
            row = Row("B1", f"full sync, 500 ms, 5 req/s, concurrency {concurrency}", run)
            rows.append(row)
            if concurrency == 3:
                active = row.as_dict()["req_per_s_active"]
                within_caps = run.peak_per_second <= 5 and run.peak_in_flight <= 3
                checks.append(
                    Check(
                        "B1",
                        "achieved req/s (first to last request), concurrency 3",
                        active,
                        ">= 4.85, never more than 5 in any second or 3 in flight",
                        active >= 4.85 and within_caps,
                        f"peak {run.peak_per_second} req in one second, {run.peak_in_flight} "
                        f"in flight; {run.requests / run.wall:.2f} req/s over the whole wall "
                        "time including interpreter start",
                    )
                )
    return rows, checks


def b2_b4_paged_throttle_off() -> Result:
    """Incident history of a 10k-incident year, throttle at its maximum, no latency."""
    with EmulatorProcess(incidents=10_000, days=365) as emu:
        run = run_tap(
            emu, _config(YEAR_ANCHOR, 1000, 3), streams=HISTORY, timeout=300, keep_log=True
        )
    row = Row("B2/B4", "history streams, 10k incidents, 1000 req/s cap, 0 ms", run)
    per_stream = _requests_per_stream(run)
    paged_records = sum(run.by_stream.get(s, 0) for s in CLASSIC_PAGED)
    paged_requests = sum(per_stream.get(s, 0) for s in CLASSIC_PAGED)
    ratio = 1000.0 * paged_requests / paged_records if paged_records else 0.0
    row.extra["requests_per_stream"] = per_stream
    row.extra["req_per_1000_by_stream"] = {
        s: round(1000.0 * per_stream.get(s, 0) / n, 2) for s, n in run.by_stream.items() if n
    }
    emulator_load = run.emulator_cpu / run.wall if run.wall else 0.0
    row.extra["emulator_cpu_share"] = round(emulator_load, 2)
    rate = run.records / run.wall
    checks = [
        Check(
            "B2",
            "requests per 1000 records, classic-paged streams "
            "(incidents, log_entries, notifications, change_events)",
            round(ratio, 2),
            "<= 10.5",
            ratio <= 10.5,
            f"all six history streams: {1000.0 * run.requests / run.records:.2f}",
        ),
        Check(
            "B4",
            "tap records/s (wall, incl. start-up)",
            round(rate, 0),
            ">= 10000",
            rate >= 10_000,
            f"tap CPU {run.cpu:.1f} s, emulator CPU {run.emulator_cpu:.1f} s over "
            f"{run.wall:.1f} s wall ({emulator_load:.0%} of one core)",
        ),
    ]
    return [row], checks


def b3_incremental() -> Result:
    """Full sync, then the same run again with its final state: with the emulator's clock
    unchanged, and after advancing it one hour (the realistic hourly run)."""
    rows: list[Row] = []
    checks: list[Check] = []
    config = _config(SMALL_ANCHOR, 1000, 3)
    with EmulatorProcess(**SMALL) as emu:
        full = run_tap(emu, config, keep_log=True)
        full_per_stream = _requests_per_stream(full)
        full_refresh = sum(n for s, n in full_per_stream.items() if s not in INCREMENTAL_FAMILY)
        rows.append(Row("B3", "full sync (small account)", full))
        rows[-1].extra["requests_per_stream"] = full_per_stream
        state = full.last_state
        reruns = (
            ("rerun, clock unchanged", 0, 0),
            ("hourly rerun (+1 h)", 1, 0),
            ("hourly rerun (+1 h), 100 silent changes", 1, 100),
        )
        for label, hours, silent in reruns:
            emu.configure(silent_changes=silent)
            if hours:
                emu.advance(hours)
            run = run_tap(emu, config, state=state, keep_log=True)
            state = run.last_state or state
            per_stream = _requests_per_stream(run)
            row = Row("B3", f"incremental {label}", run)
            row.extra["requests_per_stream"] = per_stream
            rows.append(row)
            # One analytics query is the analytics_incidents stream's, the other the feed's.
            analytics = per_stream.get("analytics_incidents", 0)
            incremental = {s: per_stream.get(s, 0) for s in HISTORY}
            incremental["analytics_incidents"] = min(analytics, 1)
            feeds = per_stream.get("incidents:open", 0) + max(analytics - 1, 0)
            rereads = per_stream.get("incidents:reread", 0)
            worst = max(incremental.values())
            rest = sum(
                n
                for s, n in per_stream.items()
                if s not in INCREMENTAL_FAMILY and not s.startswith("incidents:")
            )
            children = sum(per_stream.get(s, 0) for s in ("incident_alerts", "incident_notes"))
            checks.append(
                Check(
                    "B3",
                    f"{label}: most requests of any incremental stream",
                    worst,
                    "<= 1 per incremental stream (+ the full-refresh set, + <= 2 for the "
                    "unlogged-change feeds)",
                    worst <= 1 and rest <= full_refresh and feeds <= 2,
                    f"per stream {incremental}; unlogged-change feeds {feeds} + {rereads} "
                    f"incident re-reads; full-refresh set {rest} (full sync: {full_refresh}); "
                    f"children of changed incidents {children} for "
                    f"{run.by_stream.get('incidents', 0)} incident records; "
                    f"total {run.requests} requests",
                )
            )
    return rows, checks


def b5_memory() -> Result:
    """Peak RSS of the incidents stream at 10k and 100k incidents (one year)."""
    rows: list[Row] = []
    for incidents in (10_000, 100_000):
        with EmulatorProcess(incidents=incidents, days=365, startup_timeout=180) as emu:
            run = run_tap(emu, _config(YEAR_ANCHOR, 1000, 3), streams=["incidents"], timeout=300)
        rows.append(Row("B5", f"incidents only, {incidents // 1000}k incidents", run))
    small, large = rows[0].run.peak_rss_mb, rows[1].run.peak_rss_mb
    growth = (large - small) / small if small else 0.0
    checks = [
        Check("B5", "peak RSS at 100k incidents (MB)", round(large, 1), "<= 150", large <= 150),
        Check(
            "B5",
            "peak RSS growth 10k -> 100k incidents",
            round(100 * growth, 1),
            "< 10 %",
            growth < 0.10,
            f"{small:.1f} MB -> {large:.1f} MB",
        ),
    ]
    return rows, checks


# main before the request-cost work (issue 12): the "before" of B7, run from a git archive.
BASELINE_COMMIT = "324c647"
TWO_YEARS_ANCHOR = "2024-11-01T00:00:00Z"


def _baseline_streams() -> set[str]:
    """The streams of BASELINE_COMMIT: one schema file each, in its `schemas/`."""
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", f"{BASELINE_COMMIT}:schemas"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {Path(name).stem for name in listing.stdout.split() if name.endswith(".json")}


def _same_as_baseline() -> list[str]:
    baseline = _baseline_streams()
    return [cls.name for cls in STREAM_TYPES if cls.name in baseline]


def b7_request_cost() -> Result:
    """Full sync of every stream, before (BASELINE_COMMIT) and after, side by side: requests
    per incident and by endpoint on the demo account and a 3,000-incident account (no
    latency), and wall time at 500 ms latency, 5 req/s on the B1 account."""
    rows: list[Row] = []
    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix="tap-baseline-") as tmp:
        baseline = Path(tmp)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", BASELINE_COMMIT], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        versions = (("before", baseline), ("after", ROOT))
        for label, account in (("demo account", 800), ("3,000-incident account", 3000)):
            with EmulatorProcess(incidents=account, days=730) as emu:
                runs = {}
                for version, root in versions:
                    config = _config(TWO_YEARS_ANCHOR, 1000, 3)
                    # The same streams on both sides: not the ones added after the baseline.
                    streams = None if version == "before" else _same_as_baseline()
                    runs[version] = run = run_tap(
                        emu, config, streams=streams, keep_log=True, tap_root=root
                    )
                    row = Row("B7", f"{version}: full sync, {label}", run)
                    row.extra["requests_per_incident"] = round(run.requests / account, 3)
                    row.extra["requests_by_endpoint"] = _requests_per_stream(run)
                    rows.append(row)
            before, after = runs["before"].requests, runs["after"].requests
            checks.append(
                Check(
                    "B7",
                    f"full-sync requests after / before, {label}",
                    round(after / before, 3),
                    "<= 0.6",
                    after <= 0.6 * before,
                    f"{before} -> {after} requests; per incident {before / account:.2f} -> "
                    f"{after / account:.2f}",
                )
            )
        with EmulatorProcess(**SMALL, latency_ms=500) as emu:
            walls = {}
            for version, root in versions:
                streams = None if version == "before" else _same_as_baseline()
                run = run_tap(
                    emu, _config(SMALL_ANCHOR, 5, 3), streams=streams, tap_root=root, timeout=180
                )
                walls[version] = run.wall
                rows.append(Row("B7", f"{version}: full sync, 500 ms, 5 req/s (B1 account)", run))
        checks.append(
            Check(
                "B7",
                "wall s at 500 ms latency, 5 req/s (B1 account), after",
                round(walls["after"], 1),
                "< before",
                walls["after"] < walls["before"],
                f"before {walls['before']:.1f} s",
            )
        )
    return rows, checks


# -- attribution of emulator requests to streams ------------------------------------------------


def _templates() -> list[tuple[list[str], str]]:
    """Each stream's path template, split into segments, with the stream's name: those with
    more literal segments first (`/incidents/types` before `/incidents/{id}`)."""
    found = [
        (path.strip("/").split("/"), cls.name)
        for cls in STREAM_TYPES
        if (path := cls.path_template()) is not None
    ]
    return sorted(found, key=lambda item: -sum(not part.startswith("{") for part in item[0]))


_TEMPLATES = _templates()


def _matches(parts: list[str], template: list[str]) -> bool:
    return len(parts) == len(template) and all(
        want.startswith("{") or got == want for got, want in zip(parts, template, strict=True)
    )


def stream_of(path: str, query: str) -> str:
    """The stream that sent a request, from its path (matched against each stream class's
    path template) and query string. The incidents stream's own requests are told apart:
    `incidents:open` (the open-incident rescan), `incidents:reread` (incidents analytics
    named) and its change-log reads (`include[]=incidents`) count as `incidents`; its
    analytics query has the same path as the analytics_incidents stream's and is counted
    there."""
    if path == "/incidents" and "date_range=all" in query:
        return "incidents:open"
    if path == "/log_entries" and "include%5B%5D=incidents" in query:
        return "incidents"
    parts = path.strip("/").split("/")
    named = next((name for template, name in _TEMPLATES if _matches(parts, template)), None)
    if named is not None:
        return named
    if len(parts) == 2 and parts[0] == "incidents":
        return "incidents:reread"
    return parts[0]


def _requests_per_stream(run: TapRun) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in run.log:
        stream = stream_of(str(entry[2]), str(entry[3]))
        counts[stream] = counts.get(stream, 0) + 1
    return dict(sorted(counts.items()))


def _new_streams() -> list[str]:
    """The streams added since BASELINE_COMMIT (issue 16: custom fields, overrides,
    licenses, metrics)."""
    baseline = _baseline_streams()
    return [cls.name for cls in STREAM_TYPES if cls.name not in baseline]


def b6_custom_fields_cost() -> Result:
    """What the custom-field, override, license and metrics streams cost: a year of 1,000
    incidents (about a fifth of them of a type with custom fields), a full sync of every
    stream, then an hourly run."""
    rows: list[Row] = []
    checks: list[Check] = []
    config = _config(YEAR_ANCHOR, 1000, 3)
    with EmulatorProcess(incidents=1000, days=365) as emu:
        full = run_tap(emu, config, keep_log=True)
        incidents = emu.admin("GET", f"truth/incidents?since={YEAR_ANCHOR}")["records"]
        emu.advance(1)
        hourly = run_tap(emu, config, state=full.last_state, keep_log=True)
    typed = sum(1 for i in incidents if i["incident_type"]["name"] != "incident_default")
    for label, run in (("full sync, 1k incidents, all streams", full), ("hourly rerun", hourly)):
        per_stream = _requests_per_stream(run)
        new = {s: per_stream.get(s, 0) for s in _new_streams()}
        row = Row("B6", label, run)
        row.extra["requests_per_new_stream"] = new
        rows.append(row)
        checks.append(
            Check(
                "B6",
                f"{label}: requests of the {len(new)} new streams",
                sum(new.values()),
                "reported (share of all requests in the note)",
                True,
                f"{sum(new.values())} of {run.requests}: {new}",
            )
        )
    values = _requests_per_stream(full).get("incident_custom_field_values", 0)
    checks.append(
        Check(
            "B6",
            "full sync: custom field value requests",
            values,
            "== incidents whose type has fields (none for the others)",
            values == typed,
            f"{typed} of {len(incidents)} incidents have a type with fields",
        )
    )
    return rows, checks


# A first sync's account for B9: 3,000 incidents over a year (issue 22, finding 5).
FIRST_SYNC = {"incidents": 3000, "days": 365, "users": 10, "services": 6}


def b9_first_sync_slots() -> Result:
    """First sync of every stream, 3,000 incidents, 500 ms latency, cap 5 req/s, 3 in flight."""
    with EmulatorProcess(**FIRST_SYNC, latency_ms=500) as emu:
        run = run_tap(emu, _config(YEAR_ANCHOR, 5, 3), timeout=3600.0)
    row = Row("B9", "first sync, 3,000 incidents, 500 ms, 5 req/s, concurrency 3", run)
    active = row.as_dict()["req_per_s_active"]
    within_caps = run.peak_per_second <= 5 and run.peak_in_flight <= 3
    check = Check(
        "B9",
        "achieved req/s (first to last request), first sync of a 3,000-incident account",
        active,
        ">= 4.85, never more than 5 in any second or 3 in flight",
        active >= 4.85 and within_caps,
        f"{run.requests:,} requests; peak {run.peak_per_second} req in one second, "
        f"{run.peak_in_flight} in flight",
    )
    return [row], [check]


SCENARIOS: dict[str, t.Callable[[], Result]] = {
    "B1": b1_throttled_full_sync,
    "B2": b2_b4_paged_throttle_off,  # B2 and B4 share one run
    "B3": b3_incremental,
    "B5": b5_memory,
    "B6": b6_custom_fields_cost,
    "B7": b7_request_cost,
    "B9": b9_first_sync_slots,
}

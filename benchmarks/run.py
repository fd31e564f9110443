"""`make bench`: run every scenario, print the table, save JSON + PNG, update the README.

``python -m benchmarks.run [--only B1,B3] [--no-save]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.harness import machine
from benchmarks.scenarios import SCENARIOS, Check, Row

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
START = "<!-- generated: benchmark-results-here -->"
END = "<!-- end generated: benchmark-results-here -->"

COLUMNS = [
    ("scenario", "scenario", "{}"),
    ("label", "run", "{}"),
    ("records", "records", "{:,}"),
    ("requests", "requests", "{:,}"),
    ("wall_s", "wall s", "{:.1f}"),
    ("req_per_s_active", "req/s", "{:.2f}"),
    ("records_per_s", "records/s", "{:,.0f}"),
    ("req_per_1000_records", "req/1000 rec", "{:.2f}"),
    ("peak_rss_mb", "peak RSS MB", "{:.1f}"),
    ("cpu_s_per_1000_records", "tap CPU s/1000 rec", "{:.3f}"),
]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(COLUMNS))) + "|",
    ]
    for row in rows:
        cells = [fmt.format(row[key]) for key, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def checks_table(checks: list[dict[str, Any]]) -> str:
    lines = ["| scenario | figure | value | target | met | note |", "|---|---|---:|---|---|---|"]
    for c in checks:
        met = "yes" if c["met"] else "**no**"
        lines.append(
            f"| {c['scenario']} | {c['what']} | {c['value']:g} | {c['target']} | {met} "
            f"| {c['note']} |"
        )
    return "\n".join(lines)


def text_table(rows: list[dict[str, Any]]) -> str:
    cells = [[title for _, title, _ in COLUMNS]]
    cells += [[fmt.format(row[key]) for key, _, fmt in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    out = []
    for n, r in enumerate(cells):
        out.append(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['scenario']}\n{r['label']}" for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
    positions = list(range(len(rows)))
    top.bar(positions, [r["records_per_s"] for r in rows], color="#4c72b0")
    top.set_ylabel("records/s")
    top.axhline(10_000, color="#c44e52", linestyle="--", linewidth=1)
    top.text(positions[-1], 10_000, " B4 target", va="bottom", ha="right", fontsize=8)
    top.set_title("tap-pagerduty benchmarks")
    bottom.bar(positions, [r["req_per_s_active"] for r in rows], color="#55a868")
    bottom.set_ylabel("requests/s (first to last request)")
    bottom.set_yscale("log")
    bottom.axhline(4.75, color="#c44e52", linestyle="--", linewidth=1)
    bottom.text(positions[-1], 4.75, " B1 target", va="bottom", ha="right", fontsize=8)
    bottom.set_xticks(positions)
    bottom.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def results_markdown(report: dict[str, Any], image: str) -> str:
    """The run's tables in Markdown, as benchmarks/README.md and docs/performance.md show them
    (scripts/docs.py writes the latter and checks both against results/latest.json)."""
    m = report["machine"]
    return "\n".join(
        [
            f"Latest run: {report['finished_at']} in {report['total_seconds']:.0f} s on "
            f"{m['nproc']} x {m['cpu']}, Python {m['python']} (tap and emulator on the same "
            "host).",
            "",
            markdown_table(report["rows"]),
            "",
            checks_table(report["checks"]),
            "",
            f"![records/s and requests/s per run]({image})",
        ]
    )


def update_readme(report: dict[str, Any]) -> None:
    block = "\n".join([START, results_markdown(report, "results/latest.png"), END])
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    README.write_text(head + block + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated scenarios, e.g. B1,B3")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    wanted = [s.strip().upper() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    rows: list[Row] = []
    checks: list[Check] = []
    started = time.monotonic()
    for name in wanted:
        if name == "B4":
            name = "B2"  # one run serves both
        scenario = SCENARIOS[name]
        print(f"==> {name}: {scenario.__doc__.splitlines()[0]}", flush=True)
        t0 = time.monotonic()
        new_rows, new_checks = scenario()
        rows += new_rows
        checks += new_checks
        for row in new_rows:
            d = row.as_dict()
            print(
                f"    {d['label']}: {d['records']:,} records, {d['requests']:,} requests, "
                f"{d['wall_s']} s, {d['req_per_s_active']} req/s, {d['records_per_s']:,} rec/s, "
                f"{d['peak_rss_mb']} MB",
                flush=True,
            )
        print(f"    ({time.monotonic() - t0:.0f} s)", flush=True)
    report = {
        "finished_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "total_seconds": round(time.monotonic() - started, 1),
        "machine": machine(),
        "rows": [row.as_dict() for row in rows],
        "checks": [check.as_dict() for check in checks],
    }
    print()
    print(text_table(report["rows"]))
    print()
    for c in report["checks"]:
        print(
            f"{c['scenario']:5} {'PASS' if c['met'] else 'MISS'}  {c['what']}: {c['value']:g} "
            f"(target {c['target']}){'  - ' + c['note'] if c['note'] else ''}"
        )
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "latest.json").write_text(json.dumps(report, indent=1) + "\n")
        chart(report["rows"], RESULTS / "latest.png")
        if set(wanted) >= set(SCENARIOS):  # only a complete run goes into the README
            update_readme(report)
        print(f"\nsaved {RESULTS / 'latest.json'} and {RESULTS / 'latest.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

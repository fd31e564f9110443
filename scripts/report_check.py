"""Look at the HTML report as a person would: headless Chromium renders it, a small script in
the page measures it, and a screenshot can be kept.

    .venv/bin/python -m scripts.report_check output/report.html     # check
    .venv/bin/python -m scripts.report_check output/report.html \
        --screenshot docs/analytics-report.png                      # and keep a screenshot

The check reports, per chart, how many data marks (bars, lines, points: the elements
scripts/report.py marks `mark-N`) the browser drew with a size; every text of a chart that
lies outside its SVG and every box whose text is wider than the box; and every row of a grid
that its sections leave partly empty. Chromium is Debian's `chromium` package.
"""

from __future__ import annotations

import argparse
import html as html_lib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WIDTH = 1280
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
RESULT = re.compile(r'<pre id="report-check">(?P<json>.*?)</pre>', re.S)

CHECK_SCRIPT = """
<script>
window.addEventListener("load", () => {
  const out = {charts: [], overflow: [], half_rows: [],
               height: document.documentElement.scrollHeight};
  const outside = (r, box) => r.left < box.left - 1 || r.right > box.right + 1 ||
                              r.top < box.top - 1 || r.bottom > box.bottom + 1;
  document.querySelectorAll("section svg").forEach((svg) => {
    const title = svg.closest("section").querySelector("h2").textContent;
    const box = svg.getBoundingClientRect();
    let marks = 0;
    svg.querySelectorAll('[id^="mark-"]').forEach((group) => {
      group.querySelectorAll("path, use, rect").forEach((el) => {
        const r = el.getBoundingClientRect();
        if (r.width > 0.5 || r.height > 0.5) marks += 1;
      });
    });
    out.charts.push({title: title, marks: marks});
    svg.querySelectorAll("text").forEach((text) => {
      const r = text.getBoundingClientRect();
      if (r.width > 0 && outside(r, box)) out.overflow.push(title + ": " + text.textContent);
    });
  });
  const boxes = "header h1, header p, .card, .card b, .card span, .card small, section, " +
                "section h2, section p, th, td";
  document.querySelectorAll(boxes).forEach((el) => {
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
      out.overflow.push(el.tagName.toLowerCase() + ": " + el.textContent.slice(0, 80));
    }
  });
  document.querySelectorAll(".grid, .cards").forEach((grid) => {
    const width = grid.getBoundingClientRect().width;
    const rows = {};
    Array.from(grid.children).forEach((child) => {
      const r = child.getBoundingClientRect();
      const top = Math.round(r.top);
      rows[top] = (rows[top] || 0) + r.width;
    });
    Object.entries(rows).forEach(([top, used]) => {
      if (used < width * 0.9) {
        out.half_rows.push(`row at ${top} px: ${Math.round(used)} of ${Math.round(width)} px`);
      }
    });
  });
  const pre = document.createElement("pre");
  pre.id = "report-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


class ChromiumMissing(RuntimeError):
    pass


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise ChromiumMissing(
        "Chromium is not installed (Debian package `chromium`; .ci/run installs it)"
    )


def run_chromium(args: list[str], profile: Path, height: int) -> str:
    done = subprocess.run(
        [
            chromium(),
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{height}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def check(report: Path) -> dict:
    """What the browser drew: {"charts": [{"title", "marks"}], "overflow": [...],
    "half_rows": [...], "height": px}."""
    with tempfile.TemporaryDirectory(prefix="report-check-") as tmp:
        page = Path(tmp) / "page.html"
        html = report.read_text(encoding="utf-8")
        page.write_text(html.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
        dom = run_chromium(
            ["--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
            Path(tmp) / "profile",
            2000,
        )
    match = RESULT.search(dom)
    if not match:
        raise RuntimeError("the check script did not run in Chromium")
    return json.loads(html_lib.unescape(match["json"]))


def screenshot(report: Path, png: Path, height: int) -> None:
    with tempfile.TemporaryDirectory(prefix="report-shot-") as tmp:
        run_chromium(
            [f"--screenshot={png.resolve()}", report.resolve().as_uri()], Path(tmp), height
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.report_check", description=__doc__)
    parser.add_argument("report", type=Path)
    parser.add_argument("--screenshot", type=Path, help="also write a PNG of the whole page")
    options = parser.parse_args(argv)
    try:
        result = check(options.report)
        if options.screenshot:
            screenshot(options.report, options.screenshot, result["height"])
    except (ChromiumMissing, RuntimeError) as error:
        print(f"report_check: {error}", file=sys.stderr)
        return 2
    for chart in result["charts"]:
        print(f"{chart['title']}: {chart['marks']} marks drawn")
    for line in result["overflow"]:
        print(f"overflow: {line}")
    for line in result["half_rows"]:
        print(f"half-empty: {line}")
    bad = result["overflow"] or result["half_rows"] or any(not c["marks"] for c in result["charts"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""Docs that cannot drift: every measured figure in README.md and docs/ is written from a file.

    python -m scripts.docs                  # rewrite every generated part of the pages
    python -m scripts.docs --check          # exit 1, naming each page and part that differs
    python -m scripts.docs --demo output/demo-results.json
                                            # keep a demo run's figures, then rewrite

A page marks what is generated, so the check (tests/test_docs.py) finds every such figure:

* a block: `<!-- generated: NAME -->` ... `<!-- end generated: NAME -->`, whose text BLOCKS[NAME]
  makes (the settings table from `tap-pagerduty --about`, the benchmark tables, the demo's
  summary);
* a figure inside a sentence: `<!--fig:STEM:PATH-->884<!--/fig-->` or, with a format spec,
  `<!--fig:STEM:PATH|.2f-->4.90<!--/fig-->`. STEM names a result file,
  `benchmarks/results/STEM.json` or `docs/results/STEM.json`; PATH walks it: `speedup`,
  `sequential.wall_s`, `rows[label=after: full sync, demo account].requests` (the list item
  whose keys have those values; `&` joins several). Integers are written with thousands
  separators, other numbers as `{:,g}`.

Result files: `make bench` writes benchmarks/results/latest.json, `python -m benchmarks.b8_backfill`
benchmarks/results/b8_backfill.json, `make demo` output/demo-results.json (with dbt's
run_results), which `--demo` copies to docs/results/demo.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULT_DIRS = (ROOT / "benchmarks" / "results", ROOT / "docs" / "results")
DEMO_RESULTS = ROOT / "docs" / "results" / "demo.json"
PAGES = (
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "benchmarks" / "README.md",
)

BLOCK = re.compile(
    r"(?P<open><!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)"
    r"(?P<close><!-- end generated: (?P=name) -->)",
    re.S,
)
FIGURE = re.compile(r"<!--fig:(?P<spec>[^>]*?)-->(?P<value>.*?)<!--/fig-->", re.S)
STEP = re.compile(r"(?P<key>[\w-]+)(?:\[(?P<match>[^\]]*)\])?")


class DocsError(Exception):
    pass


# --------------------------------------------------------------------------- result files
def result(stem: str) -> Any:
    for folder in RESULT_DIRS:
        path = folder / f"{stem}.json"
        if path.exists():
            return json.loads(path.read_text())
    raise DocsError(f"no result file {stem}.json in " + " or ".join(str(d) for d in RESULT_DIRS))


def walk(data: Any, path: str) -> Any:
    """`a.b[k=v&k2=v2].c` through nested objects and lists (see the module docstring)."""
    for part in split_path(path):
        step = STEP.fullmatch(part)
        if not step:
            raise DocsError(f"bad path step {part!r} in {path!r}")
        if not isinstance(data, dict) or step["key"] not in data:
            raise DocsError(f"{path!r}: no key {step['key']!r}")
        data = data[step["key"]]
        if step["match"] is not None:
            wanted = dict(pair.split("=", 1) for pair in step["match"].split("&"))
            found = [item for item in data if all(str(item.get(k)) == v for k, v in wanted.items())]
            if len(found) != 1:
                raise DocsError(f"{path!r}: {len(found)} items match [{step['match']}]")
            data = found[0]
    return data


def split_path(path: str) -> list[str]:
    """Split on dots outside brackets."""
    parts, depth, current = [], 0, ""
    for char in path:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def figure(spec: str) -> str:
    """The text of `STEM:PATH[|FORMAT]`."""
    stem, _, rest = spec.partition(":")
    path, _, fmt = rest.partition("|")
    value = walk(result(stem), path)
    if fmt:
        return format(value, fmt)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,g}"


# --------------------------------------------------------------------------- blocks
def settings_table() -> str:
    """The settings table of `tap-pagerduty --about --format=markdown`."""
    from tap_pagerduty.tap import TapPagerDuty

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        TapPagerDuty.print_about(output_format="markdown")
    rows = [line for line in out.getvalue().splitlines() if line.startswith("|")]
    return "\n".join(rows) + "\n"


def benchmark_tables(image: str) -> Callable[[], str]:
    def block() -> str:
        from benchmarks.run import results_markdown

        return results_markdown(result("latest"), image) + "\n"

    return block


def demo_summary() -> str:
    from scripts.demo import summary_lines

    return "```text\n" + "\n".join(summary_lines(result("demo"))) + "\n```\n"


def b8_runs() -> str:
    from benchmarks.b8_backfill import runs_markdown

    return runs_markdown(result("b8_backfill"))


def oauth_scopes_table() -> str:
    from scripts.spec_tables import scopes_markdown

    return scopes_markdown()


BLOCKS: dict[str, Callable[[], str]] = {
    "b8-runs": b8_runs,
    "settings-table": settings_table,
    "oauth-scopes": oauth_scopes_table,
    "benchmark-results": benchmark_tables("../benchmarks/results/latest.png"),
    "benchmark-results-here": benchmark_tables("results/latest.png"),
    "demo-summary": demo_summary,
}


# --------------------------------------------------------------------------- pages
def render(text: str, page: str = "") -> tuple[str, list[str]]:
    """The page with every generated part rewritten, and what differed."""
    differences: list[str] = []
    cache: dict[str, str] = {}

    def block(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise DocsError(f"{page}: unknown generated block {name!r}")
        if name not in cache:
            cache[name] = BLOCKS[name]()
        if match["body"] != cache[name]:
            differences.append(f"{page}: block {name!r} differs from its source")
        return match["open"] + cache[name] + match["close"]

    def fig(match: re.Match[str]) -> str:
        value = figure(match["spec"])
        if match["value"] != value:
            differences.append(
                f"{page}: figure {match['spec']} reads {match['value']!r}, "
                f"its result file {value!r}"
            )
        return f"<!--fig:{match['spec']}-->{value}<!--/fig-->"

    text = BLOCK.sub(block, text)
    text = FIGURE.sub(fig, text)
    return text, differences


def run(check: bool, pages: tuple[Path, ...] = PAGES) -> list[str]:
    differences: list[str] = []
    for path in pages:
        text = path.read_text(encoding="utf-8")
        new, found = render(text, str(path.relative_to(ROOT)))
        differences += found
        if not check and new != text:
            path.write_text(new, encoding="utf-8")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    parser.add_argument("--demo", type=Path, help="a demo results file to keep in docs/results/")
    args = parser.parse_args(argv)
    try:
        if args.demo:
            json.loads(args.demo.read_text())  # a broken file is refused before it is kept
            DEMO_RESULTS.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(args.demo, DEMO_RESULTS)
        differences = run(check=args.check)
    except (DocsError, OSError, ValueError) as error:
        print(f"docs: {error}", file=sys.stderr)
        return 2
    for line in differences:
        print(line, file=sys.stderr if args.check else sys.stdout)
    if args.check and differences:
        print(
            "docs: run `python -m scripts.docs` to rewrite them from the result files",
            file=sys.stderr,
        )
        return 1
    if not args.check:
        print(
            f"docs: {len(differences)} generated part(s) rewritten"
            if differences
            else "docs: up to date"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

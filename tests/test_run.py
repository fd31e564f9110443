"""The run object: results streams share are computed once per run, and live with the run."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

from tap_pagerduty.run import Run
from tap_pagerduty.tap import TapPagerDuty

PACKAGE = Path(__file__).resolve().parents[1] / "tap_pagerduty"


def new_run() -> Run:
    tap = TapPagerDuty(config={"api_token": "x"}, parse_env_config=False)
    return tap.run


def test_a_shared_result_is_computed_once_for_every_thread_that_asks() -> None:
    run = new_run()
    calls: list[int] = []
    release = threading.Event()

    def compute() -> object:
        calls.append(1)
        release.wait(timeout=30)
        return object()

    results: list[object] = []
    askers = [
        threading.Thread(target=lambda: results.append(run.shared("ids", compute)))
        for _ in range(4)
    ]
    for asker in askers:
        asker.start()
    release.set()
    for asker in askers:
        asker.join(timeout=30)
    assert len(calls) == 1
    assert len(results) == 4 and all(result is results[0] for result in results)


def test_each_run_has_its_own_results_and_a_failure_is_not_kept() -> None:
    first, second = new_run(), new_run()
    assert first is not second
    assert first.shared("definitions", lambda: "first") == "first"
    assert second.shared("definitions", lambda: "second") == "second"

    def fail() -> str:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        first.shared("filter", fail)
    assert first.shared("filter", lambda: "read again") == "read again"


def test_streams_keep_no_per_run_cache_in_module_globals() -> None:
    """Per-run results live in the run (a module-level cache outlives it, and is shared by
    two runs in one process: tests, Dagster)."""
    found = []
    for source in sorted((PACKAGE / "streams").glob("*.py")):
        tree = ast.parse(source.read_text())
        for node in tree.body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            text = ast.unparse(value) if value is not None else ""
            if "WeakKeyDictionary" in text or "threading.Lock" in text:
                found.append(f"{source.name}:{node.lineno}: {text}")
    assert not found, found

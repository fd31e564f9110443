"""The test suite's own machinery works as `make test` and `make check` assume."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GROUPED = """
import pytest

pytestmark = pytest.mark.xdist_group("one")


@pytest.mark.parametrize("i", range(6))
def test_grouped(i):
    pass
"""


def test_xdist_group_keeps_its_tests_on_one_worker(tmp_path) -> None:
    """`--dist loadgroup` keeps each `xdist_group` on one worker, so a module fixture that costs
    a sync (tests/test_sync_truth.py) is built once. pytest 9.2 silently breaks it
    (pytest-dev/pytest-xdist#1386): every group then runs on every worker."""
    (tmp_path / "test_a.py").write_text(GROUPED)
    (tmp_path / "test_b.py").write_text(GROUPED)
    command = [sys.executable, "-m", "pytest", "-p", "xdist.plugin", "-p", "no:cacheprovider"]
    run = subprocess.run(
        [*command, "-n", "2", "--dist", "loadgroup", "-v"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        # Only xdist: the other installed plugins (Dagster's, hypothesis') cost seconds per worker.
        env={**os.environ, "PYTEST_ADDOPTS": "", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    workers: dict[str, set[str]] = defaultdict(set)
    for worker, test in re.findall(r"\[(gw\d+)\].*PASSED (\S+)", run.stdout):
        workers[test.split("::")[0]].add(worker)
    assert set(workers) == {"test_a.py", "test_b.py"}, run.stdout[-2000:]
    assert len(workers["test_a.py"] | workers["test_b.py"]) == 1, dict(workers)


def _imported_top_level_modules(source: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module.split(".")[0])
    return modules


def test_mypy_skips_no_library_that_our_code_imports() -> None:
    """pyproject.toml lets mypy skip libraries reached only through Dagster and matplotlib (a
    cold `make lint` parses fewer files); a module of ours that imports one would silently get
    `Any` from it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    skipped = {
        pattern.removesuffix(".*")
        for override in config["overrides"]
        if override.get("follow_imports") == "skip"
        for pattern in override["module"]
    }
    assert skipped, "the override this test guards is gone: delete the test with it"
    offenders = {
        f"{source.relative_to(ROOT)}: {module}"
        for folder in config["files"]
        for source in (ROOT / folder).rglob("*.py")
        for module in _imported_top_level_modules(source) & skipped
    }
    assert not offenders, f"take these out of the mypy skip list: {sorted(offenders)}"


def _module_marks(source: Path) -> list[str]:
    """The module-level `pytestmark = ...` assignments, as source text."""
    tree = ast.parse(source.read_text())
    return [
        ast.unparse(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(getattr(target, "id", None) == "pytestmark" for target in node.targets)
    ]


def test_the_fast_lane_leaves_out_only_modules_whose_every_test_is_slow() -> None:
    """tests/conftest.py does not import, under `-m "not slow"`, a module whose source says
    `pytestmark = pytest.mark.slow` (alone or in a list): true only if that is the module's
    one `pytestmark`, which marks every test in it."""
    from tests.conftest import _WHOLE_MODULE_SLOW

    left_out = [
        source
        for source in sorted((ROOT / "tests").glob("test_*.py"))
        if _WHOLE_MODULE_SLOW.search(source.read_text())
    ]
    assert {source.name for source in left_out} >= {"test_analytics.py", "test_orchestration.py"}
    for source in left_out:
        marks = _module_marks(source)
        assert len(marks) == 1 and "pytest.mark.slow" in marks[0], (source.name, marks)

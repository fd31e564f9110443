"""The test suite's own machinery works as `make test` and `make check` assume."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict

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

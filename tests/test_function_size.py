"""Small functions: none in the emulator is longer than 60 lines (a long one is split by what
it does, so that each part has a name that explains it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 60


@pytest.mark.parametrize("package", ["pagerduty_emulator"])
def test_no_function_is_longer_than_60_lines(package: str) -> None:
    long = []
    for source in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LIMIT:
                    long.append(f"{source.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long, f"functions over {LIMIT} lines: {long}"

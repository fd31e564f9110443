"""The SDK contract: every private singer-sdk name the tap uses sits in `sdk_seams`, and the
installed SDK still has each of them with the same parameters.

When a singer-sdk upgrade breaks a seam, this test names it and says what it is for, so the
fix starts in `tap_pagerduty/sdk_seams.py` instead of in a failed sync.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
import singer_sdk
from singer_sdk import RESTStream, Stream, Tap
from singer_sdk.io_base import GenericSingerWriter
from singer_sdk.plugin_base import PluginBase

from tap_pagerduty import sdk_seams
from tap_pagerduty.sdk_seams import SEAMS, STREAM_ATTRIBUTES, Seam

PACKAGE = Path(sdk_seams.__file__).parent
SDK = Path(singer_sdk.__file__).parent
SDK_VERSION = PluginBase.get_sdk_version()
SDK_CLASSES = (Stream, RESTStream, Tap, PluginBase, GenericSingerWriter)


def owner_name(seam: Seam) -> str:
    return getattr(seam.owner, "__qualname__", None) or seam.owner.__name__


@pytest.mark.parametrize("seam", SEAMS, ids=lambda seam: f"{owner_name(seam)}.{seam.name}")
def test_the_installed_sdk_still_has_each_seam(seam: Seam) -> None:
    where = f"singer-sdk {SDK_VERSION}: {owner_name(seam)}.{seam.name}"
    uses = f"tap_pagerduty/sdk_seams.py uses it to {seam.why}"
    assert hasattr(seam.owner, seam.name), f"{where} no longer exists; {uses}"
    params = tuple(inspect.signature(getattr(seam.owner, seam.name)).parameters)
    assert params == seam.params, (
        f"{where} now takes {params}, not {seam.params}; {uses}. Check the new SDK's "
        "version of it and adapt the seam."
    )


def test_the_sdk_still_sets_each_private_attribute_the_tap_reads() -> None:
    from tap_pagerduty.tap import TapPagerDuty

    tap = TapPagerDuty(config={"api_token": "x"}, parse_env_config=False)
    stream = tap.streams["users"]
    for name, why in STREAM_ATTRIBUTES.items():
        assert hasattr(stream, name), (
            f"singer-sdk {SDK_VERSION}: streams no longer have {name}; "
            f"tap_pagerduty/sdk_seams.py reads it for {why}"
        )


def sdk_private_names() -> set[str]:
    """Every `_name` the SDK defines on its classes or assigns on `self`."""
    names = {n for cls in SDK_CLASSES for n in dir(cls) if n.startswith("_")}
    for source in SDK.rglob("*.py"):
        names.update(re.findall(r"self\.(_[a-z]\w*)\s*[:=]", source.read_text()))
    return {n for n in names if not n.startswith("__")}


def private_uses(source: Path, sdk_names: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            parts = (node.module or "").split(".")
            names = [alias.name for alias in node.names]
            if any(p.startswith("_") for p in parts) or any(n.startswith("_") for n in names):
                found.append(f"line {node.lineno}: from {node.module} import {names}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("singer_sdk") and "._" in alias.name:
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute | ast.FunctionDef):
            name = node.attr if isinstance(node, ast.Attribute) else node.name
            if name in sdk_names:
                found.append(f"line {node.lineno}: {name}")
    return found


def test_no_private_sdk_name_is_used_outside_the_seams_module() -> None:
    sdk_names = sdk_private_names()
    offenders = {
        str(source.relative_to(PACKAGE.parent)): uses
        for source in sorted(PACKAGE.rglob("*.py"))
        if source.name != "sdk_seams.py" and (uses := private_uses(source, sdk_names))
    }
    assert not offenders, f"private singer-sdk names outside sdk_seams.py: {offenders}"


def test_the_scan_finds_a_private_use() -> None:
    """The scan above is not vacuous: the seams module itself is full of private uses."""
    uses = private_uses(Path(sdk_seams.__file__), sdk_private_names())
    assert any("_write_schema_message" in use for use in uses), uses
    assert any("singer_sdk.helpers" in use or "_typing" in use for use in uses), uses

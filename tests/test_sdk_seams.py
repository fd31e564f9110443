"""The SDK contract: every private singer-sdk name the tap uses sits in `sdk_seams`, and the
installed SDK still has each of them with the same parameters.

When a singer-sdk upgrade breaks a seam, this test names it and says what it is for, so the
fix starts in `tap_pagerduty/sdk_seams.py` instead of in a failed sync.
"""

from __future__ import annotations
import __future__

import ast
import inspect
import io
import json
import re
import tempfile
import textwrap
import typing as t
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import singer_sdk
from singer_sdk import RESTStream, Stream, Tap
from singer_sdk.io_base import GenericSingerWriter
from singer_sdk.plugin_base import PluginBase

from tap_pagerduty import sdk_seams
from tap_pagerduty.sdk_seams import (
    SEAMS,
    STREAM_ATTRIBUTES,
    UNUSED_REST_HOOKS,
    Seam,
    StreamSeams,
    TapSeams,
)
from tap_pagerduty.streams.base import IncrementalStream

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


# -- streams are not RESTStreams, and a RESTStream hook is refused at class creation ----------


def rest_stream_hooks() -> set[str]:
    """Every name `RESTStream` and its `_HTTPStream` base add to `Stream`."""
    from singer_sdk.streams.rest import _HTTPStream

    added = {n for cls in (_HTTPStream, RESTStream) for n in vars(cls) if not n.startswith("__")}
    return {n for n in added if not hasattr(Stream, n)}


def test_the_refused_hooks_are_every_rest_stream_hook_of_the_installed_sdk() -> None:
    hooks = rest_stream_hooks()
    assert hooks == set(UNUSED_REST_HOOKS), (
        f"singer-sdk {SDK_VERSION}: RESTStream hooks not in sdk_seams.UNUSED_REST_HOOKS: "
        f"{sorted(hooks - set(UNUSED_REST_HOOKS))}; listed but gone: "
        f"{sorted(set(UNUSED_REST_HOOKS) - hooks)}"
    )


def test_no_stream_is_a_rest_stream() -> None:
    from tap_pagerduty.streams import STREAM_TYPES

    assert not [cls.__name__ for cls in STREAM_TYPES if issubclass(cls, RESTStream)]


@pytest.mark.parametrize("hook", sorted(UNUSED_REST_HOOKS))
def test_a_stream_defining_a_rest_stream_hook_fails_at_class_creation(hook: str) -> None:
    from tap_pagerduty.streams.base import ListStream

    with pytest.raises(TypeError) as raised:
        type("NewStream", (ListStream,), {"name": "new", "path": "/new", hook: None})
    line = str(raised.value)
    assert "\n" not in line
    assert f"NewStream defines `{hook}`" in line
    assert UNUSED_REST_HOOKS[hook] in line  # says what to do instead


def overrides_of(sdk_class: type, tap_class: type) -> dict[str, set[str]]:
    """The private or `@final` methods of `sdk_class` that the tap's classes above
    `tap_class` (itself included) override: {name: the tap classes defining it}."""
    found: dict[str, set[str]] = {}
    for cls in tap_class.__mro__:
        if not cls.__module__.startswith("tap_pagerduty"):
            continue
        for name in vars(cls):
            sdk_method = inspect.getattr_static(sdk_class, name, None)
            if not (callable(sdk_method) or isinstance(sdk_method, property)):
                continue  # not an SDK method (nor ABCMeta's `_abc_impl`)
            private = name.startswith("_") and not name.startswith("__")
            if private or getattr(sdk_method, "__final__", False):
                found.setdefault(name, set()).add(cls.__qualname__)
    return found


def test_every_private_or_final_sdk_method_the_tap_overrides_is_a_seam() -> None:
    """An override the SDK may stop calling is listed, so the real sync below checks it."""
    from tap_pagerduty.streams import STREAM_TYPES
    from tap_pagerduty.tap import TapPagerDuty

    for sdk_class, tap_classes, home in (
        (Stream, STREAM_TYPES, "StreamSeams"),
        (Tap, [TapPagerDuty], "TapSeams"),
    ):
        listed = {seam.name for seam in SEAMS if seam.overridden and seam.owner is sdk_class}
        found: dict[str, set[str]] = {}
        for tap_class in tap_classes:
            for name, owners in overrides_of(sdk_class, tap_class).items():
                found.setdefault(name, set()).update(owners)
        assert set(found) == listed, f"overridden: {found}; listed as overridden seams: {listed}"
        assert all(owners == {home} for owners in found.values()), found


# -- the SDK still calls the tap's overrides: a real sync with each one instrumented ----------

NOW = "2026-11-01T00:00:00Z"
OVERRIDES = [seam for seam in SEAMS if seam.overridden]


@dataclass
class SeamRun:
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (seam, stream) -> calls
    messages: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, stream) -> n
    bookmarks: dict[str, list[str]] = field(default_factory=dict)  # in STATE, by stream
    checkpoints: dict[str, set[str]] = field(default_factory=dict)  # window ends saved
    taps: list[Tap] = field(default_factory=list)  # the tap whose `sync_all` ran

    def count(self, seam: str, stream: str) -> int:
        return self.calls[seam, stream]


def instrument(monkeypatch: pytest.MonkeyPatch, run: SeamRun) -> None:
    """Count each call of each overridden seam, by stream; keep the window ends saved."""
    for seam in OVERRIDES:
        home = StreamSeams if seam.owner is Stream else TapSeams
        original = getattr(home, seam.name)

        def counted(
            self: StreamSeams | TapSeams,
            *args: t.Any,
            _original: t.Any = original,
            _seam: str = seam.name,
            **kwargs: t.Any,
        ) -> t.Any:
            run.calls[_seam, self.name] += 1
            if isinstance(self, Tap):
                run.taps.append(self)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(home, seam.name, counted)
    checkpoint = IncrementalStream.checkpoint

    def counted_checkpoint(self: IncrementalStream, moment: datetime, **extra: t.Any) -> None:
        checkpoint(self, moment, **extra)
        saved = str(self.stream_state.get("replication_key_value"))
        run.checkpoints.setdefault(self.name, set()).add(saved)

    monkeypatch.setattr(IncrementalStream, "checkpoint", counted_checkpoint)
    # STATE after every record, and no sort check: a bookmark the SDK moved to a record's
    # time shows in the output (instead of failing the run on the next window's records).
    monkeypatch.setattr(Stream, "STATE_MSG_FREQUENCY", 1)
    monkeypatch.setattr(Stream, "check_sorted", False)


def instrumented_sync(monkeypatch: pytest.MonkeyPatch) -> SeamRun:
    from pagerduty_emulator import Emulator
    from tap_pagerduty.output import FastSingerWriter
    from tap_pagerduty.tap import TapPagerDuty
    from tests.support.tap_runs import config_for

    run = SeamRun()
    instrument(monkeypatch, run)
    emulator = Emulator(seed=3, incidents=20, days=30, now=NOW, rate_limit=0).start()
    buffer = io.StringIO()
    try:
        config = {**config_for(emulator), "anchor_date": "2026-08-01T00:00:00Z"}
        with tempfile.TemporaryDirectory() as folder:
            config_file = Path(folder, "config.json")
            config_file.write_text(json.dumps(config))
            with redirect_stdout(buffer):  # the SDK's command line, as `tap-pagerduty` runs it
                TapPagerDuty.cli.main(["--config", str(config_file)], standalone_mode=False)
                # With STATE after every record the last STATE repeats the one before: the
                # state writer skips it, so the last RECORD batch waits for the process' end.
                for tap in run.taps:
                    t.cast("FastSingerWriter", tap.message_writer).flush()
    finally:
        emulator.stop()
    for line in buffer.getvalue().splitlines():
        message = json.loads(line)
        run.messages[message["type"], message.get("stream", "")] += 1
        if message["type"] == "STATE":
            for stream, bookmark in message["value"].get("bookmarks", {}).items():
                if "replication_key_value" in bookmark:
                    value = bookmark["replication_key_value"]
                    run.bookmarks.setdefault(stream, []).append(value)
    return run


def seam_problems(run: SeamRun) -> list[str]:
    """What shows that the SDK no longer reaches an overridden seam, one line each."""
    from tap_pagerduty.streams import STREAM_TYPES

    problems = []
    if (runs := run.count("sync_all", "tap-pagerduty")) != 1:
        problems.append(f"sync_all: the SDK's command line reached the tap's override {runs} times")
    for stream in (cls.name for cls in STREAM_TYPES):  # type: ignore[misc]
        schemas, records = run.messages["SCHEMA", stream], run.messages["RECORD", stream]
        syncs = run.count("sync", stream)
        schema_writes = run.count("_write_schema_message", stream)
        if syncs == 0:
            problems.append(f"sync: {stream}: no sync reached the tap's override")
        elif schema_writes != syncs:
            problems.append(
                f"_write_schema_message: {stream}: reached {schema_writes} times in {syncs} syncs"
            )
        if schemas != 1:
            problems.append(f"_write_schema_message: {stream}: {schemas} SCHEMA messages")
        for seam in ("_generate_record_messages", "_increment_stream_state"):
            if run.count(seam, stream) != records:
                reached = run.count(seam, stream)
                problems.append(f"{seam}: {stream}: reached {reached} times for {records} records")
    for stream, values in run.bookmarks.items():
        saved = run.checkpoints.get(stream, set())
        if stray := [v for v in values if v not in saved]:
            problems.append(
                f"_increment_stream_state: {stream}: bookmarks {stray[:3]} are no window ends"
            )
    return problems


def test_a_real_sync_reaches_every_overridden_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    run = instrumented_sync(monkeypatch)
    assert seam_problems(run) == []
    # The checks can fail: children are synced once per parent, incremental streams bookmark.
    assert run.count("sync", "user_notification_rules") > 1
    assert run.count("_write_schema_message", "user_notification_rules") > 1
    assert run.messages["RECORD", "log_entries"] > 0 and run.bookmarks["log_entries"]
    assert len(run.checkpoints["log_entries"]) > 1  # several windows


def sdk_patched(
    function: t.Callable[..., t.Any], old: str, new: str, also: dict[str, str]
) -> t.Any:
    """`function` (an SDK method) recompiled from its source with `old` replaced by `new`
    (and each of `also` replaced where it occurs)."""
    source = textwrap.dedent(inspect.getsource(function))
    assert source.count(old) == 1, f"singer-sdk {SDK_VERSION}: {old!r} not in {function}"
    flags = __future__.annotations.compiler_flag  # as the SDK's module is compiled
    changed = source.replace(old, new)
    for text, replacement in also.items():
        changed = changed.replace(text, replacement)
    code = compile(changed, inspect.getfile(function), "exec", flags, dont_inherit=True)
    namespace = dict(function.__globals__)
    exec(code, namespace)  # the SDK's own source, one call changed
    return namespace[function.__name__]


#: SDK changes that bypass one overridden seam each: the method patched, and the call that
#: goes to `Stream`'s own method instead of the stream's.
BYPASSES = {
    "sync": (
        "_sync_children",
        "child_stream.sync(context=child_context)",
        "Stream.sync(child_stream, context=child_context)",
    ),
    "_write_schema_message": (
        "sync",
        "self._write_schema_message()",
        "Stream._write_schema_message(self)",
    ),
    "_generate_record_messages": (
        "_write_record_message",
        "self._generate_record_messages(record)",
        "Stream._generate_record_messages(self, record)",
    ),
    "sync_all": (
        "invoke",
        "tap.sync_all()",
        "Tap.sync_all(tap)",
    ),
    "_increment_stream_state": (
        "_sync_records",
        "self._increment_stream_state(record, context=current_context)",
        "Stream._increment_stream_state(self, record, context=current_context)",
    ),
}


def bypass(monkeypatch: pytest.MonkeyPatch, seam: str) -> None:
    method, old, new = BYPASSES[seam]
    sdk_class = Tap if seam == "sync_all" else Stream
    # Recompiled outside its class, a method calls `super()` with its arguments spelled out.
    function = getattr(sdk_class, method)
    patched = sdk_patched(function, old, new, {"super()": f"super({sdk_class.__name__}, cls)"})
    monkeypatch.setattr(sdk_class, method, patched)


def test_every_overridden_seam_has_a_bypass_to_detect() -> None:
    assert set(BYPASSES) == {seam.name for seam in OVERRIDES}


@pytest.mark.parametrize("seam", sorted(BYPASSES))
def test_the_check_fails_on_an_sdk_that_bypasses_a_seam(
    monkeypatch: pytest.MonkeyPatch, seam: str
) -> None:
    bypass(monkeypatch, seam)
    problems = seam_problems(instrumented_sync(monkeypatch))
    assert problems, f"an SDK that bypasses {seam} went unnoticed"
    assert {line.split(":")[0] for line in problems} >= {seam}, problems


def test_the_check_fails_on_the_sdk_of_issue_25(monkeypatch: pytest.MonkeyPatch) -> None:
    """`sync` and `_write_record_message` calling `Stream`'s own methods: the SCHEMA of
    `user_notification_rules` written once per user, records past the faster path."""
    bypass(monkeypatch, "_write_schema_message")
    bypass(monkeypatch, "_generate_record_messages")
    run = instrumented_sync(monkeypatch)
    assert run.messages["SCHEMA", "user_notification_rules"] > 1
    named = {line.split(":")[0] for line in seam_problems(run)}
    assert named == {"_write_schema_message", "_generate_record_messages"}, named

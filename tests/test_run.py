"""The run object: results streams share are computed once per run, and live with the run;
a result one stream hands another goes through a slot both declare, checked at start."""

from __future__ import annotations

import ast
import json
import threading
import typing as t
from pathlib import Path

import pytest

from tap_pagerduty import cli
from tap_pagerduty import tap as tap_module
from tap_pagerduty.client import PagerDutyStream
from tap_pagerduty.run import NeedsError, Run, Slot, check_needs
from tap_pagerduty.streams import STREAM_TYPES
from tap_pagerduty.streams.account import PrioritiesStream, VendorsStream
from tap_pagerduty.streams.incidents import (
    CHANGE_LOG,
    CHANGE_LOG_ENTRIES,
    CHILD_CHOICES,
    IncidentAlertsStream,
    IncidentNotesStream,
    IncidentsStream,
    LogEntriesStream,
)
from tap_pagerduty.tap import TapPagerDuty

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

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


# -- declared needs: a stream reads another's result through the run, never its attributes ----

SLOT: Slot[str] = Slot("a test result")


class Producer(VendorsStream):
    produces = (SLOT,)


class Reader(PrioritiesStream):
    needs = (SLOT,)


class Undeclared(PrioritiesStream):
    def pages(self) -> t.Iterator[list[dict[str, t.Any]]]:
        self.run.get(SLOT, self)  # reads a slot it does not declare
        yield []


def tap_with(*replaced: type[PagerDutyStream]) -> TapPagerDuty:
    """The tap with some stream classes replaced by the test's subclasses (same names and
    schemas), on a port nothing listens to: a request would fail the test."""
    by_name = {cls.name: cls for cls in replaced}

    class Tap(TapPagerDuty):
        def discover_streams(self) -> list[Stream]:
            return [by_name.get(cls.name, cls)(tap=self) for cls in STREAM_TYPES]

    config = {"api_token": "x", "base_url": "http://127.0.0.1:9", "request_timeout": 1}
    return Tap(config=config, parse_env_config=False)


def select_only(tap: TapPagerDuty, *names: str) -> None:
    for stream in tap.streams.values():
        stream.selected = stream.name in names


def test_a_producer_syncs_before_the_stream_reading_its_result() -> None:
    names = list(tap_with(Producer, Reader).streams)
    assert names.index("vendors") < names.index("priorities")
    # Otherwise the order of STREAM_TYPES: configuration first, history last.
    assert list(TapPagerDuty(config={"api_token": "x"}, parse_env_config=False).streams) == [
        cls.name for cls in STREAM_TYPES
    ]


def test_a_reader_whose_producer_is_not_selected_fails_at_start_in_one_line() -> None:
    tap = tap_with(Producer, Reader)
    select_only(tap, "priorities")
    with pytest.raises(NeedsError) as raised:
        tap.sync_all()  # before any request: the port answers nothing
    line = str(raised.value)
    assert "\n" not in line
    assert "'priorities' needs 'a test result' from stream 'vendors'" in line
    assert "select 'vendors' too" in line
    select_only(tap, "vendors")  # the producer alone: nothing to check
    check_needs(t.cast("dict[str, PagerDutyStream]", tap.streams).values())


def test_a_result_no_stream_produces_fails_when_the_tap_is_built() -> None:
    with pytest.raises(NeedsError, match="'priorities' reads 'a test result', which no stream"):
        tap_with(Reader).streams  # noqa: B018


def test_the_command_line_says_a_missing_producer_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    types = [Reader if cls.name == "priorities" else cls for cls in STREAM_TYPES]
    monkeypatch.setattr(tap_module, "STREAM_TYPES", types)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_token": "x", "base_url": "http://127.0.0.1:9"}))
    with pytest.raises(SystemExit) as exited:
        cli.main(["--config", str(config)])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("tap-pagerduty: configuration error: stream 'priorities' reads")


def test_a_stream_reading_a_slot_it_does_not_declare_is_a_bug() -> None:
    tap = tap_with(Producer, Undeclared)
    reader = t.cast("PagerDutyStream", tap.streams["priorities"])
    with pytest.raises(RuntimeError, match="without declaring it in `needs or uses`"):
        list(reader.get_records(None))
    with pytest.raises(RuntimeError, match="without declaring it in `produces`"):
        tap.run.put(SLOT, "value", reader)


def test_the_incidents_family_declares_what_it_hands_over() -> None:
    assert CHILD_CHOICES in IncidentsStream.produces
    assert CHILD_CHOICES in IncidentAlertsStream.needs
    assert CHILD_CHOICES in IncidentNotesStream.needs
    assert {CHANGE_LOG, CHANGE_LOG_ENTRIES} <= set(LogEntriesStream.produces)
    assert {CHANGE_LOG, CHANGE_LOG_ENTRIES} <= set(IncidentsStream.uses)


def cross_stream_reads(source: Path) -> list[str]:
    """Where a stream module reads another stream's attributes: any `getattr` (a default
    hides a missing producer), or a stream looked up by name on the tap (`tap.streams`)."""
    found = []
    for node in ast.walk(ast.parse(source.read_text())):
        called = isinstance(node, ast.Call) and ast.unparse(node.func) == "getattr"
        on_tap = isinstance(node, ast.Attribute) and ast.unparse(node).endswith("tap.streams")
        if called or on_tap:
            found.append(f"{source.name}:{getattr(node, 'lineno', 0)}: {ast.unparse(node)}")
    return found


def test_no_stream_reads_another_streams_attributes() -> None:
    """Results travel through the run's slots, declared by both sides (see run.py)."""
    sources = sorted((PACKAGE / "streams").glob("*.py"))
    found = [use for source in sources for use in cross_stream_reads(source)]
    assert not found, found


def test_the_scan_finds_a_cross_stream_read(tmp_path: Path) -> None:
    source = tmp_path / "old.py"
    source.write_text(
        "def notes(self):\n"
        "    incidents = self.tap.streams['incidents']\n"
        "    return getattr(incidents, 'notes_only', ())\n"
    )
    assert len(cross_stream_reads(source)) == 2

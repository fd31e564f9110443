"""Run the tap (in-process or as a real process) and compare its output with ground truth."""

from __future__ import annotations

import functools
import io
import json
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import msgspec

from tap_pagerduty.streams import STREAM_TYPES
from tap_pagerduty.tap import TapPagerDuty
from tests.support.cli import run_cli

TOKEN = "emulator-token"
ANCHOR = "2025-11-01T00:00:00Z"
ROOT = Path(__file__).resolve().parents[2]

# Fields the tap adds to API records (flat key fields); ground truth has only API fields.
TAP_ADDED = {
    "oncalls": {"user_id", "escalation_policy_id", "schedule_id", "shift_start"},
    "license_allocations": {"user_id", "license_id"},
}
# Custom field values are typed per field; the tap writes them as text (JSON unless a string).
AS_TEXT = {
    "incident_custom_fields": ("default_value",),
    "service_custom_fields": ("default_value",),
    "incident_custom_field_values": ("value",),
    "service_custom_field_values": ("value",),
}
_decode = msgspec.json.Decoder().decode
KEYS = {cls.name: tuple(cls.primary_keys or ()) for cls in STREAM_TYPES}


@dataclass
class SyncOutput:
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    states: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""
    returncode: int = 0

    @property
    def last_state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    @property
    def final_state(self) -> dict[str, Any]:
        """The last STATE, which the run must have written."""
        assert self.states, "the run wrote no STATE message"
        return self.states[-1]

    def add_lines(self, text: str) -> None:
        for line in text.splitlines():
            if not line.strip():
                continue
            # msgspec: several times faster than json.loads (the tests read hundreds of
            # thousands of lines) and at least as strict: a line that is not JSON fails.
            message = _decode(line)
            if message["type"] == "RECORD":
                self.records.setdefault(message["stream"], []).append(message["record"])
            elif message["type"] == "STATE":
                self.states.append(message["value"])


def config_for(emulator: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "api_token": TOKEN,
        "api_url": emulator.url,
        "anchor_date": ANCHOR,
        "requests_per_second": 500,
        **overrides,
    }


@overload
def catalog_for(streams: list[str]) -> dict[str, Any]: ...
@overload
def catalog_for(streams: None) -> None: ...
def catalog_for(streams: list[str] | None) -> dict[str, Any] | None:
    """A catalog selecting only `streams` (None: all)."""
    if streams is None:
        return None
    catalog = _decode(_discovered_catalog())
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] in streams
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = selected
    return catalog


@functools.cache
def _discovered_catalog() -> bytes:
    """The tap's discovered catalog, built once per test process: a tap instance and its
    catalog cost about 60 ms of CPU, decoding this copy about 5 ms, and tests ask for a
    catalog hundreds of times."""
    tap = TapPagerDuty(config={"api_token": "x"}, parse_env_config=False, validate_config=False)
    return msgspec.json.encode(tap.catalog_dict)


def run_in_process(
    config: dict[str, Any], streams: list[str] | None = None, state: dict | None = None
) -> SyncOutput:
    tap = TapPagerDuty(
        config=config, state=state, catalog=catalog_for(streams), parse_env_config=False
    )
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        tap.sync_all()
    output = SyncOutput()
    output.add_lines(buffer.getvalue())
    return output


def run_process(
    config: dict[str, Any],
    tmp_path: Path,
    streams: list[str] | None = None,
    state: dict | None = None,
    extra_args: tuple[str, ...] = (),
    timeout: float = 300,
) -> SyncOutput:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    args = ["--config", str(config_path), *extra_args]
    catalog = catalog_for(streams)
    if catalog is not None:
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        args += ["--catalog", str(tmp_path / "catalog.json")]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    run = run_cli(args, timeout=timeout)
    output = SyncOutput(stderr=run.stderr, returncode=run.returncode)
    output.add_lines(run.stdout)
    return output


def key_of(stream: str, record: dict[str, Any]) -> tuple:
    return tuple(record.get(k) for k in KEYS[stream])


def api_fields(stream: str, record: dict[str, Any]) -> dict[str, Any]:
    added = TAP_ADDED.get(stream)
    if not added:
        return record  # no copy: most streams add nothing, and a backfill has many records
    return {k: v for k, v in record.items() if k not in added}


def latest_by_key(stream: str, records: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """What a target keyed on the primary key holds: the last record per key wins."""
    return {key_of(stream, r): api_fields(stream, r) for r in records}


def oncall_key(record: dict[str, Any]) -> tuple:
    return (
        (record.get("escalation_policy") or {}).get("id"),
        record.get("escalation_level"),
        (record.get("user") or {}).get("id"),
        (record.get("schedule") or {}).get("id") or "none",
        record.get("start") or "permanent",
    )


def as_written(stream: str, record: dict[str, Any]) -> dict[str, Any]:
    """A truth record as the tap writes it (custom field values as text)."""
    fields = AS_TEXT.get(stream, ())
    if not fields:
        return record
    text = {
        f: v if v is None or isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        for f, v in record.items()
        if f in fields
    }
    return {**record, **text}


def truth_by_key(stream: str, records: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    records = [as_written(stream, r) for r in records]
    if stream == "oncalls":
        return {oncall_key(r): r for r in records}
    if stream == "license_allocations":
        return {(r["user"]["id"], r["license"]["id"]): r for r in records}
    return {key_of(stream, r): r for r in records}


def assert_matches_truth(
    stream: str, got: list[dict[str, Any]], truth: list[dict], where: str = ""
) -> None:
    stream_at = f"{stream} ({where})" if where else stream
    expected = truth_by_key(stream, truth)
    actual = latest_by_key(stream, got)
    missing = set(expected) - set(actual)
    extra = set(actual) - set(expected)
    assert not missing, f"{stream_at}: {len(missing)} missing, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{stream_at}: {len(extra)} unexpected, e.g. {sorted(extra)[:3]}"
    stale = [k for k in expected if actual[k] != expected[k]]
    if stale:
        k = stale[0]
        diff = {
            f: (actual[k].get(f), expected[k].get(f))
            for f in set(actual[k]) | set(expected[k])
            if actual[k].get(f) != expected[k].get(f)
        }
        raise AssertionError(f"{stream_at}: {len(stale)} records differ, e.g. {k}: {diff}")

"""The state a run starts from: unusable state fails before any request, in one line; a
bookmark later than PagerDuty's clock is treated as PagerDuty's now."""

from __future__ import annotations

import json
import logging
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from tap_pagerduty.windows import iso_z, parse_time
from tests.support.cli import run_cli
from tests.support.tap_runs import ROOT, assert_matches_truth, config_for, run_in_process

NOW = "2026-11-01T00:00:00Z"
BOOKMARK = {"replication_key": "created_at", "replication_key_value": "2026-10-01T00:00:00Z"}


def _run_cli(tmp_path, config: dict, state_path) -> subprocess.CompletedProcess:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    return run_cli(
        ["--config", str(config_path), "--state", str(state_path)],
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (b"", "state.json"),
        (b"   \n", "state.json"),
        (b"{not json", "state.json"),
        (b"\xff\xfe\x00garbage", "state.json"),
        (b"[]", "state.json"),
        (b"null", "state.json"),
        (b'"bookmarks"', "state.json"),
        (b'{"bookmarks": []}', "bookmarks"),
        (b'{"bookmarks": {"log_entries": "2026-10-01"}}', "log_entries"),
        (
            b'{"bookmarks": {"log_entries": {"replication_key": "created_at", '
            b'"replication_key_value": "last tuesday"}}}',
            "log_entries",
        ),
        (
            b'{"bookmarks": {"notifications": {"replication_key": "started_at", '
            b'"replication_key_value": 1730419200}}}',
            "notifications",
        ),
        (b'{"bookmarks": {"incidents": {"backfill_from": "soon"}}}', "incidents"),
        (b'{"bookmarks": {"incidents": {"silent_from": {"open": "soon"}}}}', "silent_from.open"),
        (b'{"bookmarks": {"incidents": {"silent_from": "2026-10-01"}}}', "silent_from"),
        (b'{"bookmarks": {"incidents": {"noted": {"until": 17}}}}', "noted.until"),
    ],
)
def test_unusable_state_is_one_line_before_any_request(
    emulator_factory, tmp_path, content: bytes, names: str
) -> None:
    emulator = emulator_factory(seed=1, incidents=20, days=20, now=NOW)
    state_path = tmp_path / "state.json"
    state_path.write_bytes(content)
    run = _run_cli(tmp_path, config_for(emulator), state_path)
    assert run.returncode != 0
    assert run.stdout == ""
    assert emulator.stats()["requests"] == 0
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("tap-pagerduty: state error:") and names in last, run.stderr[-2000:]
    assert len([line for line in run.stderr.splitlines() if "tap-pagerduty:" in line]) == 1


def test_missing_state_file_is_one_line(emulator_factory, tmp_path) -> None:
    emulator = emulator_factory(seed=1, incidents=20, days=20, now=NOW)
    run = _run_cli(tmp_path, config_for(emulator), tmp_path / "nowhere.json")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert emulator.stats()["requests"] == 0
    assert "nowhere.json" in run.stderr.strip().splitlines()[-1]


def test_a_valid_state_file_is_used(emulator_factory, tmp_path) -> None:
    emulator = emulator_factory(seed=1, incidents=20, days=20, now=NOW)
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps({"bookmarks": {"log_entries": BOOKMARK}}))
    run = _run_cli(tmp_path, config_for(emulator), state_path)
    assert run.returncode == 0, run.stderr[-2000:]
    sent = [line for line in run.stdout.splitlines() if '"type":"STATE"' in line.replace(" ", "")]
    assert sent and "2026-10-01T00:00:00Z" in sent[0]


def test_bookmark_later_than_pagerduty_clock_is_pagerduty_now(emulator_factory, caplog) -> None:
    """A state copied from elsewhere, 30 days ahead: one warning per stream, the bookmark is
    written back at PagerDuty's now, and what happens next is synced (nothing skipped)."""
    caplog.set_level(logging.WARNING)
    emulator = emulator_factory(seed=41, incidents=300, days=120, now=NOW, rate_limit=0)
    streams = ["incidents", "log_entries", "notifications"]
    future = iso_z(datetime(2026, 12, 1, tzinfo=timezone.utc))
    keys = {"incidents": "updated_at", "log_entries": "created_at", "notifications": "started_at"}
    state = {
        "bookmarks": {
            name: {"replication_key": key, "replication_key_value": future}
            for name, key in keys.items()
        }
    }
    config = config_for(emulator)
    first = run_in_process(config, streams, state)
    messages = [r.getMessage() for r in caplog.records]
    warnings = [m for m in messages if "later than PagerDuty's clock" in m]
    assert sorted(w.split(":")[0] for w in warnings) == sorted(streams), warnings
    assert first.last_state is not None
    clock = parse_time(NOW) + timedelta(seconds=1)
    for stream in streams:
        value = first.last_state["bookmarks"][stream]["replication_key_value"]
        assert parse_time(value) == clock, (stream, value)
    emulator.advance(48)
    second = run_in_process(config, streams, first.last_state)
    for stream in ("log_entries", "notifications"):
        truth = emulator.truth(stream, since=NOW)
        assert truth, f"no new {stream} in the emulator"
        assert_matches_truth(stream, second.records.get(stream, []), truth)
    changed = {e["incident"]["id"] for e in emulator.truth("log_entries", since=NOW)}
    assert changed <= {r["id"] for r in second.records.get("incidents", [])}

"""Custom field values stay exact under each way PagerDuty may record an edit.

PagerDuty does not document whether editing an incident's custom field value moves the
incident's `updated_at` or writes a log entry (the spec lists both
`custom_field_value_change_log_entry` and `field_value_change_log_entry`). The emulator's
`custom_field_edits` models each way; after two incremental runs, every value equals the
account's. An edit that leaves no trace is caught only by the bounded re-read
(`custom_field_values_reread_days`), and a run without it says what it does not cover.
"""

from __future__ import annotations

import pytest

from tests.support.tap_runs import config_for as base_config
from tests.support.tap_runs import latest_by_key, run_in_process, truth_by_key

NOW = "2026-11-01T00:00:00Z"
ANCHOR = "2026-09-15T00:00:00Z"
STREAMS = ["incidents", "incident_custom_field_values"]
STREAM = "incident_custom_field_values"


def sync_twice_after_edits(emulator, **settings):
    """A first sync, then two incremental ones, each after a day of edits; the values the
    target holds (latest per key) and the log records of the last run."""
    config = base_config(emulator, anchor_date=ANCHOR, **settings)
    first = run_in_process(config, STREAMS)
    held = latest_by_key(STREAM, first.records[STREAM])
    state = first.last_state
    for _ in range(2):
        emulator.advance(24)
        later = run_in_process(config, STREAMS, state)
        held.update(latest_by_key(STREAM, later.records.get(STREAM, [])))
        state = later.last_state
    return held


def stale_values(emulator, held) -> list:
    truth = truth_by_key(
        STREAM, emulator.truth(STREAM, since=ANCHOR, until=emulator.stats()["now"])
    )
    assert set(held) == set(truth)
    return [k for k in truth if held[k] != truth[k]]


def account(emulator_factory, edits: str):
    return emulator_factory(
        seed=21, incidents=120, days=60, now=NOW, rate_limit=0, custom_field_edits=edits
    )


@pytest.mark.parametrize("edits", ["log", "field_log", "updated_at"])
def test_values_are_exact_when_an_edit_leaves_a_trace(emulator_factory, edits: str) -> None:
    emulator = account(emulator_factory, edits)
    held = sync_twice_after_edits(emulator)
    assert len(emulator.extras.edited) >= 3, "too few edits: the test would prove little"
    assert stale_values(emulator, held) == []


def test_an_edit_without_trace_is_caught_by_the_bounded_reread(emulator_factory, caplog) -> None:
    caplog.set_level("INFO")
    emulator = account(emulator_factory, "none")
    held = sync_twice_after_edits(emulator, custom_field_values_reread_days=60)
    assert len(emulator.extras.edited) >= 3
    assert stale_values(emulator, held) == []
    said = [r.getMessage() for r in caplog.records if "is caught only for" in r.getMessage()]
    assert said and "incidents created in the last 60 days" in said[-1]


def test_an_edit_without_trace_is_said_not_covered_without_the_reread(
    emulator_factory, caplog
) -> None:
    caplog.set_level("INFO")
    emulator = account(emulator_factory, "none")
    held = sync_twice_after_edits(emulator)
    assert stale_values(emulator, held), "the edits left no trace: values must be stale"
    said = [r.getMessage() for r in caplog.records if "is caught only for" in r.getMessage()]
    assert len(said) == 2 and "caught only for no incident" in said[-1]  # once per run

"""The incidents state stays bounded when a silent-change feed is idle.

`versions` keeps the `updated_at` of incidents emitted since the oldest feed position. A feed
the run does not use (the look-back with `reconcile_days` 0, the default when analytics is
available; analytics when the token lacks it) must move along too: otherwise its position
stays at the first run and every version emitted since stays in state (the one-hour soak saw
the state grow by about 80 bytes per hourly run).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tap_pagerduty.windows import parse_time
from tests.support.tap_runs import config_for, run_in_process

NOW = "2026-11-01T00:00:00Z"


@pytest.mark.parametrize("analytics", [True, False])
def test_versions_older_than_every_used_feed_are_forgotten(emulator_factory, analytics) -> None:
    emulator = emulator_factory(seed=4, incidents=150, days=40, now=NOW, rate_limit=0)
    if not analytics:
        emulator.configure(force_status={"/analytics/raw/incidents": 403})
    config = config_for(emulator, anchor_date="2026-10-01T00:00:00Z", analytics_lag_hours=6)
    state = run_in_process(config, ["incidents"]).final_state
    for _ in range(3):
        emulator.advance(12)
        state = run_in_process(config, ["incidents"], state).final_state
    incidents = state["bookmarks"]["incidents"]
    now = parse_time(emulator.stats()["now"])
    # A feed the run does not use is saved as null (docs/state.md): it holds nothing back.
    used = [parse_time(v) for v in incidents["silent_from"].values() if v is not None]
    assert used, incidents["silent_from"]
    oldest = min(used)
    assert oldest >= now - timedelta(hours=6, minutes=11), incidents["silent_from"]
    if analytics:  # the analytics lag can revisit the last hours: their versions are kept
        assert incidents["versions"], "no versions kept: the test would prove little"
    assert all(parse_time(v) >= oldest for v in incidents["versions"].values())

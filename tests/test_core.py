"""The Singer SDK's built-in tap tests, run against a live emulator on 127.0.0.1.

The SDK builds the test class at import time with a fixed config, so the emulator is
started here, at import, and stopped when the interpreter exits.
"""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from pagerduty_emulator import Emulator
from tap_pagerduty.tap import TapPagerDuty

_EMULATOR = Emulator(seed=11, incidents=120, days=90, now="2026-11-01T00:00:00Z").start()
atexit.register(_EMULATOR.stop)

TestTapPagerDuty = get_tap_test_class(
    tap_class=TapPagerDuty,
    config={
        "api_token": "emulator-token",
        "api_url": _EMULATOR.url,
        "anchor_date": "2026-08-15T00:00:00Z",
        "requests_per_second": 500,
    },
    suite_config=SuiteConfig(max_records_limit=50),
    parse_env_config=False,
)

"""The Singer SDK's built-in tap tests, run against a live emulator on 127.0.0.1.

The SDK builds the test class at import time with a fixed config, and lists the streams by
discovery, which sends no request. The emulator starts only when the first test of the class
needs the runner (a class-scoped fixture below), so collecting the tests starts no server.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
from singer_sdk.testing import SuiteConfig, TapTestRunner, get_tap_test_class

from pagerduty_emulator import Emulator
from tap_pagerduty.tap import TapPagerDuty

# Discovery at collection reads no URL; the runner fixture below uses a started emulator's.
CONFIG = {
    "api_token": "emulator-token",
    "api_url": "http://127.0.0.1:9",
    "anchor_date": "2026-08-15T00:00:00Z",
    "requests_per_second": 500,
}
SUITE = SuiteConfig(max_records_limit=50)

_SDKTestClass = get_tap_test_class(
    tap_class=TapPagerDuty, config=CONFIG, suite_config=SUITE, parse_env_config=False
)


class TestTapPagerDuty(_SDKTestClass):  # type: ignore[misc,valid-type]
    """The SDK's tests, with its class-scoped `runner` fixture replaced by one whose tap
    reads an emulator started for this class and stopped after it."""

    @pytest.fixture(scope="class")
    def runner(self) -> Iterator[TapTestRunner]:
        emulator = Emulator(seed=11, incidents=120, days=90, now="2026-11-01T00:00:00Z").start()
        try:
            runner = TapTestRunner(
                TapPagerDuty,
                config={**CONFIG, "api_url": emulator.url},
                suite_config=SUITE,
                parse_env_config=False,
            )
            runner.sync_all()
            yield runner
        finally:
            emulator.stop()


def test_collecting_this_module_starts_no_emulator(monkeypatch) -> None:
    """Importing the module (what collection does) builds the SDK's tests without a server."""

    def refuse(*_args: object, **_kwargs: object) -> Emulator:
        raise AssertionError("an emulator was started while the module was imported")

    monkeypatch.setattr(Emulator, "start", refuse)
    spec = importlib.util.spec_from_file_location("test_core_imported_again", __file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TestTapPagerDuty.params  # the SDK's per-stream tests were built

# --- PagerDuty emulator fixtures (pagerduty_emulator) ---------------------------------------------
import pytest

from pagerduty_emulator import Emulator


@pytest.fixture
def emulator_factory():
    """Return ``make(**kwargs) -> Emulator`` (started); every emulator made is stopped after."""
    made: list[Emulator] = []

    def make(**kwargs) -> Emulator:
        port = kwargs.pop("port", None)
        emu = Emulator(**kwargs).start(port=port)
        made.append(emu)
        return emu

    yield make
    for emu in made:
        emu.stop()


@pytest.fixture
def emulator(emulator_factory) -> Emulator:
    """A small started emulator: seed 1, 300 incidents over 120 days, now 2026-11-01."""
    return emulator_factory(seed=1, incidents=300, days=120, now="2026-11-01T00:00:00Z")

# --- PagerDuty emulator fixtures (pagerduty_emulator) ---------------------------------------------
import logging

import pytest

from pagerduty_emulator import Emulator


@pytest.fixture(autouse=True)
def _logging_handlers_restored():
    """A test that runs the command line in process lets the SDK configure logging, with
    handlers on the stream pytest captured for that test; a later test in the same worker
    would log into that closed stream ("--- Logging error ---"). Each test ends with the
    handlers every logger had when it started."""
    loggers = [logging.root] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = {id(logger): list(logger.handlers) for logger in loggers}
    yield
    for logger in [logging.root, *logging.Logger.manager.loggerDict.values()]:
        if isinstance(logger, logging.Logger):
            logger.handlers[:] = saved.get(id(logger), [])


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

# --- PagerDuty emulator fixtures (pagerduty_emulator) ---------------------------------------------
import logging
import re
from pathlib import Path

import pytest

from pagerduty_emulator import Emulator

#: A module whose every test is slow says so in one line (`pytestmark = pytest.mark.slow`, or a
#: list that holds it).
_WHOLE_MODULE_SLOW = re.compile(r"^pytestmark = \[?pytest\.mark\.slow\b", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`make check` (`-m "not slow"`) does not even import a module whose every test is slow:
    each pytest worker would otherwise import Dagster (about 1 s of CPU) only to deselect
    every test it found."""
    if config.getoption("markexpr") != "not slow" or collection_path.suffix != ".py":
        return None
    if collection_path.name.startswith("test_") and _WHOLE_MODULE_SLOW.search(
        collection_path.read_text()
    ):
        return True
    return None


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

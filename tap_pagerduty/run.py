"""One sync: its settings, its HTTP engine (and through it PagerDuty's clock), and the results
several streams share, each computed once per run.

Streams reach the run as `self.run`. A shared result (the custom field definitions, the
ids an analytics filter needs) is asked for by name with `shared(name, compute)`: the first
stream that asks computes it, any other waits for that answer instead of sending the same
requests again. The results live as long as the run, so nothing is kept in module globals
between two runs in one process (tests, Dagster).
"""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Callable, Hashable

if t.TYPE_CHECKING:
    from tap_pagerduty.engine import Engine
    from tap_pagerduty.settings import Settings

_T = t.TypeVar("_T")


class Run:
    """What the streams of one sync share (see the module's docstring)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._lock = threading.Lock()
        self._results: dict[Hashable, t.Any] = {}
        self._computing: dict[Hashable, threading.Lock] = {}

    def shared(self, name: Hashable, compute: Callable[[], _T]) -> _T:
        """The run's result `name`: `compute()` the first time it is asked for (from any
        thread; a second asker waits for the first one's answer), the same value after."""
        with self._lock:
            if name in self._results:
                return t.cast("_T", self._results[name])
            computing = self._computing.setdefault(name, threading.Lock())
        with computing:
            with self._lock:
                if name in self._results:
                    return t.cast("_T", self._results[name])
            result = compute()  # outside the run's lock: other results go on meanwhile
            with self._lock:
                self._results[name] = result
                self._computing.pop(name, None)
            return result

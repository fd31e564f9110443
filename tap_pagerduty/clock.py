"""PagerDuty's clock, read from the `Date` header of its responses.

Windows end at PagerDuty's "now", not the local clock's: a machine whose clock runs behind
would otherwise stop short and leave a gap that the next run's bookmark skips.
"""

from __future__ import annotations

import threading
import typing as t
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


class ServerClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: datetime | None = None

    def observe(self, date_header: str | None) -> None:
        """Remember the newest `Date` seen (any thread, any status)."""
        if not date_header:
            return
        try:
            seen = parsedate_to_datetime(date_header).astimezone(timezone.utc)
        except (TypeError, ValueError):
            return
        with self._lock:
            if self._latest is None or seen > self._latest:
                self._latest = seen

    def now(self, probe: t.Callable[[], None]) -> datetime:
        """The newest server time seen; `probe()` sends one request if none was seen yet."""
        if self._latest is None:
            probe()
        if self._latest is None:  # no Date header at all: fall back to the local clock
            return datetime.now(timezone.utc).replace(microsecond=0)
        return self._latest

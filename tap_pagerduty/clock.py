"""PagerDuty's clock, read from the `Date` header of its successful responses.

Windows end at PagerDuty's "now", not the local clock's: a machine whose clock runs behind
would otherwise stop short and leave a gap that the next run's bookmark skips.

Bookmarks are written at this clock, so one wrong `Date` would move them into the future and
the next runs would skip everything before it. Only 2xx answers count (an error page may come
from a proxy that stamps its own `Date`), and a `Date` more than `MAX_AHEAD` ahead of the local
clock is not believed: the run warns once and the local clock wins.
"""

from __future__ import annotations

import logging
import threading
import typing as t
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

# How far PagerDuty's clock may run ahead of the local one before the local one wins.
MAX_AHEAD = timedelta(minutes=5)


class ServerClock:
    def __init__(
        self,
        logger: logging.Logger,
        *,
        local_now: t.Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._lock = threading.Lock()
        self._latest: datetime | None = None
        self._log = logger
        self._local_now = local_now
        self._warned = False

    def observe(self, date_header: str | None, status: int) -> None:
        """Remember the newest believable `Date` of a successful answer (any thread)."""
        if not date_header or not 200 <= status < 300:
            return
        try:
            seen = parsedate_to_datetime(date_header).astimezone(timezone.utc)
        except (TypeError, ValueError):
            return
        local = self._local_now()
        if seen > local + MAX_AHEAD:
            self._warn_ahead(seen, local)
            return
        with self._lock:
            if self._latest is None or seen > self._latest:
                self._latest = seen

    def now(self, probe: t.Callable[[], None]) -> datetime:
        """The newest server time seen; `probe()` sends one request if none was seen yet."""
        if self._latest is None:
            probe()
        if self._latest is None:  # no believable Date at all: the local clock
            return self._local_now().replace(microsecond=0)
        return self._latest

    def _warn_ahead(self, seen: datetime, local: datetime) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        self._log.warning(
            "A response's Date header (%s) is %s ahead of this machine's clock (%s): using "
            "this machine's clock. A proxy may rewrite Date, or this clock is behind (check NTP).",
            seen.strftime("%Y-%m-%dT%H:%M:%SZ"),
            seen - local.replace(microsecond=0),
            local.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

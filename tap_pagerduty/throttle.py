"""The request throttle shared by every stream and thread of one tap run.

PagerDuty allows 960 requests per minute per token and answers 429 past that. We stay under
`rate` requests in any 1-second window with two rules applied to every attempt, retries
included:

* pacing: a token bucket of capacity one, refilled `rate` times a second, spreads request
  starts evenly instead of bursting;
* a sliding-window check on the actual start times, so a thread that woke late cannot
  squeeze one request too many into a second.

A semaphore bounds the requests in flight, and `pause()` holds every thread after a 429.
After `stop()` (a fatal answer ended the run) no attempt starts any more.
"""

from __future__ import annotations

import collections
import math
import threading
import time
import typing as t
from contextlib import contextmanager

# Leeway for the time between our clock reading and the request reaching the server.
WINDOW_MARGIN_SECONDS = 0.02


class Stopped(Exception):
    """The run has stopped after a fatal error: this request is not sent."""


class Throttle:
    """Paces request starts at `rate` per second and bounds requests in flight."""

    def __init__(
        self,
        rate: float,
        max_in_flight: int,
        *,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = clock()
        self._window = 1.0 + WINDOW_MARGIN_SECONDS
        self._recent_starts: collections.deque[float] = collections.deque(
            maxlen=max(1, math.floor(rate))
        )
        self._max_in_flight = max_in_flight
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._stopped = threading.Event()

    def acquire(self) -> None:
        """Block until this thread may start one request attempt."""
        with self._lock:  # reserve a paced slot; never sleep while holding the lock
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
        while True:
            with self._lock:
                now = self._clock()
                starts = self._recent_starts
                if len(starts) < (starts.maxlen or 1) or now - starts[0] >= self._window - 1e-9:
                    starts.append(now)
                    return
                wait = starts[0] + self._window - now
            self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every thread's next request for `seconds` (after a 429)."""
        with self._lock:
            self._next_slot = max(self._next_slot, self._clock() + seconds)

    @contextmanager
    def request_slot(self) -> t.Iterator[None]:
        """Hold an in-flight slot and a rate token for the duration of one attempt; raise
        Stopped instead once the run has stopped (checked again after any wait)."""
        with self._slots:
            if self.stopped:
                raise Stopped
            self.acquire()
            if self.stopped:
                raise Stopped
            yield

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        """No further attempt starts, in any thread."""
        self._stopped.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no attempt is in flight (at most `timeout` s); True if none is."""
        deadline = time.monotonic() + timeout
        held = 0
        try:
            while held < self._max_in_flight:
                if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    return False
                held += 1
            return True
        finally:
            for _ in range(held):
                self._slots.release()

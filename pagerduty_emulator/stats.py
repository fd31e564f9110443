"""What the emulator saw: requests by path and status, peaks, faults, per-token budgets."""

from __future__ import annotations

import collections
import re
import threading
import time

LOG_CAP = 500_000

_ID_SEG = re.compile(r"^(P[0-9A-Z]{6}|[0-9a-f]{8}-[0-9a-f-]{27})$")


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Notified when the last request in flight is counted: a request's answer reaches the
        # client before `end` counts it (see `snapshot`).
        self._idle = threading.Condition(self.lock)
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_path: dict[str, dict[str, int]] = {}
        self.in_flight = 0
        self.peak_in_flight = 0
        self.window: collections.deque = collections.deque()
        self.peak_per_second = 0
        self.write_attempts = 0
        self.missing_z = 0
        self.missing_accept = 0
        self.faults: dict[str, int] = {}
        self.log: list = []
        # Per accepted token: what its rate budget saw (requests, 429s, peaks per 1 s / 60 s).
        self.by_token: dict[str, dict] = {}
        self._token_times: dict[str, tuple[collections.deque, collections.deque]] = {}
        # When the first 401 was answered, and how many requests began after it.
        self.first_401_at: float | None = None
        self.after_first_401 = 0

    def begin(self) -> float:
        t = time.monotonic()
        with self.lock:
            self.requests += 1
            if self.first_401_at is not None:
                self.after_first_401 += 1
            self.in_flight += 1
            if self.in_flight > self.peak_in_flight:
                self.peak_in_flight = self.in_flight
            w = self.window
            w.append(t)
            while w and w[0] <= t - 1.0:
                w.popleft()
            if len(w) > self.peak_per_second:
                self.peak_per_second = len(w)
        return t

    def end(self, t: float, method: str, path: str, qs: str, status: int | str) -> None:
        key = "/" + "/".join("{id}" if _ID_SEG.match(p) else p for p in path.strip("/").split("/"))
        with self.lock:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.notify_all()
            d = self.by_path.setdefault(key, {})
            d[str(status)] = d.get(str(status), 0) + 1
            if status == 401 and self.first_401_at is None:
                self.first_401_at = time.monotonic()
            if len(self.log) < LOG_CAP:
                self.log.append([t, method, path, qs, status])

    def token_request(self, token: str, t: float, *, limited: bool) -> None:
        """Count one request of a valid token against that token's budget statistics."""
        with self.lock:
            entry = self.by_token.setdefault(
                token,
                {"requests": 0, "rate_limited": 0, "peak_per_second": 0, "peak_per_minute": 0},
            )
            if limited:
                entry["rate_limited"] += 1
                return
            entry["requests"] += 1
            second, minute = self._token_times.setdefault(
                token, (collections.deque(), collections.deque())
            )
            for window, span, peak in (
                (second, 1.0, "peak_per_second"),
                (minute, 60.0, "peak_per_minute"),
            ):
                window.append(t)
                while window and window[0] <= t - span:
                    window.popleft()
                entry[peak] = max(entry[peak], len(window))

    def fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] = self.faults.get(kind, 0) + 1

    def bump(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)

    def snapshot(self, log: bool = False, settle: float = 0.0) -> dict:
        """The counts so far. With `settle` (seconds, a bound), first wait until no request is
        in flight: a client that has read its last answer may otherwise look before that
        request is counted."""
        with self.lock:
            if settle:
                self._idle.wait_for(lambda: self.in_flight == 0, timeout=settle)
            out = {
                "requests": self.requests,
                "by_path": {k: dict(v) for k, v in self.by_path.items()},
                "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight,
                "peak_per_second": self.peak_per_second,
                "write_attempts": self.write_attempts,
                "missing_z": self.missing_z,
                "missing_accept": self.missing_accept,
                "faults": dict(self.faults),
                "by_token": {k: dict(v) for k, v in self.by_token.items()},
                "after_first_401": self.after_first_401,
            }
            if log:
                out["log"] = [list(e) for e in self.log]
            return out

"""``python -m pagerduty_emulator --port 8765 ...`` — run the emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from .server import Emulator


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pagerduty_emulator", description=__doc__)
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--incidents", type=int, default=1000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--now", default=None, help="fixed 'now', e.g. 2026-11-01T00:00:00Z")
    p.add_argument("--rate-limit", type=int, default=960, help="requests per 60 s per token")
    p.add_argument("--fault-5xx", type=float, default=0.0)
    p.add_argument("--fault-429-every", type=int, default=0)
    p.add_argument("--fault-drop", type=float, default=0.0)
    p.add_argument("--fault-truncate", type=float, default=0.0)
    p.add_argument("--latency-ms", type=float, default=0)
    p.add_argument("--token", action="append", dest="tokens", default=None)
    p.add_argument("--burst", action="append", dest="bursts", default=[], help="START:DAYS:COUNT")
    p.add_argument("--users", type=int, default=40)
    p.add_argument("--services", type=int, default=12)
    p.add_argument("--silent-changes", type=int, default=0, help="per advance, no log entry")
    p.add_argument("--analytics-lag-hours", type=float, default=0)
    a = p.parse_args(argv)
    # Arrivals are stamped by each request's handler thread, which first waits for the GIL:
    # with Python's default 5 ms switch interval, a thread rendering a large page delays the
    # stamp of the next arrival, and the per-second peaks would count the emulator's own
    # lateness. A 1 ms interval keeps the stamps close to the arrivals.
    sys.setswitchinterval(0.001)
    stop = threading.Event()

    def _sig(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, _sig)
    signal.signal(signal.SIGTERM, _sig)
    t0 = time.monotonic()
    emu = Emulator(
        seed=a.seed,
        incidents=a.incidents,
        days=a.days,
        now=a.now,
        rate_limit=a.rate_limit,
        fault_5xx=a.fault_5xx,
        fault_429_every=a.fault_429_every,
        fault_drop=a.fault_drop,
        fault_truncate=a.fault_truncate,
        latency_ms=a.latency_ms,
        tokens=tuple(a.tokens or ["emulator-token"]),
        bursts=tuple(a.bursts),
        users=a.users,
        services=a.services,
        silent_changes=a.silent_changes,
        analytics_lag_hours=a.analytics_lag_hours,
    ).start(port=a.port)
    took = time.monotonic() - t0
    print(f"emulator listening on {emu.url} ({emu.summary()}, started in {took:.1f} s)", flush=True)
    while not stop.wait(0.5):
        pass
    emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

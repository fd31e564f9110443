"""PagerDuty REST API v2 emulator for tap-pagerduty's tests (standard library only).

Usage::

    from pagerduty_emulator import Emulator

    emu = Emulator(seed=1, incidents=500, now="2026-11-01T00:00:00Z").start()
    ...
    emu.stop()

See README.md in this directory for the HTTP and admin API.
"""

from .server import Emulator

__all__ = ["Emulator"]

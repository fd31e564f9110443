"""The synthetic account behind the emulator (`World`): deterministic per seed, compact (tuples
and indexes, rendered to JSON only when asked), one module per family."""

from __future__ import annotations

import random

from .account import AccountData
from .base import (
    DAY,
    HOUR,
    IdGen,
    Inc,
    Note,
    Row,
    WorldBase,
    iso,
    iso_ms,
    parse_utc,
)
from .feeds import FeedData
from .incidents import IncidentData

__all__ = ["DAY", "HOUR", "IdGen", "Inc", "Note", "Row", "World", "iso", "iso_ms", "parse_utc"]


class World(AccountData, IncidentData, FeedData, WorldBase):
    """The account and its history; `advance` moves its clock."""

    def __init__(
        self,
        seed: int = 1,
        incidents: int = 1000,
        days: int = 365,
        now: int = 0,
        users: int = 40,
        services: int = 12,
        bursts: tuple = (),
        silent_changes: int = 0,
        analytics_lag: int = 0,
    ) -> None:
        self.seed = seed
        # Changes per advance() that write no log entry (priority, title, note edit), spread
        # over incidents of any age and status.
        self.silent_changes = silent_changes
        # Seconds before a change shows in the analytics API (PagerDuty: up to about 24 h).
        self.analytics_lag = analytics_lag
        self.now = now
        self.start_now = now
        self.days = days
        self.base_rate = incidents / max(days, 1)  # incidents per day
        self.ids = IdGen(seed)
        self.rng = random.Random(seed)
        self.version = 0
        self.n_users = max(3, users)
        self.n_services = max(1, services)
        self._build_config()
        self.incidents: list[Inc] = []
        self.inc_created: list[int] = []
        self.inc_by_id: dict[str, Inc] = {}
        self.open: set[int] = set()
        self.log: list[tuple] = []
        self.log_ts: list[int] = []
        self.notifs: list[tuple] = []
        self.notif_ts: list[int] = []
        self.svc_last: dict[int, int] = {}
        # Name of an incident's type (the emulator's extras module gives some incidents others).
        self.incident_type_name = lambda inc: "incident_default"
        # initial incidents
        rng = random.Random(seed * 31 + 1)
        start = now - days * DAY
        times = [start + int(rng.random() * (days * DAY)) for _ in range(incidents)]
        for b_start, b_days, b_count in bursts:
            bs = parse_utc(b_start) if isinstance(b_start, str) else int(b_start)
            span = max(1, int(b_days * DAY))
            times.extend(
                t for t in (bs + int(rng.random() * span) for _ in range(b_count)) if t < now
            )
        times.sort()
        logs: list[tuple] = []
        notifs: list[tuple] = []
        self._spawn(times, now, rng, logs, notifs)
        self._commit(logs, notifs)
        self._build_audit(now - min(days, 365) * DAY, now, random.Random(seed * 41 + 3))
        self._build_change_events(now - 90 * DAY, now, random.Random(seed * 43 + 5))
        self._build_maintenance(random.Random(seed * 47 + 7))

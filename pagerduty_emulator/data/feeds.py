"""Audit records, change events and maintenance windows."""

from __future__ import annotations

import random
from typing import Any

from .base import (
    DAY,
    HOUR,
    Row,
    WorldBase,
)


class FeedData(WorldBase):
    """A part of `World` (see the module's docstring)."""

    def _build_audit(self, start: int, end: int, rng: random.Random) -> None:
        if not hasattr(self, "audit"):
            # (ts_ms, id, root kind, root idx, action, actor user, field)
            self.audit: list[tuple[Any, ...]] = []
        n = max(1, int((end - start) / DAY * 3))
        kinds = [
            ("user", len(self.users)),
            ("team", len(self.teams)),
            ("service", len(self.services)),
            ("escalation_policy", len(self.eps)),
            ("schedule", len(self.schedules)),
        ]
        new = []
        for _ in range(n):
            ts_ms = start * 1000 + 1 + rng.randrange((end - start) * 1000)
            kind, cnt = rng.choice(kinds)
            new.append(
                (
                    ts_ms,
                    self.ids.next(),
                    kind,
                    rng.randrange(cnt),
                    rng.choice(["create", "update", "update", "update", "delete"]),
                    rng.randrange(len(self.users)),
                    rng.choice(["name", "description", "time_zone", "email"]),
                )
            )
        new.sort()
        self.audit.extend(new)
        self.audit_ts = [a[0] for a in self.audit]

    def _build_change_events(self, start: int, end: int, rng: random.Random) -> None:
        if not hasattr(self, "changes"):
            self.changes: list[tuple[Any, ...]] = []  # (ts, id, service idx, build number)
        n = max(1, int((end - start) / DAY * 4))
        new = sorted(
            (
                start + 1 + rng.randrange(end - start),
                self.ids.next(),
                rng.randrange(len(self.services)),
                rng.randrange(1, 99999),
            )
            for _ in range(n)
        )
        self.changes.extend(new)
        self.change_ts = [c[0] for c in self.changes]

    def _build_maintenance(self, rng: random.Random) -> None:
        self.maintenance: list[Row] = []
        seq = 1
        for i in range(len(self.services)):
            for k in range(2):
                if k == 0:
                    st = self.now - rng.randrange(2, max(3, self.days)) * DAY
                else:
                    st = self.now + rng.choice([-1, 1]) * rng.randrange(1, 20) * HOUR
                self.maintenance.append(
                    {
                        "id": self.ids.next(),
                        "seq": seq,
                        "start": st,
                        "end": st + rng.choice([1, 2, 4, 48]) * HOUR,
                        "desc": rng.choice(
                            [
                                "Database upgrade",
                                "Kernel patching — Wartungsfenster",
                                "Network maintenance",
                                "定期メンテナンス",
                            ]
                        ),
                        "by": rng.randrange(len(self.users)),
                        "services": [i],
                        "teams": self.services[i]["teams"],
                    }
                )
                seq += 1
        self.maintenance.sort(key=lambda m: (m["start"], m["id"]))

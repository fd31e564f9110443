"""Schedule overrides and the users on call in a schedule
(`/schedules/{id}/overrides`, `/schedules/{id}/users`)."""

from __future__ import annotations

import json

from ..data import DAY, HOUR, iso
from ..http import Query
from ..render import dumpb
from .extras_base import ExtrasBase, stable_draw


class ScheduleExtras(ExtrasBase):
    """A part of `Extras` (see the module's docstring)."""

    def _start_schedule_extras(self) -> None:
        #: Refuse override ranges longer than this many days (None: any range).
        self.overrides_max_days: int | None = None
        self._build_overrides()

    def _build_overrides(self) -> None:
        w = self.world
        self.overrides: list[list[dict]] = []
        first, last = w.now - w.days * DAY, w.now + 120 * DAY
        for k, sched in enumerate(w.schedules):
            rows = []
            for n in range(6 + k % 4):
                draw = stable_draw(self.seed, "override", sched["id"], n)
                start = first + draw % (last - first) // HOUR * HOUR
                rows.append(
                    {
                        "id": self.nid(),
                        "start": start,
                        "end": start + (2 + draw % 70) * HOUR,
                        "user": draw % len(w.users),
                    }
                )
            rows.sort(key=lambda o: (o["start"], o["id"]))
            self.overrides.append(rows)

    def overrides_in(self, k: int, since: int, until: int, overflow: bool) -> list[dict]:
        out = []
        for o in self.overrides[k]:
            if o["start"] < until and o["end"] > since:
                start, end = o["start"], o["end"]
                if not overflow:
                    start, end = max(start, since), min(end, until)
                out.append(
                    {
                        "id": o["id"],
                        "start": iso(start),
                        "end": iso(end),
                        "user": self.emu.r.user_ref[o["user"]],
                    }
                )
        return out

    def schedule_users_in(self, k: int, since: int, until: int) -> list[dict]:
        """Users with a rotation turn overlapping [since, until), in first-turn order."""
        sched = self.world.schedules[k]
        turn, start = sched["turn"], sched["vstart"]
        first = (since - start) // turn
        last = (until - 1 - start) // turn
        seen: dict[int, None] = {}
        for n in range(first, min(last, first + len(sched["users"]) - 1) + 1):
            seen.setdefault(sched["users"][n % len(sched["users"])])
        users = self.emu.r.config("users")
        return [json.loads(users[u]) for u in seen]

    def _schedule(self, sid: str) -> int:
        for k, sched in enumerate(self.world.schedules):
            if sched["id"] == sid:
                return k
        raise self._not_found()

    def h_overrides(self, q: Query, sid: str):
        k = self._schedule(sid)
        since, until = self.emu._required_range(q)
        if until < since:
            raise self._bad("until must not be before since.")
        if self.overrides_max_days and until - since > self.overrides_max_days * DAY:
            raise self._bad(f"The range may not exceed {self.overrides_max_days} days.")
        overflow = q.get("overflow") == "true"
        return 200, dumpb({"overrides": self.overrides_in(k, since, until, overflow)})

    def h_schedule_users(self, q: Query, sid: str):
        k = self._schedule(sid)
        since, until = self.emu._range(q, self.emu._tz(q))
        now = self.world.now
        since = now if since is None else since
        until = since + 1 if until is None else max(until, since + 1)
        return 200, dumpb({"users": self.schedule_users_in(k, since, until)})

"""On-call shifts (`/oncalls`)."""

from __future__ import annotations

from ..data import DAY
from ..http import Query, bad_request
from .base import ApiBase


class OncallsApi(ApiBase):
    """A part of `Emulator` (see the module's docstring)."""

    def h_oncalls(self, q: Query):
        w = self.world
        tz = self._tz(q)
        since, until = self._range(q, tz)
        since = w.now if since is None else since
        until = w.now if until is None else until
        if until < since:
            raise bad_request("until must not be before since.", 2005, "Invalid Query Date Range")
        if until > w.now + 90 * DAY:
            raise bad_request(
                "On-call shifts are limited to 90 days in the future; until is too far ahead.",
                2005,
                "Invalid Query Date Range",
            )
        eps = set(q.list("escalation_policy_ids"))
        users = set(q.list("user_ids"))
        scheds = set(q.list("schedule_ids"))
        earliest = q.get("earliest") == "true"

        def compute():
            rows = w.oncalls(since, until)
            out = []
            seen = set()
            for r in rows:
                ep, lvl, sc, u, _st, _en = r
                if eps and w.eps[ep]["id"] not in eps:
                    continue
                if users and w.users[u]["id"] not in users:
                    continue
                if scheds and (sc < 0 or w.schedules[sc]["id"] not in scheds):
                    continue
                if earliest:
                    k = (ep, lvl, u)
                    if k in seen:
                        continue
                    seen.add(k)
                out.append(r)
            return out

        rows = self._cached(
            (
                "oncalls",
                since,
                until,
                tuple(sorted(eps)),
                tuple(sorted(users)),
                tuple(sorted(scheds)),
                earliest,
            ),
            compute,
        )
        return self._classic(q, "oncalls", rows, self.r.oncall)

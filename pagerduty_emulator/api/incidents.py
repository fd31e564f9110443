"""Incidents and what hangs off them: alerts, notes, log entries, notifications."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from ..data import DAY, Inc
from ..http import Query, bad_request, not_found
from ..render import NOTIF_TYPE, dumpb
from .base import ApiBase


class IncidentsApi(ApiBase):
    """A part of `Emulator` (see the module's docstring)."""

    def _incident_range(self, q: Query) -> tuple[int | None, int | None]:
        """The `since`..`until` of an incident listing: the last 30 days by default, at most
        183 days, or everything with `date_range=all`."""
        if q.get("date_range") == "all":
            return None, None
        now = self.world.now
        since, until = self._range(q, self._tz(q))
        if until is None:
            until = now
        if since is None:
            since = until - 30 * DAY
        if until < since:
            raise bad_request("until must not be before since.", 2005, "Invalid Query Date Range")
        if until - since > 183 * DAY:
            raise bad_request(
                "The range between since and until cannot exceed 6 months (183 days). "
                "Narrow the date range."
            )
        return since, until

    def h_incidents(self, q: Query):
        since, until = self._incident_range(q)
        statuses = set(q.list("statuses"))
        if statuses - {"triggered", "acknowledged", "resolved"}:
            raise bad_request("statuses must be triggered, acknowledged or resolved.")
        sort = (q.get("sort_by") or "created_at:asc").split(",")[0]
        field, _, direction = sort.partition(":")
        if field not in ("created_at", "incident_number") or direction not in ("", "asc", "desc"):
            raise bad_request(
                f"sort_by {sort!r} is not supported "
                "(use created_at or incident_number with :asc/:desc)."
            )
        seq = self._incidents_matching(q, statuses, self.world.inc_range(since, until))
        if direction == "desc":
            seq = seq[::-1]
        incs = self.world.incidents
        return self._classic(q, "incidents", seq, lambda i: self.r.incident(incs[i]))

    def _incidents_matching(self, q: Query, statuses: set[str], base: range) -> Sequence[int]:
        """Indexes of the incidents in `base` the listing's filters select."""
        w = self.world
        urg = set(q.list("urgencies"))
        svc_ids = set(q.list("service_ids"))
        team_ids = set(q.list("team_ids"))
        user_ids = set(q.list("user_ids"))
        ikey = q.get("incident_key")
        every_status = statuses in (set(), {"triggered", "acknowledged", "resolved"})
        if every_status and not (urg or svc_ids or team_ids or user_ids or ikey):
            return base
        svc_idx = {i for i, s in enumerate(w.services) if s["id"] in svc_ids}
        team_svc = {
            i
            for i, s in enumerate(w.services)
            if any(w.teams[t]["id"] in team_ids for t in s["teams"])
        }
        user_idx = {i for i, u in enumerate(w.users) if u["id"] in user_ids}

        def selected(inc: Inc) -> bool:
            return not (
                (statuses and inc.status not in statuses)
                or (urg and inc.urgency not in urg)
                or (svc_ids and inc.service not in svc_idx)
                or (team_ids and inc.service not in team_svc)
                or (user_ids and not any(u in user_idx for u, _ in inc.assignees))
                or (ikey and inc.key != ikey)
            )

        def compute() -> list[int]:
            cand: Sequence[int] = base
            if statuses and "resolved" not in statuses:
                cand = [i for i in sorted(w.open) if base.start <= i < base.stop]
            return [i for i in cand if selected(w.incidents[i])]

        key = (
            "inc",
            base.start,
            base.stop,
            tuple(sorted(statuses)),
            tuple(sorted(urg)),
            tuple(sorted(svc_ids)),
            tuple(sorted(team_ids)),
            tuple(sorted(user_ids)),
            ikey,
        )
        return self._cached(key, compute)

    def _inc(self, iid: str):
        inc = self.world.inc_by_id.get(iid)
        if inc is None:
            raise not_found()
        return inc

    def h_incident(self, q: Query, iid: str):
        return 200, b'{"incident":' + self.r.incident(self._inc(iid)) + b"}"

    def h_inc_alerts(self, q: Query, iid: str):
        inc = self._inc(iid)
        alerts = self.r.alerts(inc)
        st = set(q.list("statuses"))
        if st:
            alerts = [a for a in alerts if a["status"] in st]
        return self._classic(q, "alerts", alerts, dumpb)

    def h_inc_notes(self, q: Query, iid: str):
        return 200, dumpb({"notes": self.r.notes(self._inc(iid))})

    def _inc_log_positions(self, inc) -> list[int]:
        w = self.world
        lo = bisect.bisect_left(w.log_ts, inc.created)
        hi = bisect.bisect_right(w.log_ts, inc.updated)
        return [p for p in range(lo, hi) if w.log[p][2] == inc.idx]

    def h_inc_log_entries(self, q: Query, iid: str):
        inc = self._inc(iid)
        since, until = self._range(q, self._tz(q))
        pos = [
            p
            for p in self._inc_log_positions(inc)
            if (since is None or self.world.log_ts[p] >= since)
            and (until is None or self.world.log_ts[p] < until)
        ]
        incl = "incidents" in q.list("include")
        return self._classic(q, "log_entries", pos, lambda p: self.r.log_entry(p, incl))

    def h_log_entries(self, q: Query):
        w = self.world
        since, until = self._range(q, self._tz(q))
        if since is not None and until is not None and until < since:
            raise bad_request("until must not be before since.", 2005, "Invalid Query Date Range")
        lo = 0 if since is None else bisect.bisect_left(w.log_ts, since)
        hi = len(w.log_ts) if until is None else bisect.bisect_left(w.log_ts, until)
        seq = range(lo, max(lo, hi))
        overview = q.get("is_overview") == "true"
        team_ids = set(q.list("team_ids"))
        if overview or team_ids:
            team_svc = {
                i
                for i, s in enumerate(w.services)
                if any(w.teams[t]["id"] in team_ids for t in s["teams"])
            }
            keep_kinds = {"trigger", "acknowledge", "resolve", "escalate", "assign", "annotate"}

            def compute():
                out = []
                for p in seq:
                    e = w.log[p]
                    if overview and e[3] not in keep_kinds:
                        continue
                    if team_ids and w.incidents[e[2]].service not in team_svc:
                        continue
                    out.append(p)
                return out

            seq = self._cached(("le", lo, hi, overview, tuple(sorted(team_ids))), compute)
        incl = "incidents" in q.list("include")
        return self._classic(q, "log_entries", seq, lambda p: self.r.log_entry(p, incl))

    def h_notifications(self, q: Query):
        w = self.world
        since, until = self._required_range(q)
        if until < since:
            raise bad_request("until must not be before since.", 2005, "Invalid Query Date Range")
        if until - since >= 92 * DAY:
            raise bad_request(
                "The date range must be less than 3 months.", 2005, "Invalid Query Date Range"
            )
        lo = bisect.bisect_left(w.notif_ts, since)
        hi = bisect.bisect_left(w.notif_ts, until)
        seq = range(lo, max(lo, hi))
        ftype = q.get("filter")
        if ftype:
            if ftype not in (
                "sms_notification",
                "email_notification",
                "phone_notification",
                "push_notification",
            ):
                raise bad_request("filter is not a valid notification type.")
            seq = self._cached(
                ("nf", lo, hi, ftype),
                lambda: [
                    p
                    for p in seq
                    if NOTIF_TYPE[w.users[w.notifs[p][2]]["cms"][w.notifs[p][3]]["type"]] == ftype
                ],
            )
        return self._classic(q, "notifications", seq, lambda p: self.r.notification(w.notifs[p]))

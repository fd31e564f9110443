"""History feeds: audit records, change events, the analytics raw incidents query."""

from __future__ import annotations

import bisect
import json
import typing as t
from collections.abc import Sequence

from ..data import DAY, Inc
from ..http import Query, b64, bad_request, unb64
from ..render import dumpb
from .base import ApiBase


class HistoryApi(ApiBase):
    """A part of `Emulator` (see the module's docstring)."""

    def h_audit(self, q: Query):
        w = self.world
        since, until = self._range(q, self._tz(q))
        until = w.now if until is None else until
        since = until - DAY if since is None else since
        if until < since:
            raise bad_request("until must not be before since.", 2005, "Invalid Query Date Range")
        if until - since > 31 * DAY:
            raise bad_request(
                "The until parameter must be within 31 days of since.",
                2005,
                "Invalid Query Date Range",
            )
        try:
            limit = int(q.get("limit", 100) or 100)
        except ValueError as exc:
            raise bad_request("limit must be an integer.") from exc
        limit = max(1, min(limit, 100))
        lo = bisect.bisect_left(w.audit_ts, since * 1000)
        hi = bisect.bisect_left(w.audit_ts, until * 1000)
        cur = q.get("cursor")
        if cur:
            raw = unb64(cur)
            try:
                c_ts, c_id = raw.split(":", 1)
                hi = min(hi, bisect.bisect_left(w.audit, (int(c_ts), c_id)))
            except ValueError as exc:
                raise bad_request("Invalid cursor.") from exc
        start = max(lo, hi - limit)
        page = w.audit[start:hi][::-1]
        nxt = None
        if start > lo and page:
            nxt = b64(f"{page[-1][0]}:{page[-1][1]}")
        tail = dumpb({"response_metadata": None, "limit": limit, "next_cursor": nxt})
        return 200, b'{"records":[' + b",".join(self.r.audit(a) for a in page) + b"]," + tail[1:]

    def h_change_events(self, q: Query):
        w = self.world
        for name in ("since", "until"):
            v = q.get(name)
            if v and not v.strip().endswith("Z"):
                raise bad_request(f"{name} must be a UTC ISO-8601 timestamp ending in 'Z'.", 2001)
        since, until = self._range(q)
        floor = w.now - 90 * DAY
        since = floor if since is None else max(since, floor)
        lo = bisect.bisect_left(w.change_ts, since)
        hi = len(w.change_ts) if until is None else bisect.bisect_left(w.change_ts, until)
        seq = range(max(lo, hi) - 1, lo - 1, -1)  # newest first
        return self._classic(q, "change_events", seq, lambda p: self.r.change_event(w.changes[p]))

    def h_analytics(self, q: Query, body: bytes):
        """`POST /analytics/raw/incidents`: filters in the body, cursor paging both ways."""
        req, flt, limit, order = _analytics_request(body)
        seq = self._analytics_matches(flt)
        idxs, more = _analytics_page(seq, req, order, limit)
        incidents = self.world.incidents
        data = [self.r.analytics(incidents[i]) for i in idxs]
        tail = dumpb(
            {
                "first": b64(f"inc:{idxs[0] + 1}") if idxs else None,
                "last": b64(f"inc:{idxs[-1] + 1}") if idxs else None,
                "limit": limit,
                "more": more,
                "order": order,
                "order_by": req.get("order_by", "created_at"),
                "filters": flt,
                "time_zone": "Etc/UTC",
            }
        )
        return 200, b'{"data":[' + b",".join(data) + b"]," + tail[1:]

    def _analytics_time(self, flt: dict[str, t.Any], name: str) -> int | None:
        return self._parse_time(flt[name], name=name) if flt.get(name) else None

    def _analytics_matches(self, flt: dict[str, t.Any]) -> Sequence[int]:
        """Indexes of the incidents the filters select, in creation order."""
        w = self.world
        start = self._analytics_time(flt, "created_at_start")
        end = self._analytics_time(flt, "created_at_end")
        upd = self._analytics_time(flt, "updated_after")
        base = w.inc_range(start, end)
        urg = flt.get("urgency")
        major = flt.get("major")
        svc_ids = set(flt.get("service_ids") or [])
        team_ids = set(flt.get("team_ids") or [])
        pri_names = set(flt.get("priority_names") or [])
        pri_ids = set(flt.get("priority_ids") or [])
        lagged = w.analytics_lag > 0
        if not (
            upd is not None
            or lagged
            or urg
            or major is not None
            or svc_ids
            or team_ids
            or pri_names
            or pri_ids
        ):
            return base

        def selected(inc: Inc) -> bool:
            svc = w.services[inc.service]
            seen = w.analytics_updated(inc)
            pr = None if inc.priority is None else w.priorities[inc.priority]
            return not (
                seen is None
                or (upd is not None and seen <= upd)
                or (urg and inc.urgency != urg)
                or (major is not None and inc.major != major)
                or (svc_ids and svc["id"] not in svc_ids)
                or (team_ids and not any(w.teams[t]["id"] in team_ids for t in svc["teams"]))
                or (pri_names and (pr is None or pr["name"] not in pri_names))
                or (pri_ids and (pr is None or pr["id"] not in pri_ids))
            )

        key = (
            "an",
            base.start,
            base.stop,
            upd,
            w.analytics_lag,
            urg,
            major,
            tuple(sorted(svc_ids)),
            tuple(sorted(team_ids)),
            tuple(sorted(pri_names)),
            tuple(sorted(pri_ids)),
        )
        return self._cached(key, lambda: [i for i in base if selected(w.incidents[i])])


def _analytics_request(body: bytes) -> tuple[dict[str, t.Any], dict[str, t.Any], int, str]:
    """The query's body, checked: (request, filters, limit, order)."""
    try:
        req = json.loads(body or b"{}")
        if not isinstance(req, dict):
            raise ValueError
    except ValueError as exc:
        raise bad_request("Request body must be a JSON object.") from exc
    flt = req.get("filters") or {}
    limit = req.get("limit", 100)
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise bad_request("limit must be an integer between 1 and 1000.")
    order = req.get("order", "desc")
    order_by = req.get("order_by", "created_at")
    if order not in ("asc", "desc") or order_by != "created_at":
        raise bad_request("order must be asc|desc; the emulator supports order_by=created_at only.")
    return req, flt, limit, order


def _analytics_cursor(cursor: str) -> int:
    """The incident index a `starting_after` / `ending_before` cursor names."""
    raw = unb64(cursor)
    if not raw.startswith("inc:"):
        raise bad_request("Invalid cursor.")
    try:
        return int(raw[4:]) - 1
    except ValueError as exc:
        raise bad_request("Invalid cursor.") from exc


def _analytics_page(
    seq: Sequence[int], req: dict[str, t.Any], order: str, limit: int
) -> tuple[list[int], bool]:
    """One page of `seq` (ascending incident indexes) in `order`, after the request's
    cursors: (the page's indexes, whether more follow)."""
    n = len(seq)
    after = req.get("starting_after")
    before = req.get("ending_before")
    if order == "asc":
        lo, hi = 0, n
        if after:
            lo = bisect.bisect_right(seq, _analytics_cursor(after))
        if before:
            hi = bisect.bisect_left(seq, _analytics_cursor(before))
        if before and not after:
            lo = max(0, hi - limit)
        return list(seq[lo : min(hi, lo + limit)]), lo + limit < hi
    lo, hi = 0, n  # positions in ascending seq; we walk downwards
    if after:
        hi = bisect.bisect_left(seq, _analytics_cursor(after))
    if before:
        lo = bisect.bisect_right(seq, _analytics_cursor(before))
    if before and not after:
        return list(seq[lo : min(hi, lo + limit)])[::-1], lo + limit < hi
    return list(seq[max(lo, hi - limit) : hi])[::-1], hi - limit > lo

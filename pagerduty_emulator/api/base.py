"""What every API family shares: the emulator's state, time parsing, classic paging, the
query cache."""

from __future__ import annotations

import collections
import math
import re
import threading
import typing as t
from datetime import datetime, timedelta, timezone, tzinfo

from ..churn import first_id
from ..data import World
from ..http import ApiError, Query, bad_request
from ..render import Renderer, dumpb

if t.TYPE_CHECKING:
    from ..churn import Churn
    from ..extras import Extras
    from ..stats import Stats

ACCOUNT_TZ: tzinfo
try:
    from zoneinfo import ZoneInfo

    ACCOUNT_TZ = ZoneInfo("America/Los_Angeles")
except Exception:  # pragma: no cover - no tz database
    ACCOUNT_TZ = timezone(timedelta(hours=-8))

OFFSET_ERR = (
    "Offset+limit exceeds maximum allowed value of 10000. Please try to refine your search to "
    "reduce the returned set of records below this number, like adding a date range."
)

_TZ_SPACE = re.compile(r" (\d\d:?\d\d)$")


class ApiBase:
    """A part of `Emulator` (see the module's docstring)."""

    # The emulator's state, set by `Emulator.__init__`.
    world: World
    r: Renderer
    extras: Extras
    churn: Churn
    stats_: Stats
    lock: threading.RLock
    _qcache: collections.OrderedDict[t.Any, t.Any]
    _qcache_version: int

    def _parse_time(self, value: str, tz=None, name: str = "since") -> int:
        """Epoch seconds (ceil).  A value without zone is read in the account zone."""
        v = value.strip()
        v = _TZ_SPACE.sub(r"+\1", v)
        try:
            if len(v) == 10:
                dt = datetime.strptime(v, "%Y-%m-%d")
            else:
                dt = datetime.fromisoformat(v[:-1] + "+00:00" if v.endswith(("Z", "z")) else v)
        except ValueError as exc:
            raise ApiError(
                400,
                "Invalid time values in 'since' and/or 'until'",
                2004,
                [f"{name} is not a valid ISO 8601 date: {value!r}"],
            ) from exc
        if dt.tzinfo is None:
            self.stats_.bump("missing_z")
            dt = dt.replace(tzinfo=tz or ACCOUNT_TZ)
        return math.ceil(dt.timestamp())

    def _parse_admin_time(self, value) -> int:
        if isinstance(value, (int, float)):
            return int(value)
        if isinstance(value, datetime):
            return math.ceil(value.timestamp())
        v = str(value).strip()
        dt = datetime.fromisoformat(v[:-1] + "+00:00" if v.endswith("Z") else v)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return math.ceil(dt.timestamp())

    def _tz(self, q: Query):
        name = q.get("time_zone")
        if not name:
            return None
        try:
            return ZoneInfo(name)
        except Exception as exc:
            raise bad_request(f"time_zone {name!r} is not a valid time zone.") from exc

    def _required_range(self, q: Query) -> tuple[int, int]:
        """`since` and `until` where both are required (a 400 when one is missing)."""
        since, until = q.get("since"), q.get("until")
        if not since or not until:
            raise bad_request("since and until are required parameters.")
        tz = self._tz(q)
        return self._parse_time(since, tz, "since"), self._parse_time(until, tz, "until")

    def _range(self, q: Query, tz=None) -> tuple[int | None, int | None]:
        s = q.get("since")
        u = q.get("until")
        since = self._parse_time(s, tz, "since") if s else None
        until = self._parse_time(u, tz, "until") if u else None
        return since, until

    def _classic(
        self, q: Query, key: str, seq, render, extra: dict | None = None
    ) -> tuple[int, bytes]:
        try:
            limit = int(q.get("limit", 25) or 25)
            offset = int(q.get("offset", 0) or 0)
        except ValueError as exc:
            raise bad_request("limit and offset must be integers.") from exc
        limit = max(1, min(limit, 100))
        if offset < 0:
            raise bad_request("offset must be >= 0.")
        if offset + limit > 10000:
            raise ApiError(400, "Arguments Caused Error", 2002, [OFFSET_ERR])
        seq = self.churn.listing(key, seq, self._row_id)
        n = len(seq)
        page = seq[offset : offset + limit]
        parts = [render(x) for x in page]
        total = n if q.get("total") == "true" else None
        more = offset + len(parts) < n
        tail = {"limit": limit, "offset": offset, "more": more, "total": total}
        if extra:
            tail.update(extra)
        return 200, b'{"' + key.encode() + b'":[' + b",".join(parts) + b"]," + dumpb(tail)[1:]

    def _row_id(self, row) -> str | None:
        """The id of one listing row: rendered bytes, or an incident's index."""
        if isinstance(row, int):
            return self.world.incidents[row].id
        return first_id(row)

    def _cached(self, key, compute):
        w = self.world
        if self._qcache_version != w.version:
            self._qcache.clear()
            self._qcache_version = w.version
        got = self._qcache.get(key)
        if got is None:
            got = compute()
            self._qcache[key] = got
            if len(self._qcache) > 64:
                self._qcache.popitem(last=False)
        else:
            self._qcache.move_to_end(key)
        return got

    def _filter_query(self, q: Query, items: list[bytes], names: list[str]) -> list[bytes]:
        text = (q.get("query") or "").lower()
        if not text:
            return items
        return [b for b, n in zip(items, names, strict=True) if text in n.lower()]

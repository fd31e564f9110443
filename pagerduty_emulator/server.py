"""HTTP layer of the PagerDuty REST API v2 emulator (stdlib only)."""

from __future__ import annotations

import base64
import bisect
import collections
import contextlib
import json
import math
import random
import re
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .churn import Churn, first_id
from .data import DAY, World, iso, parse_utc
from .extras import POST_PATHS, TOKEN_PATH, Extras
from .render import Renderer, dumpb

try:
    from zoneinfo import ZoneInfo

    ACCOUNT_TZ = ZoneInfo("America/Los_Angeles")
except Exception:  # pragma: no cover - no tz database
    ACCOUNT_TZ = timezone(timedelta(hours=-8))

ACCEPT_V2 = "application/vnd.pagerduty+json;version=2"
OFFSET_ERR = (
    "Offset+limit exceeds maximum allowed value of 10000. Please try to refine your search to "
    "reduce the returned set of records below this number, like adding a date range."
)
LOG_CAP = 500_000
_ID_SEG = re.compile(r"^(P[0-9A-Z]{6}|[0-9a-f]{8}-[0-9a-f-]{27})$")
_TZ_SPACE = re.compile(r" (\d\d:?\d\d)$")


FORCED_ERRORS = {
    402: ("Account does not have the abilities to perform the action", 2014),
    403: ("Access Denied", 2010),
    404: ("Not Found", 2100),
    410: ("This endpoint has been retired", 2100),
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: int, errors: list | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "code": code, "errors": errors or []}}


def bad_request(text: str, code: int = 2001, message: str = "Invalid Input Provided") -> ApiError:
    return ApiError(400, message, code, [text])


def not_found() -> ApiError:
    return ApiError(404, "Not Found", 2100, [])


# ------------------------------------------------------------------------------------------------
# stats
# ------------------------------------------------------------------------------------------------
class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
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

    def snapshot(self, log: bool = False) -> dict:
        with self.lock:
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


# ------------------------------------------------------------------------------------------------
# request helpers
# ------------------------------------------------------------------------------------------------
class Query:
    def __init__(self, qs: str) -> None:
        self.raw = qs
        self.d = parse_qs(qs, keep_blank_values=True)

    def get(self, name: str, default=None):
        v = self.d.get(name)
        return v[-1] if v else default

    def list(self, name: str) -> list[str]:
        return self.d.get(name + "[]", []) + self.d.get(name, [])

    def has(self, name: str) -> bool:
        return name in self.d


def b64(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


def unb64(s: str) -> str:
    try:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode()
    except Exception as exc:
        raise bad_request("Invalid cursor.") from exc


class Emulator:
    """PagerDuty REST API v2 emulator.  See pagerduty_emulator/README.md."""

    def __init__(
        self,
        seed: int = 1,
        incidents: int = 1000,
        days: int = 365,
        now: str | int | None = None,
        rate_limit: int = 960,
        fault_5xx: float = 0.0,
        fault_429_every: int = 0,
        fault_drop: float = 0.0,
        fault_truncate: float = 0.0,
        latency_ms: float = 0,
        tokens: tuple | list = ("emulator-token",),
        bursts: tuple | list = (),
        users: int = 40,
        services: int = 12,
        port: int = 0,
        force_status: dict | None = None,
        stale_paging: tuple | list = (),
        silent_changes: int = 0,
        analytics_lag_hours: float = 0,
        fault_401_after: int = 0,
        date_skew_seconds: int = 0,
        date_skew_path: str | None = None,
        date_skew_every: int = 1,
        churn: tuple | list = (),
    ) -> None:
        t0 = time.monotonic()
        if now is None:
            now_ts = int(time.time()) // 3600 * 3600
        elif isinstance(now, str):
            now_ts = parse_utc(now)
        else:
            now_ts = int(now)
        parsed_bursts = []
        for b in bursts:
            if isinstance(b, str):
                st, dd, cnt = b.rsplit(":", 2)
                b = (st, float(dd), int(cnt))
            parsed_bursts.append(tuple(b))
        self.seed = seed
        self.port = port
        self.tokens = set(tokens)
        self.rate_limit = rate_limit
        self.fault_5xx = fault_5xx
        self.fault_429_every = fault_429_every
        self.fault_drop = fault_drop
        self.fault_truncate = fault_truncate
        self.latency_ms = latency_ms
        # {path: status}: answer that path with that error (402 plan, 403 scope, 404 …).
        self.force_status = dict(force_status or {})
        # Every API request after the first N is answered 401 (a token revoked mid-run).
        self.fault_401_after = fault_401_after
        # A `Date` header `date_skew_seconds` off on every Nth response whose path matches
        # the regex `date_skew_path` (all paths if None): a proxy stamping its own clock.
        self.date_skew_seconds = date_skew_seconds
        self.date_skew_path = date_skew_path
        self.date_skew_every = date_skew_every
        self._skew_counter = 0
        # Paths answered as a cache that ignores `offset` and `cursor` would: always page one.
        self.stale_paging = set(stale_paging)
        # Entities deleted, created or merged between two requests (see churn.py).
        self.churn = Churn(churn)
        self.lock = threading.RLock()
        self.world = World(
            seed=seed,
            incidents=incidents,
            days=days,
            now=now_ts,
            users=users,
            services=services,
            bursts=tuple(parsed_bursts),
            silent_changes=silent_changes,
            analytics_lag=int(analytics_lag_hours * 3600),
        )
        self.r = Renderer(self.world)
        self.extras = Extras(self)  # custom fields, overrides, licenses, metrics, OAuth
        self.world.incident_type_name = self.extras.incident_type_name
        self.stats_ = Stats()
        self._fault_lock = threading.Lock()
        self._fault_rng = random.Random(seed * 7 + 12345)
        self._req_counter = 0
        self._injected_429 = 0
        self._rl: dict[str, collections.deque] = {}
        self._rl_lock = threading.Lock()
        self._qcache: collections.OrderedDict = collections.OrderedDict()
        self._qcache_version = -1
        self.httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.startup_seconds = time.monotonic() - t0
        self.routes = self._routes()

    # -------------------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int | None = None) -> Emulator:
        if port is not None:
            self.port = port
        emu = self

        class Handler(_Handler):
            emulator = emu

        httpd = _Server(("127.0.0.1", self.port), Handler)
        self.httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is None:
            return
        self.httpd.shutdown()
        self.httpd.close_all()
        self.httpd.server_close()
        self.httpd = None

    def __enter__(self) -> Emulator:
        return self.start() if self.httpd is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -------------------------------------------------------------------------- public API
    @property
    def now(self) -> int:
        return self.world.now

    def stats(self, log: bool = False) -> dict:
        out = self.stats_.snapshot(log)
        out["now"] = iso(self.world.now)
        return out

    def reset_stats(self) -> None:
        with self.stats_.lock:
            self.stats_.reset()

    def advance(self, hours: float, changes: bool = True) -> str:
        """Move the clock; with `changes=False` nothing happens meanwhile (a quiet period)."""
        with self.lock:
            if changes:
                old = self.world.now
                self.world.advance(hours)
                self.extras.after_advance(old)  # custom field values edited meanwhile
            else:
                self.world.now += int(hours * 3600)
                self.world.version += 1
            return iso(self.world.now)

    def configure(self, **kw) -> None:
        allowed = {
            "rate_limit",
            "fault_5xx",
            "fault_429_every",
            "fault_drop",
            "fault_truncate",
            "latency_ms",
            "tokens",
            "force_status",
            "fault_401_after",
            "date_skew_seconds",
            "date_skew_path",
            "date_skew_every",
            "stale_paging",
        }
        world = {"silent_changes": 1, "analytics_lag_hours": 3600}  # World attrs, with units
        for k, v in kw.items():
            if k in world:
                with self.lock:
                    setattr(self.world, k.removesuffix("_hours"), int(v * world[k]))
                continue
            if k not in allowed:
                raise ValueError(f"unknown setting {k!r}")
            setattr(self, k, set(v) if k in ("tokens", "stale_paging") else v)

    def truth(self, stream: str, since=None, until=None) -> list[dict]:
        s = None if since is None else self._parse_admin_time(since)
        u = None if until is None else self._parse_admin_time(until)
        with self.lock:
            return self.churn.truth(stream, self._truth(stream, s, u))

    def summary(self) -> str:
        w = self.world
        return (
            f"{len(w.incidents)} incidents, {len(w.log)} log entries, "
            f"{len(w.notifs)} notifications, "
            f"{len(w.users)} users, {len(w.services)} services, now {iso(w.now)}"
        )

    # -------------------------------------------------------------------------- request entry
    def handle(self, h: _Handler, method: str) -> None:
        split = urlsplit(h.path)
        path = split.path.rstrip("/") or "/"
        qs = split.query
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        h.date_offset = 0
        if path.startswith("/_admin/"):
            status, payload = self._admin(method, path, Query(qs), body)
            h.reply(status, dumpb(payload), self._rl_headers(None))
            return
        h.date_offset = self._date_skew(path)
        st = self.stats_
        t = st.begin()
        h.arrived_at = t  # a token's budget counts arrivals, before the injected latency
        status: int | str = "?"
        try:
            status = self._api(h, method, path, qs, body)
        finally:
            st.end(t, method, path, qs, status)

    def _date_skew(self, path: str) -> int:
        """Seconds to add to this response's `Date` header."""
        if not self.date_skew_seconds:
            return 0
        if self.date_skew_path and not re.search(self.date_skew_path, path):
            return 0
        with self._fault_lock:
            self._skew_counter += 1
            n = self._skew_counter
        every = max(1, int(self.date_skew_every or 1))
        return int(self.date_skew_seconds) if n % every == 0 else 0

    def _draw_faults(self):
        with self._fault_lock:
            self._req_counter += 1
            n = self._req_counter
            rng = self._fault_rng
            r_drop, r_5xx, r_trunc, r_code = rng.random(), rng.random(), rng.random(), rng.random()
            inj429 = None
            if self.fault_429_every and n % int(self.fault_429_every) == 0:
                self._injected_429 += 1
                inj429 = "headers" if self._injected_429 % 2 == 1 else "bare"
            revoked = bool(self.fault_401_after) and n > int(self.fault_401_after)
        return r_drop, r_5xx, r_trunc, r_code, inj429, revoked

    def _api(self, h: _Handler, method: str, path: str, qs: str, body: bytes):
        st = self.stats_
        r_drop, r_5xx, r_trunc, r_code, inj429, revoked = self._draw_faults()
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000.0)
        if r_drop < self.fault_drop:
            st.fault("drop")
            h.drop()
            return "drop"
        token = self._token(h.headers.get("Authorization"))
        if inj429 is not None:
            st.fault("429_" + inj429)
            if inj429 == "headers":
                # An injected 429 is not a real exhaustion: it says "try again in 1 s".
                headers = self._rl_headers(token, peek=True, exhausted=True)
                headers["ratelimit-reset"] = "1"
                h.reply(
                    429,
                    dumpb({"error": {"message": "Rate Limit Exceeded", "code": 2020}}),
                    headers,
                )
            else:
                h.reply(429, b"", {})
            return 429
        if r_5xx < self.fault_5xx:
            code = (500, 502, 503)[int(r_code * 3)]
            st.fault(f"{code}")
            msg = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}[
                code
            ]
            h.reply(
                code,
                dumpb({"error": {"message": msg, "code": 2000, "errors": []}}),
                self._rl_headers(token, peek=True),
            )
            return code
        accept = (h.headers.get("Accept") or "").replace(" ", "")
        if ACCEPT_V2 not in accept:
            st.bump("missing_accept")
        if method != "GET" and not (
            method == "POST"
            and path
            in ("/analytics/raw/incidents", "/analytics/metrics/incidents/all", *POST_PATHS)
        ):
            st.bump("write_attempts")
            h.reply(
                405,
                dumpb(
                    {
                        "error": {
                            "message": "Method Not Allowed",
                            "code": 2001,
                            "errors": ["This emulator is read-only."],
                        }
                    }
                ),
                self._rl_headers(token, peek=True),
            )
            return 405
        if path == TOKEN_PATH:  # the identity service: no API token, form body
            status, payload = self.extras.h_token(body)
            h.reply(status, payload, {})
            return status
        auth = h.headers.get("Authorization")
        if (
            token is None
            or revoked
            or (token not in self.tokens and not self.extras.token_valid(token))
        ):
            if auth and auth.startswith("Bearer "):
                h.reply(401, b"Unauthorized", {}, content_type="text/plain; charset=utf-8")
            else:
                h.reply(
                    401,
                    dumpb(
                        {
                            "error": {
                                "message": "Authentication failed",
                                "code": 2006,
                                "errors": ["Your API key or OAuth token is invalid or missing."],
                            }
                        }
                    ),
                    self._rl_headers(None),
                )
            return 401
        if path in self.force_status:  # a plan feature or scope this account lacks
            status = int(self.force_status[path])
            message, code = FORCED_ERRORS.get(status, ("Error", 2000))
            h.reply(
                status,
                dumpb({"error": {"message": message, "code": code, "errors": [path]}}),
                self._rl_headers(token, peek=True),
            )
            return status
        missing = self.extras.missing_scope(token, method, path)
        if missing:
            errors = [f"The access token does not have the required scope: {missing}"]
            h.reply(
                403,
                dumpb({"error": {"message": "Forbidden", "code": 2010, "errors": errors}}),
                self._rl_headers(token, peek=True),
            )
            return 403
        if self.extras.analytics_unfiltered(token, path, body):
            errors = ["OAuth and user-level tokens must filter by team_ids or service_ids."]
            h.reply(
                400,
                dumpb(
                    {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": errors}}
                ),
                self._rl_headers(token, peek=True),
            )
            return 400
        rl = self._rate_limit(token)
        st.token_request(token, h.arrived_at, limited=rl is None)
        if rl is None:
            h.reply(
                429,
                dumpb({"error": {"message": "Rate Limit Exceeded", "code": 2020}}),
                self._rl_headers(token, peek=True, exhausted=True),
            )
            return 429
        if path in self.stale_paging:
            st.fault("stale_page")
            qs = "&".join(p for p in qs.split("&") if not p.startswith(("offset=", "cursor=")))
        try:
            if self.churn.gone(path):  # deleted (or merged away) since it was listed
                raise not_found()
            status, payload = self._route(method, path, Query(qs), body)
        except ApiError as e:
            status, payload = e.status, dumpb(e.body)
        self.churn.answered(path)  # before the reply: later requests see the change
        if status == 200 and r_trunc < self.fault_truncate and len(payload) > 2:
            st.fault("truncate")
            h.reply(200, payload, rl, truncate=True)
            return "truncate"
        h.reply(status, payload, rl)
        return status

    @staticmethod
    def _token(auth: str | None) -> str | None:
        if not auth:
            return None
        auth = auth.strip()
        if auth.startswith("Token token="):
            return auth[len("Token token=") :].strip().strip('"')
        if auth.startswith("Bearer "):
            return auth[7:].strip()
        return None

    def _rate_limit(self, token: str) -> dict | None:
        limit = int(self.rate_limit or 0)
        now = time.monotonic()
        with self._rl_lock:
            dq = self._rl.setdefault(token, collections.deque())
            while dq and dq[0] <= now - 60:
                dq.popleft()
            if limit > 0 and len(dq) >= limit:
                return None
            dq.append(now)
            reset = max(1, math.ceil(dq[0] + 60 - now))
            return {
                "ratelimit-limit": str(limit),
                "ratelimit-remaining": str(max(0, limit - len(dq))),
                "ratelimit-reset": str(reset),
            }

    def _rl_headers(self, token: str | None, peek: bool = False, exhausted: bool = False) -> dict:
        limit = int(self.rate_limit or 0)
        now = time.monotonic()
        with self._rl_lock:
            dq = self._rl.get(token) if token else None
            used = 0
            reset = 60
            if dq:
                while dq and dq[0] <= now - 60:
                    dq.popleft()
                used = len(dq)
                if dq:
                    reset = max(1, math.ceil(dq[0] + 60 - now))
        remaining = 0 if exhausted else max(0, limit - used)
        return {
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(reset),
        }

    # -------------------------------------------------------------------------- time parsing
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

    def _range(self, q: Query, tz=None) -> tuple[int | None, int | None]:
        s = q.get("since")
        u = q.get("until")
        since = self._parse_time(s, tz, "since") if s else None
        until = self._parse_time(u, tz, "until") if u else None
        return since, until

    # -------------------------------------------------------------------------- paging helpers
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

    # -------------------------------------------------------------------------- routing
    def _routes(self):
        simple = {
            "/users": self.h_users,
            "/teams": self.h_teams,
            "/services": self.h_services,
            "/escalation_policies": self.h_cfg("escalation_policies"),
            "/schedules": self.h_schedules,
            "/priorities": self.h_cfg("priorities"),
            "/tags": self.h_cfg("tags"),
            "/business_services": self.h_cfg("business_services"),
            "/vendors": self.h_cfg("vendors"),
            "/extensions": self.h_cfg("extensions"),
            "/addons": self.h_cfg("addons"),
            "/incident_workflows": self.h_cfg("incident_workflows"),
            "/event_orchestrations": self.h_cfg("event_orchestrations", key="orchestrations"),
            "/webhook_subscriptions": self.h_cfg("webhook_subscriptions"),
            "/rulesets": self.h_cfg("rulesets"),
            "/status_dashboards": self.h_dashboards,
            "/abilities": self.h_abilities,
            "/oncalls": self.h_oncalls,
            "/incidents": self.h_incidents,
            "/log_entries": self.h_log_entries,
            "/notifications": self.h_notifications,
            "/maintenance_windows": self.h_maintenance,
            "/audit/records": self.h_audit,
            "/change_events": self.h_change_events,
            "/analytics/raw/incidents": self.h_analytics,
        }
        patterns = [
            (re.compile(r"^/users/([^/]+)/contact_methods$"), self.h_user_cms),
            (re.compile(r"^/users/([^/]+)/notification_rules$"), self.h_user_rules),
            (re.compile(r"^/teams/([^/]+)/members$"), self.h_team_members),
            (re.compile(r"^/incidents/([^/]+)/alerts$"), self.h_inc_alerts),
            (re.compile(r"^/incidents/([^/]+)/notes$"), self.h_inc_notes),
            (re.compile(r"^/incidents/([^/]+)/log_entries$"), self.h_inc_log_entries),
            (re.compile(r"^/incidents/([^/]+)$"), self.h_incident),
            (
                re.compile(r"^/(users|teams|services|escalation_policies|schedules)/([^/]+)$"),
                self.h_one,
            ),
        ]
        self.extras.add_routes(simple, patterns)
        return simple, patterns

    def _route(self, method: str, path: str, q: Query, body: bytes) -> tuple[int, bytes]:
        simple, patterns = self.routes
        fn = simple.get(path)
        with self.lock:
            if fn is not None:
                if path.startswith("/analytics/") or path in POST_PATHS:
                    return fn(q, body)
                return fn(q)
            for rx, f in patterns:
                m = rx.match(path)
                if m:
                    return f(q, *m.groups())
        raise not_found()

    # -------------------------------------------------------------------------- config handlers
    def _filter_query(self, q: Query, items: list[bytes], names: list[str]) -> list[bytes]:
        text = (q.get("query") or "").lower()
        if not text:
            return items
        return [b for b, n in zip(items, names, strict=True) if text in n.lower()]

    def h_cfg(self, stream: str, key: str | None = None):
        def handler(q: Query):
            items = self.r.config(stream)
            return self._classic(q, key or stream, items, lambda b: b)

        return handler

    def h_users(self, q: Query):
        inc = set(q.list("include"))
        expand = bool(inc & {"contact_methods", "notification_rules"})
        items = self.r.config("users+" if expand else "users")
        if expand and inc != {"contact_methods", "notification_rules"}:
            drop = {"contact_methods", "notification_rules"} - inc
            ref_items = self.r.config("users")
            items = []
            for full, plain in zip(self.r.config("users+"), ref_items, strict=True):
                d, p = json.loads(full), json.loads(plain)
                for k in drop:
                    d[k] = p[k]
                items.append(dumpb(d))
        items = self._filter_query(q, items, [u["name"] for u in self.world.users])
        team_ids = q.list("team_ids")
        if team_ids:
            keep = {
                i
                for i, u in enumerate(self.world.users)
                if any(self.world.teams[t]["id"] in team_ids for t in u["teams"])
            }
            items = [b for i, b in enumerate(items) if i in keep]
        return self._classic(q, "users", items, lambda b: b)

    def h_teams(self, q: Query):
        items = self._filter_query(q, self.r.config("teams"), [t["name"] for t in self.world.teams])
        return self._classic(q, "teams", items, lambda b: b)

    def h_services(self, q: Query):
        expand = "integrations" in q.list("include")
        items = self.r.config("services+" if expand else "services")
        items = self._filter_query(q, items, [s["name"] for s in self.world.services])
        return self._classic(q, "services", items, lambda b: b)

    def h_schedules(self, q: Query):
        expand = "schedule_layers" in q.list("include")
        items = self.r.config("schedules+" if expand else "schedules")
        items = self._filter_query(q, items, [s["name"] for s in self.world.schedules])
        return self._classic(q, "schedules", items, lambda b: b)

    def h_one(self, q: Query, kind: str, rid: str):
        coll = {
            "users": self.world.users,
            "teams": self.world.teams,
            "services": self.world.services,
            "escalation_policies": self.world.eps,
            "schedules": self.world.schedules,
        }[kind]
        for i, obj in enumerate(coll):
            if obj["id"] == rid:
                stream = {
                    "users": "users+",
                    "services": "services+",
                    "schedules": "schedules+",
                }.get(kind, kind)
                if kind == "users" and not q.list("include"):
                    stream = "users"
                single = {
                    "users": "user",
                    "teams": "team",
                    "services": "service",
                    "escalation_policies": "escalation_policy",
                    "schedules": "schedule",
                }[kind]
                return 200, b'{"' + single.encode() + b'":' + self.r.config(stream)[i] + b"}"
        raise not_found()

    def _user(self, uid: str) -> int:
        i = self.world.user_by_id.get(uid)
        if i is None:
            raise not_found()
        return i

    def h_user_cms(self, q: Query, uid: str):
        i = self._user(uid)
        u = self.world.users[i]
        return 200, dumpb({"contact_methods": [self.r.cm_full(u, k) for k in range(len(u["cms"]))]})

    def h_user_rules(self, q: Query, uid: str):
        i = self._user(uid)
        u = self.world.users[i]
        urg = q.get("urgency", "high")
        if urg not in ("high", "low", "all"):
            raise bad_request("urgency must be one of high, low, all.")
        rules = [self.r.rule_full(u, r) for r in u["rules"] if urg == "all" or r["urgency"] == urg]
        return 200, dumpb({"notification_rules": rules})

    def h_team_members(self, q: Query, tid: str):
        for i, t in enumerate(self.world.teams):
            if t["id"] == tid:
                members = [dumpb(self.r.member(i, u, role)) for u, role in t["members"]]
                return self._classic(q, "members", members, lambda b: b)
        raise not_found()

    def h_dashboards(self, q: Query):
        items = self.r.config("status_dashboards")
        return 200, b'{"status_dashboards":[' + b",".join(
            items
        ) + b'],"limit":100,"next_cursor":null}'

    def h_abilities(self, q: Query):
        return 200, dumpb({"abilities": self.world.abilities})

    def h_maintenance(self, q: Query):
        f = q.get("filter", "all")
        now = self.world.now
        pred = {
            "all": lambda m: True,
            "past": lambda m: m["end"] <= now,
            "future": lambda m: m["start"] > now,
            "ongoing": lambda m: m["start"] <= now < m["end"],
            "open": lambda m: m["end"] > now,
        }.get(f)
        if pred is None:
            raise bad_request("filter must be one of past, future, ongoing, open, all.")
        items = self.r.config("maintenance_windows")
        items = [b for b, m in zip(items, self.world.maintenance, strict=True) if pred(m)]
        return self._classic(q, "maintenance_windows", items, lambda b: b)

    # -------------------------------------------------------------------------- on-call
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

    # -------------------------------------------------------------------------- incidents
    def h_incidents(self, q: Query):
        w = self.world
        if q.get("date_range") == "all":
            since = until = None
        else:
            tz = self._tz(q)
            since, until = self._range(q, tz)
            if since is None and until is None:
                since, until = w.now - 30 * DAY, w.now
            elif until is None:
                until = w.now
            elif since is None:
                since = until - 30 * DAY
            if until < since:
                raise bad_request(
                    "until must not be before since.", 2005, "Invalid Query Date Range"
                )
            if until - since > 183 * DAY:
                raise bad_request(
                    "The range between since and until cannot exceed 6 months (183 days). "
                    "Narrow the date range."
                )
        statuses = set(q.list("statuses"))
        if statuses - {"triggered", "acknowledged", "resolved"}:
            raise bad_request("statuses must be triggered, acknowledged or resolved.")
        urg = set(q.list("urgencies"))
        svc_ids = set(q.list("service_ids"))
        team_ids = set(q.list("team_ids"))
        user_ids = set(q.list("user_ids"))
        ikey = q.get("incident_key")
        sort = (q.get("sort_by") or "created_at:asc").split(",")[0]
        field, _, direction = sort.partition(":")
        if field not in ("created_at", "incident_number") or direction not in ("", "asc", "desc"):
            raise bad_request(
                f"sort_by {sort!r} is not supported "
                "(use created_at or incident_number with :asc/:desc)."
            )
        base = w.inc_range(since, until)
        filtered = (
            statuses not in (set(), {"triggered", "acknowledged", "resolved"})
            or urg
            or svc_ids
            or team_ids
            or user_ids
            or ikey
        )
        if filtered:

            def compute():
                if statuses and "resolved" not in statuses:
                    cand = [i for i in sorted(w.open) if base.start <= i < base.stop]
                else:
                    cand = base
                svc_idx = {i for i, s in enumerate(w.services) if s["id"] in svc_ids}
                team_svc = {
                    i
                    for i, s in enumerate(w.services)
                    if any(w.teams[t]["id"] in team_ids for t in s["teams"])
                }
                user_idx = {i for i, u in enumerate(w.users) if u["id"] in user_ids}
                out = []
                for i in cand:
                    inc = w.incidents[i]
                    if statuses and inc.status not in statuses:
                        continue
                    if urg and inc.urgency not in urg:
                        continue
                    if svc_ids and inc.service not in svc_idx:
                        continue
                    if team_ids and inc.service not in team_svc:
                        continue
                    if user_ids and not any(u in user_idx for u, _ in inc.assignees):
                        continue
                    if ikey and inc.key != ikey:
                        continue
                    out.append(i)
                return out

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
            seq = self._cached(key, compute)
        else:
            seq = base
        if direction == "desc":
            seq = seq[::-1]
        incs = w.incidents
        return self._classic(q, "incidents", seq, lambda i: self.r.incident(incs[i]))

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

    # -------------------------------------------------------------------------- log entries
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

    # -------------------------------------------------------------------------- notifications
    def h_notifications(self, q: Query):
        w = self.world
        if not q.get("since") or not q.get("until"):
            raise ApiError(
                400, "Invalid Input Provided", 2001, ["since and until are required parameters."]
            )
        since, until = self._range(q, self._tz(q))
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
            from .render import NOTIF_TYPE

            seq = self._cached(
                ("nf", lo, hi, ftype),
                lambda: [
                    p
                    for p in seq
                    if NOTIF_TYPE[w.users[w.notifs[p][2]]["cms"][w.notifs[p][3]]["type"]] == ftype
                ],
            )
        return self._classic(q, "notifications", seq, lambda p: self.r.notification(w.notifs[p]))

    # -------------------------------------------------------------------------- audit
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

    # -------------------------------------------------------------------------- change events
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

    # -------------------------------------------------------------------------- analytics
    def h_analytics(self, q: Query, body: bytes):
        w = self.world
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
            raise bad_request(
                "order must be asc|desc; the emulator supports order_by=created_at only."
            )
        start = (
            self._parse_time(flt["created_at_start"], name="created_at_start")
            if flt.get("created_at_start")
            else None
        )
        end = (
            self._parse_time(flt["created_at_end"], name="created_at_end")
            if flt.get("created_at_end")
            else None
        )
        upd = (
            self._parse_time(flt["updated_after"], name="updated_after")
            if flt.get("updated_after")
            else None
        )
        base = w.inc_range(start, end)
        urg = flt.get("urgency")
        major = flt.get("major")
        svc_ids = set(flt.get("service_ids") or [])
        team_ids = set(flt.get("team_ids") or [])
        pri_names = set(flt.get("priority_names") or [])
        pri_ids = set(flt.get("priority_ids") or [])
        lagged = w.analytics_lag > 0
        if (
            upd is not None
            or lagged
            or urg
            or major is not None
            or svc_ids
            or team_ids
            or pri_names
            or pri_ids
        ):

            def compute():
                out = []
                for i in base:
                    inc = w.incidents[i]
                    svc = w.services[inc.service]
                    seen = w.analytics_updated(inc)
                    if seen is None or (upd is not None and seen <= upd):
                        continue
                    if urg and inc.urgency != urg:
                        continue
                    if major is not None and inc.major != major:
                        continue
                    if svc_ids and svc["id"] not in svc_ids:
                        continue
                    if team_ids and not any(w.teams[t]["id"] in team_ids for t in svc["teams"]):
                        continue
                    pr = None if inc.priority is None else w.priorities[inc.priority]
                    if pri_names and (pr is None or pr["name"] not in pri_names):
                        continue
                    if pri_ids and (pr is None or pr["id"] not in pri_ids):
                        continue
                    out.append(i)
                return out

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
            seq = self._cached(key, compute)
        else:
            seq = base
        n = len(seq)
        after = req.get("starting_after")
        before = req.get("ending_before")

        def decode(c):
            raw = unb64(c)
            if not raw.startswith("inc:"):
                raise bad_request("Invalid cursor.")
            try:
                return int(raw[4:]) - 1  # incident index
            except ValueError as exc:
                raise bad_request("Invalid cursor.") from exc

        if order == "asc":
            lo, hi = 0, n
            if after:
                lo = bisect.bisect_right(seq, decode(after))
            if before:
                hi = bisect.bisect_left(seq, decode(before))
            if before and not after:
                lo = max(0, hi - limit)
            idxs = list(seq[lo : min(hi, lo + limit)])
            more = lo + limit < hi
        else:
            lo, hi = 0, n  # positions in ascending seq; we walk downwards
            if after:
                hi = bisect.bisect_left(seq, decode(after))
            if before:
                lo = bisect.bisect_right(seq, decode(before))
            if before and not after:
                idxs = list(seq[lo : min(hi, lo + limit)])[::-1]
                more = lo + limit < hi
            else:
                idxs = list(seq[max(lo, hi - limit) : hi])[::-1]
                more = hi - limit > lo
        data = [self.r.analytics(w.incidents[i]) for i in idxs]
        first = b64(f"inc:{idxs[0] + 1}") if idxs else None
        last = b64(f"inc:{idxs[-1] + 1}") if idxs else None
        tail = dumpb(
            {
                "first": first,
                "last": last,
                "limit": limit,
                "more": more,
                "order": order,
                "order_by": order_by,
                "filters": flt,
                "time_zone": "Etc/UTC",
            }
        )
        return 200, b'{"data":[' + b",".join(data) + b"]," + tail[1:]

    # -------------------------------------------------------------------------- admin
    def _admin(self, method: str, path: str, q: Query, body: bytes) -> tuple[int, object]:
        try:
            if path == "/_admin/advance" and method == "POST":
                hours = float(q.get("hours") or (json.loads(body or b"{}").get("hours", 1)))
                return 200, {"now": self.advance(hours)}
            if path == "/_admin/stats" and method == "GET":
                return 200, self.stats(log=q.get("log") in ("1", "true"))
            if path == "/_admin/reset_stats" and method == "POST":
                self.reset_stats()
                return 200, {"ok": True}
            if path == "/_admin/config" and method == "POST":
                cfg = json.loads(body or b"{}")
                self.configure(**cfg)
                return 200, {"ok": True}
            if path == "/_admin/now" and method == "GET":
                return 200, {"now": iso(self.world.now)}
            if path.startswith("/_admin/truth/") and method == "GET":
                stream = path[len("/_admin/truth/") :]
                recs = self.truth(stream, q.get("since"), q.get("until"))
                return 200, {"stream": stream, "count": len(recs), "records": recs}
        except KeyError as exc:
            return 404, {"error": {"message": "Not Found", "code": 2100, "errors": [str(exc)]}}
        except (ValueError, TypeError) as exc:
            return 400, {
                "error": {"message": "Invalid Input Provided", "code": 2001, "errors": [str(exc)]}
            }
        return 404, {"error": {"message": "Not Found", "code": 2100, "errors": [path]}}

    # -------------------------------------------------------------------------- truth
    def _truth(self, stream: str, since: int | None, until: int | None) -> list[dict]:
        w = self.world
        r = self.r
        loads = json.loads

        def in_range(t: int) -> bool:
            return (since is None or t >= since) and (until is None or t < until)

        cfg = {
            "users": "users+",
            "teams": "teams",
            "services": "services+",
            "escalation_policies": "escalation_policies",
            "schedules": "schedules+",
            "priorities": "priorities",
            "tags": "tags",
            "business_services": "business_services",
            "vendors": "vendors",
            "maintenance_windows": "maintenance_windows",
            "extensions": "extensions",
            "addons": "addons",
            "incident_workflows": "incident_workflows",
            "event_orchestrations": "event_orchestrations",
            "webhook_subscriptions": "webhook_subscriptions",
            "status_dashboards": "status_dashboards",
            "rulesets": "rulesets",
        }
        if stream in cfg:
            return [loads(b) for b in r.config(cfg[stream])]
        if stream == "incidents":
            return [loads(r.incident(w.incidents[i])) for i in w.inc_range(since, until)]
        if stream == "log_entries":
            lo = 0 if since is None else bisect.bisect_left(w.log_ts, since)
            hi = len(w.log_ts) if until is None else bisect.bisect_left(w.log_ts, until)
            return [loads(r.log_entry(p)) for p in range(lo, hi)]
        if stream == "notifications":
            lo = 0 if since is None else bisect.bisect_left(w.notif_ts, since)
            hi = len(w.notif_ts) if until is None else bisect.bisect_left(w.notif_ts, until)
            return [loads(r.notification(w.notifs[p])) for p in range(lo, hi)]
        if stream in ("incident_alerts", "incident_notes"):
            out = []
            for i in w.inc_range(since, until):
                inc = w.incidents[i]
                recs = r.alerts(inc) if stream == "incident_alerts" else r.notes(inc)
                for rec in recs:
                    rec["incident_id"] = inc.id
                    out.append(rec)
            return out
        if stream == "user_contact_methods":
            return [
                dict(r.cm_full(u, k), user_id=u["id"])
                for u in w.users
                for k in range(len(u["cms"]))
            ]
        if stream == "user_notification_rules":
            return [dict(r.rule_full(u, x), user_id=u["id"]) for u in w.users for x in u["rules"]]
        if stream == "team_members":
            return [
                dict(r.member(ti, ui, role), team_id=t["id"], user_id=w.users[ui]["id"])
                for ti, t in enumerate(w.teams)
                for ui, role in t["members"]
            ]
        if stream == "service_integrations":
            return [
                dict(r.integration(k), service_id=w.services[g["service"]]["id"])
                for k, g in enumerate(w.integrations)
            ]
        if stream == "audit_records":
            return [
                loads(r.audit(a))
                for a in reversed(w.audit)
                if in_range(a[0] // 1000) and a[0] > (w.now - 365 * DAY) * 1000
            ]
        if stream == "analytics_incidents":
            return [loads(r.analytics(w.incidents[i])) for i in w.inc_range(since, until)]
        if stream == "abilities":
            return [{"name": a} for a in w.abilities]
        if stream == "change_events":
            floor = w.now - 90 * DAY
            return [
                loads(r.change_event(c))
                for c in reversed(w.changes)
                if c[0] >= floor and in_range(c[0])
            ]
        if stream == "oncalls":
            if since is None or until is None:
                raise ValueError("oncalls truth needs since and until")
            return [loads(r.oncall(o)) for o in w.oncalls(since, until)]
        extra = self.extras.truth(stream, since, until)
        if extra is not None:
            return extra
        raise KeyError(f"unknown stream {stream!r}")


# ------------------------------------------------------------------------------------------------
# HTTP plumbing
# ------------------------------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, *a, **kw) -> None:
        self._conns: set = set()
        self._conns_lock = threading.Lock()
        super().__init__(*a, **kw)

    def track(self, sock, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(sock)

    def close_all(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pagerduty-emulator/1.0"
    sys_version = ""
    emulator: Emulator
    arrived_at: float = 0.0  # monotonic time the current request arrived
    date_offset = 0

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format, *args) -> None:
        pass

    def date_time_string(self, timestamp=None) -> str:
        return formatdate(self.emulator.world.now + self.date_offset, usegmt=True)

    def do_GET(self) -> None:
        self.emulator.handle(self, "GET")

    def do_POST(self) -> None:
        self.emulator.handle(self, "POST")

    def do_PUT(self) -> None:
        self.emulator.handle(self, "PUT")

    def do_PATCH(self) -> None:
        self.emulator.handle(self, "PATCH")

    def do_DELETE(self) -> None:
        self.emulator.handle(self, "DELETE")

    def reply(
        self,
        status: int,
        body: bytes,
        headers: dict,
        content_type: str = "application/json",
        truncate: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        if truncate:
            self.send_header("Connection", "close")
        if not truncate:
            self._headers_buffer.append(b"\r\n")
            self._headers_buffer.append(body)
            self.flush_headers()
            return
        self.end_headers()
        if truncate:
            self.wfile.write(body[: max(1, len(body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_WR)
            return

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

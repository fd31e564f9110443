"""The PagerDuty REST API v2 emulator (standard library only): its settings, its lifecycle, and
the path of one request (faults, authentication, scopes, rate limit, routing). The answers
themselves are built by API family in `api/` (as the tap's streams are grouped), the control
surface and ground truth in `admin.py`, the HTTP plumbing in `http.py`."""

from __future__ import annotations

import collections
import math
import random
import re
import threading
import time
from urllib.parse import urlsplit

from .admin import AdminApi
from .api.account import AccountApi
from .api.base import ApiBase
from .api.history import HistoryApi
from .api.incidents import IncidentsApi
from .api.oncalls import OncallsApi
from .churn import Churn
from .data import World, iso, parse_utc
from .extras import POST_PATHS, TOKEN_PATH, Extras
from .http import ApiError, EmulatorServer, Query, RequestHandler, not_found
from .novel import add_novel_fields
from .render import Renderer, dumpb
from .stats import Stats

ACCEPT_V2 = "application/vnd.pagerduty+json;version=2"


FORCED_ERRORS = {
    402: ("Account does not have the abilities to perform the action", 2014),
    403: ("Access Denied", 2010),
    404: ("Not Found", 2100),
    410: ("This endpoint has been retired", 2100),
}


class Emulator(AccountApi, OncallsApi, IncidentsApi, HistoryApi, AdminApi, ApiBase):
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
        novel_fields: bool = False,
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
        # Undocumented fields real accounts send (see novel.py).
        self.novel_fields = novel_fields
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
        self.httpd: EmulatorServer | None = None
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

        class Bound(RequestHandler):
            emulator = emu

        httpd = EmulatorServer(("127.0.0.1", self.port), Bound)
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

    def summary(self) -> str:
        w = self.world
        return (
            f"{len(w.incidents)} incidents, {len(w.log)} log entries, "
            f"{len(w.notifs)} notifications, "
            f"{len(w.users)} users, {len(w.services)} services, now {iso(w.now)}"
        )

    # -------------------------------------------------------------------------- request entry
    def handle(self, h: RequestHandler, method: str) -> None:
        split = urlsplit(h.path)
        path = split.path.rstrip("/") or "/"
        qs = split.query
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        h.date_offset = 0
        if path.startswith("/_admin/"):
            code, payload = self._admin(method, path, Query(qs), body)
            h.reply(code, dumpb(payload), self._rl_headers(None))
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

    def _api(self, h: RequestHandler, method: str, path: str, qs: str, body: bytes):
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
        if self.novel_fields and status == 200:
            payload = add_novel_fields(path, payload)
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

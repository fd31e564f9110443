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
import typing as t
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


#: POSTs that only read: the analytics queries and the OAuth token request.
READ_POSTS = frozenset(
    {"/analytics/raw/incidents", "/analytics/metrics/incidents/all", *POST_PATHS}
)

FORCED_ERRORS = {
    402: ("Account does not have the abilities to perform the action", 2014),
    403: ("Access Denied", 2010),
    404: ("Not Found", 2100),
    410: ("This endpoint has been retired", 2100),
}


class Emulator(AccountApi, OncallsApi, IncidentsApi, HistoryApi, AdminApi, ApiBase):
    """PagerDuty REST API v2 emulator.  See pagerduty_emulator/README.md."""

    # What the emulator does besides answering (given to __init__, changed by `configure`).
    rate_limit: int  # requests per rolling 60 s per token; 0: none
    latency_ms: float  # sleep before answering
    fault_5xx: float  # probability of a 500/502/503
    fault_429_every: int  # every Nth request gets a 429
    fault_drop: float  # probability of closing the connection without an answer
    fault_truncate: float  # probability of half a body
    #: Every API request after the first N is answered 401 (a token revoked mid-run).
    fault_401_after: int
    #: {path: status}: answer that path with that error (402 plan, 403 scope, 404 …).
    force_status: dict
    #: A `Date` header `date_skew_seconds` off on every Nth response whose path matches
    #: the regex `date_skew_path` (all paths if None): a proxy stamping its own clock.
    date_skew_seconds: int
    date_skew_path: str | None
    date_skew_every: int
    #: Paths answered as a cache that ignores `offset` and `cursor` would: always page one.
    stale_paging: set[str]
    #: Entities deleted, created or merged between two requests (see churn.py).
    churn: Churn
    #: Undocumented fields real accounts send (see novel.py).
    novel_fields: bool
    #: How an edit of an incident's custom field value shows (see Extras.after_advance).
    custom_field_edits: str
    # The HTTP server and its thread while started.
    httpd: EmulatorServer | None = None
    _thread: threading.Thread | None = None

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
        custom_field_edits: str = "log",
    ) -> None:
        t0 = time.monotonic()
        self.seed, self.port, self.tokens = seed, port, set(tokens)
        self.rate_limit, self.latency_ms = rate_limit, latency_ms
        self.fault_5xx, self.fault_429_every = fault_5xx, fault_429_every
        self.fault_drop, self.fault_truncate = fault_drop, fault_truncate
        self.fault_401_after = fault_401_after
        self.force_status = dict(force_status or {})
        self.date_skew_seconds, self.date_skew_path = date_skew_seconds, date_skew_path
        self.date_skew_every, self._skew_counter = date_skew_every, 0
        self.stale_paging = set(stale_paging)
        self.churn = Churn(churn)
        self.novel_fields = novel_fields
        self.custom_field_edits = _edit_mode(custom_field_edits)
        self.lock = threading.RLock()
        self.world = World(
            seed=seed,
            incidents=incidents,
            days=days,
            now=_now(now),
            users=users,
            services=services,
            bursts=tuple(_burst(b) for b in bursts),
            silent_changes=silent_changes,
            analytics_lag=int(analytics_lag_hours * 3600),
        )
        self.r = Renderer(self.world)
        self.extras = Extras(self)  # custom fields, overrides, licenses, metrics, OAuth
        self.world.incident_type_name = self.extras.incident_type_name
        self._start_counting()
        self.startup_seconds = time.monotonic() - t0
        self.routes = self._routes()

    def _start_counting(self) -> None:
        """Statistics, fault draws, rate-limit windows and the query cache, all empty."""
        self.stats_ = Stats()
        self._fault_lock = threading.Lock()
        self._fault_rng = random.Random(self.seed * 7 + 12345)
        self._req_counter = 0
        self._injected_429 = 0
        self._rl: dict[str, collections.deque] = {}
        self._rl_lock = threading.Lock()
        self._qcache: collections.OrderedDict = collections.OrderedDict()
        self._qcache_version = -1

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
        """Answer one API request, in PagerDuty's order: injected faults, method,
        credentials, plan and scopes, rate limit, then the endpoint itself."""
        r_drop, r_5xx, r_trunc, r_code, inj429, revoked = self._draw_faults()
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000.0)
        if r_drop < self.fault_drop:
            self.stats_.fault("drop")
            h.drop()
            return "drop"
        token = self._token(h.headers.get("Authorization"))
        faulted = self._injected_fault(h, token, inj429, r_5xx < self.fault_5xx, r_code)
        if faulted is not None:
            return faulted
        accept = (h.headers.get("Accept") or "").replace(" ", "")
        if ACCEPT_V2 not in accept:
            self.stats_.bump("missing_accept")
        refused = self._refused(h, method, path, token, revoked, body)
        if refused is not None:
            return refused
        assert token is not None  # a request without one was refused
        rl = self._rate_limit(token)
        self.stats_.token_request(token, h.arrived_at, limited=rl is None)
        if rl is None:
            headers = self._rl_headers(token, peek=True, exhausted=True)
            return _error(h, 429, "Rate Limit Exceeded", 2020, None, headers)
        return self._answer(h, method, path, qs, body, rl, r_trunc < self.fault_truncate)

    def _injected_fault(
        self, h: RequestHandler, token: str | None, inj429: str | None, fail: bool, r_code: float
    ) -> int | None:
        """Answer with an injected 429 or 5xx (None: no fault drawn for this request)."""
        if inj429 is not None:
            self.stats_.fault("429_" + inj429)
            if inj429 != "headers":
                h.reply(429, b"", {})
                return 429
            # An injected 429 is not a real exhaustion: it says "try again in 1 s".
            headers = self._rl_headers(token, peek=True, exhausted=True)
            headers["ratelimit-reset"] = "1"
            return _error(h, 429, "Rate Limit Exceeded", 2020, None, headers)
        if not fail:
            return None
        code = (500, 502, 503)[int(r_code * 3)]
        self.stats_.fault(f"{code}")
        msg = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}[code]
        return _error(h, code, msg, 2000, [], self._peek(token))

    def _refused(
        self,
        h: RequestHandler,
        method: str,
        path: str,
        token: str | None,
        revoked: bool,
        body: bytes,
    ) -> int | None:
        """Answer a request PagerDuty refuses before its endpoint runs (a write, bad
        credentials, a plan or scope it lacks), or a token request (None: go on)."""
        if method != "GET" and not (method == "POST" and path in READ_POSTS):
            self.stats_.bump("write_attempts")
            errors = ["This emulator is read-only."]
            return _error(h, 405, "Method Not Allowed", 2001, errors, self._peek(token))
        if path == TOKEN_PATH:  # the identity service: no API token, form body
            status, payload = self.extras.h_token(body)
            h.reply(status, payload, {})
            return status
        if (
            token is None
            or revoked
            or (token not in self.tokens and not self.extras.token_valid(token))
        ):
            auth = h.headers.get("Authorization")
            if auth and auth.startswith("Bearer "):
                h.reply(401, b"Unauthorized", {}, content_type="text/plain; charset=utf-8")
                return 401
            errors = ["Your API key or OAuth token is invalid or missing."]
            return _error(h, 401, "Authentication failed", 2006, errors, self._rl_headers(None))
        if path in self.force_status:  # a plan feature or scope this account lacks
            status = int(self.force_status[path])
            message, code = FORCED_ERRORS.get(status, ("Error", 2000))
            return _error(h, status, message, code, [path], self._peek(token))
        missing = self.extras.missing_scope(token, method, path)
        if missing:
            errors = [f"The access token does not have the required scope: {missing}"]
            return _error(h, 403, "Forbidden", 2010, errors, self._peek(token))
        if self.extras.analytics_unfiltered(token, path, body):
            errors = ["OAuth and user-level tokens must filter by team_ids or service_ids."]
            return _error(h, 400, "Invalid Input Provided", 2001, errors, self._peek(token))
        return None

    def _answer(
        self,
        h: RequestHandler,
        method: str,
        path: str,
        qs: str,
        body: bytes,
        rl: dict,
        truncate: bool,
    ) -> int | str:
        """Answer from the endpoint (with the stale-paging, churn, novel-field and
        truncation faults the emulator was asked for)."""
        if path in self.stale_paging:
            self.stats_.fault("stale_page")
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
        if status == 200 and truncate and len(payload) > 2:
            self.stats_.fault("truncate")
            h.reply(200, payload, rl, truncate=True)
            return "truncate"
        h.reply(status, payload, rl)
        return status

    def _peek(self, token: str | None) -> dict:
        """The rate-limit headers of an answer that uses none of the budget."""
        return self._rl_headers(token, peek=True)

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


def _error(
    h: RequestHandler,
    status: int,
    message: str,
    code: int,
    errors: list[str] | None,
    headers: dict,
) -> int:
    """Reply with PagerDuty's error body (without `errors` when None); returns `status`."""
    error: dict[str, t.Any] = {"message": message, "code": code}
    if errors is not None:
        error["errors"] = errors
    h.reply(status, dumpb({"error": error}), headers)
    return status


def _now(now: str | int | None) -> int:
    """The emulator's clock at start: given, or the machine's, truncated to the hour."""
    if now is None:
        return int(time.time()) // 3600 * 3600
    if isinstance(now, str):
        return parse_utc(now)
    return int(now)


def _burst(burst: t.Any) -> tuple:
    """A burst of incidents, (start, days, count), from `START:DAYS:COUNT` or a sequence."""
    if isinstance(burst, str):
        start, days, count = burst.rsplit(":", 2)
        return (start, float(days), int(count))
    return tuple(burst)


def _edit_mode(mode: str) -> str:
    """`custom_field_edits`, checked: how an edit of a custom field value shows."""
    if mode not in ("log", "field_log", "updated_at", "none"):
        raise ValueError(f"custom_field_edits {mode!r}")
    return mode

"""The emulator's control surface, for tests and the admin API (`/_admin/...`): move the
clock, read and reset statistics, change settings, and the ground truth a sync is compared
with."""

from __future__ import annotations

import bisect
import json

import msgspec

from .api.base import ApiBase
from .data import DAY, iso
from .http import Query

#: How long `stats` waits at most for the requests in flight to be counted.
SETTLE_SECONDS = 5.0

#: Configuration streams, by the rendering their truth is (with every `include[]`).
CONFIG_TRUTH = {
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


class AdminApi(ApiBase):
    """A part of `Emulator` (see the module's docstring)."""

    def stats(self, log: bool = False, settle: bool = True) -> dict:
        """What the emulator saw. By default once the requests in flight are counted (at most
        `SETTLE_SECONDS` later): a test that reads the counts right after its sync would
        otherwise miss the last answers. `settle=False` while a sync runs."""
        out = self.stats_.snapshot(log, settle=SETTLE_SECONDS if settle else 0.0)
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
            "novel_fields",
            "custom_field_edits",
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

    def _admin(self, method: str, path: str, q: Query, body: bytes) -> tuple[int, object]:
        try:
            if path == "/_admin/advance" and method == "POST":
                hours = float(q.get("hours") or (json.loads(body or b"{}").get("hours", 1)))
                return 200, {"now": self.advance(hours)}
            if path == "/_admin/stats" and method == "GET":
                return 200, self.stats(log=q.get("log") in ("1", "true"), settle=False)
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

    def _truth(self, stream: str, since: int | None, until: int | None) -> list[dict]:
        found = self._account_truth(stream)
        if found is None:
            found = self._incident_truth(stream, since, until)
        if found is None:
            found = self._feed_truth(stream, since, until)
        if found is None:
            found = self.extras.truth(stream, since, until)
        if found is None:
            raise KeyError(f"unknown stream {stream!r}")
        return found

    def _account_truth(self, stream: str) -> list[dict] | None:
        """Configuration streams and their children (None: not one of them)."""
        w = self.world
        r = self.r
        if stream in CONFIG_TRUTH:
            return [msgspec.json.decode(b) for b in r.config(CONFIG_TRUTH[stream])]
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
        if stream == "abilities":
            return [{"name": a} for a in w.abilities]
        return None

    def _incident_truth(
        self, stream: str, since: int | None, until: int | None
    ) -> list[dict] | None:
        """Incidents and their history in [since, until) (None: not one of them)."""
        w = self.world
        r = self.r
        loads = msgspec.json.decode
        if stream == "incidents":
            return [loads(r.incident(w.incidents[i])) for i in w.inc_range(since, until)]
        if stream == "analytics_incidents":
            return [loads(r.analytics(w.incidents[i])) for i in w.inc_range(since, until)]
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
        return None

    def _feed_truth(self, stream: str, since: int | None, until: int | None) -> list[dict] | None:
        """Audit records, change events and on-call shifts (None: not one of them)."""
        w = self.world
        r = self.r

        def in_range(t: int) -> bool:
            return (since is None or t >= since) and (until is None or t < until)

        if stream == "audit_records":
            return [
                msgspec.json.decode(r.audit(a))
                for a in reversed(w.audit)
                if in_range(a[0] // 1000) and a[0] > (w.now - 365 * DAY) * 1000
            ]
        if stream == "change_events":
            floor = w.now - 90 * DAY
            return [
                msgspec.json.decode(r.change_event(c))
                for c in reversed(w.changes)
                if c[0] >= floor and in_range(c[0])
            ]
        if stream == "oncalls":
            if since is None or until is None:
                raise ValueError("oncalls truth needs since and until")
            return [msgspec.json.decode(r.oncall(o)) for o in w.oncalls(since, until)]
        return None

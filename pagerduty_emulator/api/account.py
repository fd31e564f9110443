"""Account configuration: users (and their contact methods and rules), teams and members,
services, schedules, status dashboards, abilities, maintenance windows, and the plain
configuration listings."""

from __future__ import annotations

import json

from ..http import Query, bad_request, not_found
from ..render import dumpb
from .base import ApiBase


class AccountApi(ApiBase):
    """A part of `Emulator` (see the module's docstring)."""

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

"""Audit records, change events and on-call shifts."""

from __future__ import annotations

import typing as t

from ..data import iso, iso_ms
from .base import API, WEB, RenderBase, dumpb


class HistoryRender(RenderBase):
    """A part of `Renderer` (see the module's docstring)."""

    def audit(self, a: tuple) -> bytes:
        ts_ms, aid, kind, idx, action, actor, field = a
        w = self.w
        coll = {
            "user": (w.users, "users", "name"),
            "team": (w.teams, "teams", "name"),
            "service": (w.services, "services", "name"),
            "escalation_policy": (w.eps, "escalation_policies", "name"),
            "schedule": (w.schedules, "schedules", "name"),
        }[kind]
        obj = coll[0][idx]
        root = {
            "id": obj["id"],
            "type": f"{kind}_reference",
            "summary": obj["name"],
            "self": f"{API}/{coll[1]}/{obj['id']}",
            "html_url": f"{WEB}/{coll[1]}/{obj['id']}",
        }
        details: dict[str, t.Any] = {"resource": root}
        if action == "update":
            details["fields"] = [{"name": field, "before_value": "old value", "value": "new value"}]
        return dumpb(
            {
                "id": aid,
                "self": f"{API}/audit/records/{aid}",
                "execution_time": iso_ms(ts_ms),
                "execution_context": {
                    "request_id": f"req-{aid.lower()}",
                    "remote_address": f"203.0.113.{ts_ms % 250 + 1}",
                },
                "actors": [self.user_ref[actor]],
                "method": {
                    "type": "api_token",
                    "truncated_token": w.users[actor]["id"][-4:].lower(),
                },
                "root_resource": root,
                "action": action,
                "details": details,
            }
        )

    def change_event(self, c: tuple) -> bytes:
        ts, cid, svc, build = c
        s = self.w.services[svc]
        integ = self.integ_ref[s["integrations"][0]]
        return dumpb(
            {
                "id": cid,
                "summary": f"Deploy #{build} of {s['name']} finished",
                "type": "change_event",
                "self": f"{API}/change_events/{cid}",
                "html_url": None,
                "timestamp": iso(ts),
                "services": [self.svc_ref[svc]],
                "integration": {
                    "id": integ["id"],
                    "type": "inbound_integration_reference",
                    "summary": integ["summary"],
                    "self": integ["self"],
                    "html_url": integ["html_url"],
                },
                "routing_key": "R" + cid[1:] * 5,
                "source": f"ci-runner-{build % 7}",
                "links": [{"href": f"https://ci.example.com/builds/{build}", "text": "Build log"}],
                "images": [],
                "custom_details": {
                    "build_number": str(build),
                    "build_state": "passed" if build % 5 else "failed",
                },
            }
        )

    def oncall(self, o: tuple) -> bytes:
        ep, lvl, sched, user, st, en = o
        return dumpb(
            {
                "escalation_policy": self.ep_ref[ep],
                "escalation_level": lvl,
                "schedule": None if sched < 0 else self.sched_ref[sched],
                "user": self.user_ref[user],
                "start": None if st is None else iso(st),
                "end": None if en is None else iso(en),
            }
        )

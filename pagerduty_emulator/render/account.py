"""Configuration objects: users, teams, services, escalation policies, schedules and the
other configuration listings (rendered once per world version)."""

from __future__ import annotations

import typing as t
import zlib

from ..data import iso
from .base import API, WEB, RenderBase, dumpb, ref


class AccountRender(RenderBase):
    """A part of `Renderer` (see the module's docstring)."""

    def cm_ref(self, u: dict, k: int) -> dict:
        cm = u["cms"][k]
        return ref(
            cm["type"],
            f"users/{u['id']}/contact_methods",
            cm["id"],
            cm["label"],
            f"users/{u['id']}",
        )

    def cm_full(self, u: dict, k: int) -> dict:
        cm = u["cms"][k]
        d = self.cm_ref(u, k)
        d["type"] = cm["type"]
        d["label"] = cm["label"]
        d["address"] = cm["address"]
        return d

    def rule_full(self, u: dict, r: dict) -> dict:
        d = ref(
            "assignment_notification_rule",
            f"users/{u['id']}/notification_rules",
            r["id"],
            f"{r['delay']} minutes: channel {u['cms'][r['cm']]['id']}",
            f"users/{u['id']}",
        )
        d["type"] = "assignment_notification_rule"
        d["start_delay_in_minutes"] = r["delay"]
        d["contact_method"] = self.cm_ref(u, r["cm"])
        d["urgency"] = r["urgency"]
        return d

    def user(self, i: int, expand: bool) -> dict:
        u = self.w.users[i]
        d = self.user_ref[i].copy()
        d["type"] = "user"
        d.update(
            name=u["name"],
            email=u["email"],
            time_zone=u["time_zone"],
            color=u["color"],
            role=u["role"],
            avatar_url=f"https://secure.gravatar.com/avatar/{zlib.crc32(u['email'].encode()):010d}.png?d=mm&r=PG",
            description=u["description"],
            invitation_sent=u["invitation_sent"],
            job_title=u["job_title"],
            teams=[self.team_ref[t] for t in u["teams"]],
        )
        if expand:
            d["contact_methods"] = [self.cm_full(u, k) for k in range(len(u["cms"]))]
            d["notification_rules"] = [self.rule_full(u, r) for r in u["rules"]]
        else:
            d["contact_methods"] = [self.cm_ref(u, k) for k in range(len(u["cms"]))]
            d["notification_rules"] = [
                ref(
                    "assignment_notification_rule",
                    f"users/{u['id']}/notification_rules",
                    r["id"],
                    None,
                    f"users/{u['id']}",
                )
                for r in u["rules"]
            ]
        return d

    def team(self, i: int) -> dict:
        t = self.w.teams[i]
        d = self.team_ref[i].copy()
        d.update(
            type="team",
            name=t["name"],
            description=t["description"],
            default_role=t["default_role"],
        )
        return d

    def integration(self, k: int) -> dict:
        g = self.w.integrations[k]
        d = self.integ_ref[k].copy()
        d.update(
            type=g["type"],
            name=g["name"],
            service=self.svc_ref[g["service"]],
            created_at=iso(g["created"]),
            vendor=None if g["vendor"] is None else self.vendor_ref[g["vendor"]],
        )
        if g["email"]:
            d["integration_email"] = g["email"]
        return d

    def service(self, i: int, expand: bool) -> dict:
        s = self.w.services[i]
        d = self.svc_ref[i].copy()
        last = self.w.svc_last.get(i)
        d.update(
            type="service",
            name=s["name"],
            description=s["description"],
            auto_resolve_timeout=s["auto_resolve"],
            acknowledgement_timeout=s["ack_timeout"],
            created_at=iso(s["created"]),
            status=s["status"],
            last_incident_timestamp=None if last is None else iso(last),
            escalation_policy=self.ep_ref[s["ep"]],
            response_play=None,
            teams=[self.team_ref[t] for t in s["teams"]],
            integrations=[
                self.integration(k) if expand else self.integ_ref[k] for k in s["integrations"]
            ],
            incident_urgency_rule={"type": "constant", "urgency": "high"},
            support_hours=None,
            scheduled_actions=[],
            addons=[],
            alert_creation="create_alerts_and_incidents",
            alert_grouping_timeout=None,
        )
        return d

    def target(self, kind: str, idx: int) -> dict:
        return (self.user_ref if kind == "user" else self.sched_ref)[idx]

    def ep(self, i: int) -> dict:
        e = self.w.eps[i]
        d = self.ep_ref[i].copy()
        d.update(
            type="escalation_policy",
            name=e["name"],
            description=e["description"],
            num_loops=e["num_loops"],
            on_call_handoff_notifications=e["handoff"],
            escalation_rules=[
                {
                    "id": r["id"],
                    "escalation_delay_in_minutes": r["delay"],
                    "targets": [self.target(k, x) for k, x in r["targets"]],
                }
                for r in e["rules"]
            ],
            services=[self.svc_ref[s] for s in e["services"]],
            teams=[self.team_ref[e["team"]]],
        )
        return d

    def schedule(self, i: int, layers: bool) -> dict:
        s = self.w.schedules[i]
        d = self.sched_ref[i].copy()
        eps = [
            self.ep_ref[k]
            for k, e in enumerate(self.w.eps)
            if any(("schedule", i) in r["targets"] for r in e["rules"])
        ]
        d.update(
            type="schedule",
            time_zone=s["time_zone"],
            name=s["name"],
            description=s["description"],
            escalation_policies=eps,
            users=[self.user_ref[u] for u in s["users"]],
            teams=[self.team_ref[s["team"]]],
        )
        if layers:
            d["schedule_layers"] = [
                {
                    "id": s["layer_id"],
                    "name": "Layer 1",
                    "start": iso(s["lstart"]),
                    "end": None,
                    "users": [{"user": self.user_ref[u]} for u in s["users"]],
                    "restrictions": [],
                    "rotation_virtual_start": iso(s["vstart"]),
                    "rotation_turn_length_seconds": s["turn"],
                }
            ]
        return d

    def config(self, stream: str) -> list[bytes]:
        """Full-table streams, rendered once per world version."""
        if self._cfg_version != self.w.version:
            self._cfg = {}
            self._cfg_version = self.w.version
        got = self._cfg.get(stream)
        if got is None:
            got = [dumpb(r) for r in self._config_dicts(stream)]
            self._cfg[stream] = got
        return got

    def _config_dicts(self, stream: str) -> list[dict]:
        """The records of a full-table stream (`+`: with its `include[]` expanded)."""
        w = self.w
        render: dict[str, t.Callable[[], list[dict]]] = {
            "users": lambda: [self.user(i, False) for i in range(len(w.users))],
            "users+": lambda: [self.user(i, True) for i in range(len(w.users))],
            "teams": lambda: [self.team(i) for i in range(len(w.teams))],
            "services": lambda: [self.service(i, False) for i in range(len(w.services))],
            "services+": lambda: [self.service(i, True) for i in range(len(w.services))],
            "escalation_policies": lambda: [self.ep(i) for i in range(len(w.eps))],
            "schedules": lambda: [self.schedule(i, False) for i in range(len(w.schedules))],
            "schedules+": lambda: [self.schedule(i, True) for i in range(len(w.schedules))],
            "priorities": lambda: self.priority,
            "tags": self._tags_dicts,
            "business_services": self._business_services_dicts,
            "vendors": self._vendors_dicts,
            "extensions": self._extensions_dicts,
            "addons": self._addons_dicts,
            "incident_workflows": self._incident_workflows_dicts,
            "event_orchestrations": self._event_orchestrations_dicts,
            "webhook_subscriptions": self._webhook_subscriptions_dicts,
            "status_dashboards": lambda: [dict(d) for d in w.dashboards],
            "rulesets": self._rulesets_dicts,
            "maintenance_windows": lambda: [self.maintenance(m) for m in w.maintenance],
        }
        return render[stream]()  # KeyError: not a configuration stream

    def _tags_dicts(self) -> list[dict]:
        w = self.w
        return [
            {
                "id": t["id"],
                "type": "tag",
                "summary": t["label"],
                "self": f"{API}/tags/{t['id']}",
                "html_url": None,
                "label": t["label"],
            }
            for t in w.tags
        ]

    def _business_services_dicts(self) -> list[dict]:
        w = self.w
        out = []
        for b in w.business_services:
            team = None
            if b["team"] is not None:
                tid = w.teams[b["team"]]["id"]
                team = {"id": tid, "type": "team_reference", "self": f"{API}/teams/{tid}"}
            out.append(
                {
                    "id": b["id"],
                    "type": "business_service",
                    "summary": b["name"],
                    "self": f"{API}/business_services/{b['id']}",
                    "html_url": f"{WEB}/business-services/{b['id']}",
                    "name": b["name"],
                    "description": b["description"],
                    "point_of_contact": b["point_of_contact"],
                    "team": team,
                }
            )
        return out

    def _vendors_dicts(self) -> list[dict]:
        w = self.w
        out = []
        for v in w.vendors:
            slug = v["name"].lower().replace(" ", "-")
            out.append(
                {
                    "id": v["id"],
                    "type": "vendor",
                    "summary": v["name"],
                    "self": f"{API}/vendors/{v['id']}",
                    "html_url": None,
                    "name": v["name"],
                    "website_url": v["website_url"],
                    "logo_url": f"https://assets.pagerduty.com/vendors/{slug}.png",
                    "thumbnail_url": f"https://assets.pagerduty.com/vendors/{slug}-thumb.png",
                    "description": f"{v['name']} integration",
                    "integration_guide_url": f"https://www.pagerduty.com/docs/guides/{slug}-integration-guide/",
                }
            )
        return out

    def _extensions_dicts(self) -> list[dict]:
        w = self.w
        return [
            {
                "id": x["id"],
                "type": "extension",
                "summary": x["name"],
                "self": f"{API}/extensions/{x['id']}",
                "html_url": None,
                "name": x["name"],
                "endpoint_url": x["endpoint_url"],
                "extension_objects": [self.svc_ref[s] for s in x["objects"]],
                "extension_schema": {
                    "id": x["schema_id"],
                    "type": "extension_schema_reference",
                    "summary": x["schema_name"],
                    "self": f"{API}/extension_schemas/{x['schema_id']}",
                    "html_url": None,
                },
                "temporarily_disabled": False,
            }
            for x in w.extensions
        ]

    def _addons_dicts(self) -> list[dict]:
        w = self.w
        return [
            {
                "id": a["id"],
                "type": a["type"],
                "summary": a["name"],
                "self": f"{API}/addons/{a['id']}",
                "html_url": None,
                "name": a["name"],
                "src": a["src"],
            }
            for a in w.addons
        ]

    def _incident_workflows_dicts(self) -> list[dict]:
        w = self.w
        out = []
        for f in w.workflows:
            d = {
                "id": f["id"],
                "type": "incident_workflow",
                "summary": f["name"],
                "self": f"{API}/incident_workflows/{f['id']}",
                "html_url": f"{WEB}/flex-workflows/workflows/{f['id']}",
                "name": f["name"],
                "description": f["description"],
                "created_at": iso(f["created"]),
                "is_enabled": f["enabled"],
            }
            if f["team"] is not None:
                d["team"] = {"id": w.teams[f["team"]]["id"], "type": "team_reference"}
            out.append(d)
        return out

    def _event_orchestrations_dicts(self) -> list[dict]:
        w = self.w
        out = []
        for o in w.orchestrations:
            uid = w.users[o["user"]]["id"]
            uref = {"id": uid, "self": f"{API}/users/{uid}", "type": "user_reference"}
            tid = w.teams[o["team"]]["id"]
            out.append(
                {
                    "id": o["id"],
                    "self": f"{API}/event_orchestrations/{o['id']}",
                    "name": o["name"],
                    "description": o["description"],
                    "team": {"id": tid, "type": "team_reference", "self": f"{API}/teams/{tid}"},
                    "routes": o["routes"],
                    "created_at": iso(o["created"]),
                    "created_by": uref,
                    "updated_at": iso(o["updated"]),
                    "updated_by": uref,
                    "version": o["version"],
                }
            )
        return out

    def _webhook_subscriptions_dicts(self) -> list[dict]:
        w = self.w
        out = []
        for h in w.webhooks:
            ftype, fidx = h["filter"]
            flt = {"type": ftype}
            if ftype == "team_reference":
                flt["id"] = w.teams[fidx]["id"]
            elif ftype == "service_reference":
                flt["id"] = w.services[fidx]["id"]
            out.append(
                {
                    "id": h["id"],
                    "type": "webhook_subscription",
                    "active": h["active"],
                    "delivery_method": {
                        "id": h["dm_id"],
                        "secret": None,
                        "temporarily_disabled": False,
                        "type": "http_delivery_method",
                        "url": h["url"],
                        "custom_headers": [],
                    },
                    "description": h["description"],
                    "events": h["events"],
                    "filter": flt,
                }
            )
        return out

    def _rulesets_dicts(self) -> list[dict]:
        w = self.w
        out = []
        for r in w.rulesets:
            uid = w.users[r["user"]]["id"]
            uref = {"id": uid, "type": "user_reference", "self": f"{API}/users/{uid}"}
            d = {
                "id": r["id"],
                "self": f"{API}/rulesets/{r['id']}",
                "type": r["type"],
                "name": r["name"],
                "routing_keys": r["routing_keys"],
                "created_at": iso(r["created"]),
                "creator": uref,
                "updated_at": iso(r["updated"]),
                "updater": uref,
            }
            if r["team"] is not None:
                tid = w.teams[r["team"]]["id"]
                d["team"] = {"id": tid, "type": "team_reference", "self": f"{API}/teams/{tid}"}
            out.append(d)
        return out

    def maintenance(self, m: dict) -> dict:
        return {
            "id": m["id"],
            "type": "maintenance_window",
            "summary": m["desc"],
            "self": f"{API}/maintenance_windows/{m['id']}",
            "html_url": f"{WEB}/maintenance_windows#{m['id']}",
            "sequence_number": m["seq"],
            "start_time": iso(m["start"]),
            "end_time": iso(m["end"]),
            "description": m["desc"],
            "created_by": self.user_ref[m["by"]],
            "services": [self.svc_ref[s] for s in m["services"]],
            "teams": [self.team_ref[t] for t in m["teams"]],
        }

    def member(self, team: int, user: int, role: str) -> dict:
        return {"user": self.user_ref[user], "role": role}

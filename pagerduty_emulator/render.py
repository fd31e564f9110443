"""Turn the compact world state into PagerDuty-shaped JSON (only fields the spec defines)."""

from __future__ import annotations

import json
import typing as t
import zlib

from .data import DAY, Inc, World, iso, iso_ms

API = "https://api.pagerduty.com"
WEB = "https://emulator.pagerduty.com"

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumpb(obj) -> bytes:
    return _dumps(obj).encode("utf-8")


NOTIF_TYPE = {
    "email_contact_method": "email_notification",
    "phone_contact_method": "phone_notification",
    "sms_contact_method": "sms_notification",
    "push_notification_contact_method": "push_notification",
}
LE_SUMMARY_CHANNEL = {
    "api": "Triggered through the API.",
    "email": "Triggered through an e-mail.",
    "web_trigger": "Triggered through the website.",
}


def ref(rtype: str, plural: str, rid: str, summary: str | None, web: str | None = None) -> dict:
    return {
        "id": rid,
        "type": rtype + "_reference",
        "summary": summary,
        "self": f"{API}/{plural}/{rid}",
        "html_url": f"{WEB}/{web or plural}/{rid}",
    }


class Renderer:
    """Renders records.  All methods must be called with the world lock held."""

    def __init__(self, world: World) -> None:
        self.w = world
        w = world
        self.user_ref = [ref("user", "users", u["id"], u["name"]) for u in w.users]
        self.team_ref = [ref("team", "teams", t["id"], t["name"]) for t in w.teams]
        self.svc_ref = [
            ref("service", "services", s["id"], s["name"], "service-directory") for s in w.services
        ]
        self.ep_ref = [
            ref("escalation_policy", "escalation_policies", e["id"], e["name"]) for e in w.eps
        ]
        self.sched_ref = [ref("schedule", "schedules", s["id"], s["name"]) for s in w.schedules]
        self.integ_ref = [
            ref(
                i["type"],
                f"services/{w.services[i['service']]['id']}/integrations",
                i["id"],
                i["name"],
                f"services/{w.services[i['service']]['id']}/integrations",
            )
            for i in w.integrations
        ]
        self.vendor_ref = [ref("vendor", "vendors", v["id"], v["name"]) for v in w.vendors]
        self.priority = [
            {
                "id": p["id"],
                "type": "priority",
                "summary": p["name"],
                "self": f"{API}/priorities/{p['id']}",
                "html_url": None,
                "name": p["name"],
                "description": p["description"],
            }
            for p in w.priorities
        ]
        self.le_cache: dict[int, tuple[bytes, int]] = {}  # prefix, incident index
        self._cfg_version = -1
        self._cfg: dict[str, list[bytes]] = {}

    # ---------------------------------------------------------------- config objects
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

    # ---------------------------------------------------------------- incidents & children
    def inc_ref(self, inc: Inc) -> dict:
        # A reference's summary is the incident's current one, as in the incident itself.
        return ref("incident", "incidents", inc.id, f"[#{inc.number}] {inc.title}")

    def agent(self, inc: Inc, agent: int) -> dict:
        if agent >= 0:
            return self.user_ref[agent]
        if agent == -1:
            return self.svc_ref[inc.service]
        return self.integ_ref[self.w.services[inc.service]["integrations"][0]]

    def _pending_actions(self, inc: Inc) -> list[tuple[str, str]]:
        """(type, at) of what PagerDuty will do to the incident unless someone acts."""
        svc = self.w.services[inc.service]
        rules = self.w.eps[inc.ep]["rules"]
        pending = []
        if inc.status == "triggered":
            delay = rules[min(inc.level, len(rules) - 1)]["delay"]
            pending.append(("escalate", iso(inc.last_change + delay * 60)))
        elif inc.status == "acknowledged" and svc["ack_timeout"]:
            pending.append(("unacknowledge", iso(inc.last_change + svc["ack_timeout"])))
        if inc.status != "resolved" and svc["auto_resolve"]:
            pending.append(("resolve", iso(inc.created + svc["auto_resolve"])))
        return pending

    def _incident_dict(self, inc: Inc) -> bytes:
        """The incident as `incident` renders it, built as a dict (tests compare the two)."""
        svc = self.w.services[inc.service]
        pending = [{"type": kind, "at": at} for kind, at in self._pending_actions(inc)]
        n_alerts = len(inc.alert_ids)
        d = self.inc_ref(inc)
        d.update(
            type="incident",
            incident_number=inc.number,
            title=inc.title,
            created_at=iso(inc.created),
            updated_at=iso(inc.updated),
            status=inc.status,
            incident_key=inc.key,
            service=self.svc_ref[inc.service],
            assignments=[{"at": iso(at), "assignee": self.user_ref[u]} for u, at in inc.assignees],
            assigned_via="escalation_policy",
            last_status_change_at=iso(inc.last_change),
            resolved_at=None if inc.resolved is None else iso(inc.resolved),
            first_trigger_log_entry={
                "id": inc.first_le,
                "type": "trigger_log_entry_reference",
                "summary": LE_SUMMARY_CHANNEL[inc.trig],
                "self": f"{API}/log_entries/{inc.first_le}",
                "html_url": f"{WEB}/incidents/{inc.id}/log_entries/{inc.first_le}",
            },
            alert_counts={
                "all": n_alerts,
                "triggered": 0 if inc.status == "resolved" else n_alerts,
                "resolved": n_alerts if inc.status == "resolved" else 0,
            },
            is_mergeable=True,
            incident_type={"name": self.w.incident_type_name(inc)},
            escalation_policy=self.ep_ref[inc.ep],
            teams=[self.team_ref[t] for t in svc["teams"]],
            pending_actions=pending,
            acknowledgements=[
                {"at": iso(at), "acknowledger": self.user_ref[u]} for u, at in inc.acks
            ],
            last_status_change_by=self.agent(inc, inc.last_by),
            priority=None if inc.priority is None else self.priority[inc.priority],
            resolve_reason=None,
            conference_bridge={
                "conference_number": "+1 415-555-0199,,,,123456#",
                "conference_url": f"https://meet.example.com/{inc.id.lower()}",
            }
            if inc.bridge
            else None,
            incidents_responders=[],
            responder_requests=[],
            urgency=inc.urgency,
        )
        return dumpb(d)

    def _j(self, obj) -> str:
        return _dumps(obj)

    def _frag(self) -> dict:
        f = getattr(self, "_frags", None)
        if f is None:
            j = self._j
            f = {
                "user": [j(x) for x in self.user_ref],
                "svc": [j(x) for x in self.svc_ref],
                "ep": [j(x) for x in self.ep_ref],
                "prio": [j(x) for x in self.priority],
                "teams": [j([self.team_ref[t] for t in s["teams"]]) for s in self.w.services],
                "integ0": [j(self.integ_ref[s["integrations"][0]]) for s in self.w.services],
            }
            self._frags = f
        return f

    def _agent_json(self, inc: Inc, agent: int) -> str:
        """`agent(inc, agent)` as JSON text (see the log entry layout in data.py)."""
        f = self._frag()
        if agent >= 0:
            return str(f["user"][agent])
        if agent == -1:
            return str(f["svc"][inc.service])
        return str(f["integ0"][inc.service])

    def incident(self, inc: Inc) -> bytes:
        """The incident's JSON, written directly (the hot path of a sync); `_incident_dict`
        builds the same as a dict."""
        if inc.cache is not None:
            return inc.cache
        f = self._frag()
        pend = [f'{{"type":"{kind}","at":"{at}"}}' for kind, at in self._pending_actions(inc)]
        n = len(inc.alert_ids)
        resolved = inc.status == "resolved"
        resolved_at = "null" if inc.resolved is None else f'"{iso(inc.resolved)}"'
        users = f["user"]
        iid = inc.id
        le = inc.first_le
        title = _dumps(inc.title)
        summary = _dumps(f"[#{inc.number}] {inc.title}")
        last_by = self._agent_json(inc, inc.last_by)
        bridge = (
            '{"conference_number":"+1 415-555-0199,,,,123456#",'
            f'"conference_url":"https://meet.example.com/{iid.lower()}"}}'
            if inc.bridge
            else "null"
        )
        assignments = ",".join(
            f'{{"at":"{iso(at)}","assignee":{users[u]}}}' for u, at in inc.assignees
        )
        acks = ",".join(f'{{"at":"{iso(at)}","acknowledger":{users[u]}}}' for u, at in inc.acks)
        out = (
            f'{{"id":"{iid}","type":"incident","summary":{summary},'
            f'"self":"{API}/incidents/{iid}","html_url":"{WEB}/incidents/{iid}",'
            f'"incident_number":{inc.number},"title":{title},'
            f'"created_at":"{iso(inc.created)}","updated_at":"{iso(inc.updated)}",'
            f'"status":"{inc.status}","incident_key":"{inc.key}",'
            f'"service":{f["svc"][inc.service]},"assignments":[{assignments}],'
            f'"assigned_via":"escalation_policy","last_status_change_at":"{iso(inc.last_change)}",'
            f'"resolved_at":{resolved_at},'
            f'"first_trigger_log_entry":{{"id":"{le}","type":"trigger_log_entry_reference",'
            f'"summary":"{LE_SUMMARY_CHANNEL[inc.trig]}","self":"{API}/log_entries/{le}",'
            f'"html_url":"{WEB}/incidents/{iid}/log_entries/{le}"}},'
            f'"alert_counts":{{"all":{n},"triggered":{0 if resolved else n},'
            f'"resolved":{n if resolved else 0}}},'
            f'"is_mergeable":true,"incident_type":{{"name":"{self.w.incident_type_name(inc)}"}},'
            f'"escalation_policy":{f["ep"][inc.ep]},"teams":{f["teams"][inc.service]},'
            f'"pending_actions":[{",".join(pend)}],"acknowledgements":[{acks}],'
            f'"last_status_change_by":{last_by},'
            f'"priority":{"null" if inc.priority is None else f["prio"][inc.priority]},'
            f'"resolve_reason":null,"conference_bridge":{bridge},'
            f'"incidents_responders":[],"responder_requests":[],"urgency":"{inc.urgency}"}}'
        )
        inc.cache = out.encode("utf-8")
        return inc.cache

    def log_entry(self, pos: int, include_incident: bool = False) -> bytes:
        got = self.le_cache.get(pos)
        if got is None:
            e = self.w.log[pos]
            inc = self.w.incidents[e[2]]
            prefix = self._log_core(e, inc)[:-1] + b',"incident":'
            got = (prefix, e[2])
            if len(self.le_cache) > 600_000:
                self.le_cache.clear()
            self.le_cache[pos] = got
        inc = self.w.incidents[got[1]]
        if include_incident:
            return got[0] + self.incident(inc) + b"}"
        # The reference is rendered now: it carries the incident's current summary.
        if inc.rcache is None:
            inc.rcache = dumpb(self.inc_ref(inc))
        return got[0] + inc.rcache + b"}"

    def _log_core(self, e: tuple, inc: Inc) -> bytes:
        ts, lid, _, kind, agent, _ = e
        w = self.w
        d = {
            "id": lid,
            "type": f"{kind}_log_entry",
            "summary": "",
            "self": f"{API}/log_entries/{lid}",
            "html_url": f"{WEB}/incidents/{inc.id}/log_entries/{lid}",
            "created_at": iso(ts),
            "agent": self.agent(inc, agent),
            "channel": {"type": "auto"},
            "service": self.svc_ref[inc.service],
            "teams": [self.team_ref[t] for t in w.services[inc.service]["teams"]],
            "contexts": [],
        }
        self._log_details(d, e, inc)
        return dumpb(d)

    def _log_details(self, d: dict[str, t.Any], e: tuple, inc: Inc) -> None:
        """The parts of log entry `e` (summary, channel, ...) that depend on its kind."""
        _, _, _, kind, agent, extra = e
        w = self.w
        if kind == "trigger":
            d["summary"] = LE_SUMMARY_CHANNEL[extra]
            d["channel"] = {"type": extra, "summary": inc.title0}
            d["event_details"] = {"description": inc.title0}
        elif kind == "assign":
            name = w.users[extra]["name"]
            d["summary"] = (
                f"Assigned to {name}."
                if agent < 0
                else f"Reassigned to {name} by {w.users[agent]['name']}."
            )
            d["channel"] = {"type": "auto" if agent < 0 else "web_ui"}
            d["assignees"] = [self.user_ref[extra]]
        elif kind == "escalate":
            d["summary"] = f"Escalated to {w.users[extra]['name']}."
            d["channel"] = {"type": "timeout"}
            d["assignees"] = [self.user_ref[extra]]
        elif kind == "notify":
            user, k = extra
            u = w.users[user]
            cm = u["cms"][k]
            how = NOTIF_TYPE[cm["type"]].split("_")[0]
            d["summary"] = f"Notified {u['name']} by {how}."
            d["channel"] = {"type": "auto"}
            d["user"] = self.user_ref[user]
        elif kind == "acknowledge":
            d["summary"] = f"Acknowledged by {w.users[agent]['name']}."
            d["channel"] = {"type": "web_ui"}
            ack = w.services[inc.service]["ack_timeout"]
            if ack:
                d["acknowledgement_timeout"] = ack
        elif kind == "annotate":
            _, text = extra
            d["summary"] = f"Note added by {w.users[agent]['name']}."
            d["channel"] = {"type": "note", "summary": text}
            d["note"] = text
        elif kind == "urgency_change":
            d["summary"] = f"Urgency changed to {extra} by {w.users[agent]['name']}."
            d["channel"] = {"type": "web_ui"}
        elif kind == "resolve":
            if agent < 0:
                d["summary"] = "Resolved automatically (auto-resolve timeout)."
                d["channel"] = {"type": "timeout"}
            else:
                d["summary"] = f"Resolved by {w.users[agent]['name']}."
                d["channel"] = {"type": extra if extra != "auto" else "timeout"}

    def notification(self, n: tuple) -> bytes:
        ts, nid_, user, k, status = n
        cm = self.w.users[user]["cms"][k]
        return dumpb(
            {
                "id": nid_,
                "type": NOTIF_TYPE[cm["type"]],
                "started_at": iso(ts),
                "address": cm["address"],
                "user": self.user_ref[user],
                "status": status,
            }
        )

    def alerts(self, inc: Inc) -> list[dict]:
        out = []
        svc = self.w.services[inc.service]
        sev = ["critical", "error", "warning", "info"][inc.number % 4]
        for i, aid in enumerate(inc.alert_ids):
            key = inc.key if i == 0 else f"{inc.key}-{i}"
            out.append(
                {
                    "id": aid,
                    "type": "alert",
                    "summary": inc.title0,
                    "self": f"{API}/alerts/{aid}",
                    "html_url": f"{WEB}/alerts/{aid}",
                    "created_at": iso(inc.created),
                    "status": "resolved" if inc.status == "resolved" else "triggered",
                    "alert_key": key,
                    "service": self.svc_ref[inc.service],
                    "first_trigger_log_entry": {
                        "id": inc.first_le,
                        "type": "trigger_log_entry_reference",
                        "summary": LE_SUMMARY_CHANNEL[inc.trig],
                        "self": f"{API}/log_entries/{inc.first_le}",
                        "html_url": f"{WEB}/incidents/{inc.id}/log_entries/{inc.first_le}",
                    },
                    "incident": self.inc_ref(inc),
                    "suppressed": False,
                    "severity": sev,
                    "integration": self.integ_ref[svc["integrations"][0]],
                    "body": {
                        "type": "alert_body",
                        "contexts": [],
                        "details": {
                            "host": f"host-{inc.number % 97:02d}.example.com",
                            "metric": inc.title0.split(": ", 1)[-1],
                            "value": inc.number % 1000,
                        },
                    },
                }
            )
        return out

    def notes(self, inc: Inc) -> list[dict]:
        return [
            {
                "id": n.id,
                "user": self.user_ref[n.user],
                "channel": {"summary": "The PagerDuty website or APIs"},
                "content": n.content,
                "created_at": iso(n.created),
                "updated_at": iso(n.updated),
            }
            for n in inc.notes
        ]

    def analytics(self, inc: Inc) -> bytes:
        if inc.acache is not None and not self.w.analytics_lag:
            return inc.acache
        w = self.w
        svc = w.services[inc.service]
        ep = w.eps[inc.ep]
        team = svc["teams"][0] if svc["teams"] else None
        end = inc.resolved
        pr = inc.priority
        d = {
            "id": inc.id,
            "incident_number": inc.number,
            "created_at": iso(inc.created),
            "updated_at": iso(w.analytics_updated(inc) or inc.updated),
            "resolved_at": None if end is None else iso(end),
            "status": inc.status,
            "description": inc.title,
            "urgency": inc.urgency,
            "major": inc.major,
            "priority_id": None if pr is None else w.priorities[pr]["id"],
            "priority_name": None if pr is None else w.priorities[pr]["name"],
            "priority_order": None if pr is None else (5 - pr) * 100,
            "service_id": svc["id"],
            "service_name": svc["name"],
            "team_id": None if team is None else w.teams[team]["id"],
            "team_name": None if team is None else w.teams[team]["name"],
            "escalation_policy_id": ep["id"],
            "escalation_policy_name": ep["name"],
            "incident_type_id": "PINCTYP",
            "incident_type_name": "incident_default",
        }
        d.update(self._analytics_effort(inc))
        inc.acache = dumpb(d)
        return inc.acache

    def _analytics_effort(self, inc: Inc) -> dict[str, t.Any]:
        """Who worked on the incident, and how much (the second half of its analytics)."""
        w = self.w
        assigned = [u for u, _ in inc.assignees]
        acked = [u for u, _ in inc.acks]
        end = inc.resolved
        s_ack = None if inc.first_ack is None else inc.first_ack - inc.created
        s_res = None if end is None else end - inc.created
        engaged = 0 if inc.first_ack is None else ((end or inc.updated) - inc.first_ack)
        return {
            "assigned_user_ids": [w.users[u]["id"] for u in assigned],
            "assigned_user_names": [w.users[u]["name"] for u in assigned],
            "acknowledged_user_ids": [w.users[u]["id"] for u in acked],
            "acknowledged_user_names": [w.users[u]["name"] for u in acked],
            "joined_user_ids": [],
            "joined_user_names": [],
            "acknowledgement_count": inc.ack_count,
            "assignment_count": inc.assign_count,
            "reassignment_count": inc.reassign_count,
            "escalation_count": inc.escalations,
            "timeout_escalation_count": inc.escalations,
            "manual_escalation_count": 0,
            "auto_resolved": inc.status == "resolved" and inc.resolved_by is None,
            "resolved_by_user_id": None
            if inc.resolved_by is None
            else w.users[inc.resolved_by]["id"],
            "resolved_by_user_name": None
            if inc.resolved_by is None
            else w.users[inc.resolved_by]["name"],
            "seconds_to_first_ack": s_ack,
            "seconds_to_engage": s_ack,
            "seconds_to_mobilize": s_ack,
            "seconds_to_resolve": s_res,
            "engaged_seconds": engaged,
            "engaged_user_count": 1 if s_ack is not None else 0,
            "active_user_count": len(set(assigned) | set(acked)),
            "snoozed_seconds": 0,
            "user_defined_effort_seconds": None,
            "total_notifications": inc.notified,
            "total_interruptions": inc.notified,
            "business_hour_interruptions": inc.notified // 2,
            "off_hour_interruptions": inc.notified - inc.notified // 2,
            "sleep_hour_interruptions": 0,
        }

    # ---------------------------------------------------------------- audit / change events
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


__all__ = ["API", "DAY", "WEB", "Renderer", "dumpb"]

"""Incidents and what hangs off them: log entries, notifications, alerts, notes, analytics."""

from __future__ import annotations

import typing as t

from ..data import Inc, iso
from .base import API, LE_SUMMARY_CHANNEL, NOTIF_TYPE, WEB, RenderBase, dumpb, dumps, ref


class IncidentRender(RenderBase):
    """A part of `Renderer` (see the module's docstring)."""

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
        return dumps(obj)

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
        """`agent(inc, agent)` as JSON text (see the log entry layout in data/base.py)."""
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
        title = dumps(inc.title)
        summary = dumps(f"[#{inc.number}] {inc.title}")
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

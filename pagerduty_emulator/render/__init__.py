"""Turn the compact world state into PagerDuty-shaped JSON (only fields the spec defines),
one module per API family (as the tap's streams are grouped)."""

from __future__ import annotations

from ..data import World
from .account import AccountRender
from .base import API, LE_SUMMARY_CHANNEL, NOTIF_TYPE, WEB, RenderBase, dumpb, ref
from .history import HistoryRender
from .incidents import IncidentRender

__all__ = ["API", "LE_SUMMARY_CHANNEL", "NOTIF_TYPE", "WEB", "Renderer", "dumpb", "ref"]


class Renderer(AccountRender, IncidentRender, HistoryRender, RenderBase):
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

# ruff: noqa: RUF001 (names with en dashes, as real accounts have)
"""The account's configuration (users, teams, schedules, escalation policies, services, the
other configuration objects) and who is on call when."""

from __future__ import annotations

import random
from collections.abc import Callable

from .base import (
    _ALPH,
    COLORS,
    DAY,
    FIRST,
    HOUR,
    JOBS,
    LAST,
    SERVICE_NAMES,
    TEAM_NAMES,
    TIME_ZONES,
    Row,
    WorldBase,
    ascii_fold,
)


class AccountData(WorldBase):
    """A part of `World` (see the module's docstring)."""

    def _build_config(self) -> None:
        """The account's configuration, in an order that fixes every random draw."""
        rng = random.Random(self.seed * 13 + 7)
        nid = self.ids.next
        epoch0 = self.now - max(self.days, 30) * DAY - 200 * DAY
        self._build_users(rng, nid, epoch0)
        self._build_teams(rng, nid, epoch0)
        self._build_schedules(rng, nid, epoch0)
        self._build_escalation_policies(rng, nid, epoch0)
        self._build_services(rng, nid, epoch0)
        self._build_catalog(rng, nid, epoch0)
        self._build_automation(rng, nid, epoch0)
        self._build_outbound(rng, nid, epoch0)
        self._build_rules(rng, nid, epoch0)
        self.user_by_id = {u["id"]: i for i, u in enumerate(self.users)}

    def _build_users(self, rng: random.Random, nid: Callable[[], str], epoch0: int) -> None:
        """Users, each with contact methods and notification rules."""
        self.users: list[Row] = []
        seen: set[str] = set()
        for i in range(self.n_users):
            while True:
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
                if name not in seen or len(seen) > 1500:
                    break
            if name in seen:
                name = f"{name} {i}"
            seen.add(name)
            email = ascii_fold(name).replace(" ", ".") + f"{i}@example.com"
            u: Row = {
                "id": nid(),
                "name": name,
                "email": email,
                "time_zone": rng.choice(TIME_ZONES),
                "color": rng.choice(COLORS),
                "role": "owner"
                if i == 0
                else rng.choice(["admin", "user", "user", "limited_user", "observer"]),
                "description": None
                if rng.random() < 0.5
                else f"On-call engineer, {rng.choice(JOBS)}",
                "job_title": rng.choice(JOBS),
                "invitation_sent": rng.random() < 0.1,
                "teams": [],
            }
            cms = self._contact_methods(rng, nid, name, email)
            u["cms"] = cms
            rules = self._notification_rules(nid, cms)
            u["rules"] = rules
            self.users.append(u)

    @staticmethod
    def _contact_methods(
        rng: random.Random, nid: Callable[[], str], name: str, email: str
    ) -> list[Row]:
        """A user's contact methods: email always, phone, SMS and push often."""
        cms = [{"id": nid(), "type": "email_contact_method", "label": "Default", "address": email}]
        phone = "".join(str(rng.randrange(10)) for _ in range(9))
        if rng.random() < 0.85:
            cms.append(
                {
                    "id": nid(),
                    "type": "phone_contact_method",
                    "label": "Mobile",
                    "address": "1" + phone,
                }
            )
        if rng.random() < 0.75:
            cms.append(
                {
                    "id": nid(),
                    "type": "sms_contact_method",
                    "label": "Mobile",
                    "address": "1" + phone,
                }
            )
        if rng.random() < 0.5:
            cms.append(
                {
                    "id": nid(),
                    "type": "push_notification_contact_method",
                    "label": "iPhone von " + name.split()[0],
                    "address": "push-" + phone,
                }
            )
        return cms

    @staticmethod
    def _notification_rules(nid: Callable[[], str], cms: list[Row]) -> list[Row]:
        """A user's notification rules, high and low urgency."""
        rules: list[Row] = []
        for urg in ("high", "low"):
            choices = cms if urg == "high" else cms[:1] + cms[2:3]
            for k, cm in enumerate(choices[:3]):
                rules.append(
                    {
                        "id": nid(),
                        "urgency": urg,
                        "delay": 0 if k < 2 else 5,
                        "cm": cms.index(cm),
                    }
                )
        return rules

    def _build_teams(self, rng: random.Random, nid: Callable[[], str], epoch0: int) -> None:
        """Teams, and each user's team memberships."""
        n_teams = max(3, min(len(TEAM_NAMES), self.n_users // 8))
        self.teams: list[Row] = []
        for i in range(n_teams):
            self.teams.append(
                {
                    "id": nid(),
                    "name": TEAM_NAMES[i],
                    "description": rng.choice(
                        [
                            "",
                            f"Team {TEAM_NAMES[i]} — owns production services",
                            "Follow the sun 🌍",
                        ]
                    ),
                    "default_role": rng.choice(["manager", "none"]),
                    "members": [],
                }
            )
        for ui in range(self.n_users):
            for ti in rng.sample(range(n_teams), 1 if rng.random() < 0.7 else 2):
                role = rng.choice(["manager", "responder", "responder", "observer"])
                self.teams[ti]["members"].append((ui, role))
                self.users[ui]["teams"].append(ti)
        for t in self.teams:
            t["members"].sort()

    def _build_schedules(self, rng: random.Random, nid: Callable[[], str], epoch0: int) -> None:
        """One schedule per escalation policy, one rotation layer each."""
        n_teams = len(self.teams)
        n_eps = max(2, (self.n_services + 1) // 2)
        self.schedules: list[Row] = []
        for i in range(n_eps):
            team = i % n_teams
            pool = [m for m, _ in self.teams[team]["members"]] or [0]
            extra = rng.sample(range(self.n_users), min(2, self.n_users))
            members = list(dict.fromkeys(pool[:4] + extra))[: rng.randint(2, 5)]
            turn = rng.choice([DAY, 7 * DAY, 12 * HOUR])
            vstart = epoch0 + rng.randrange(0, 7) * DAY
            self.schedules.append(
                {
                    "id": nid(),
                    "name": f"{self.teams[team]['name']} – Primary rotation"
                    if i < n_teams
                    else f"Rotation {i + 1} (Ünterstützung)",
                    "description": None if rng.random() < 0.3 else "Weekly follow-the-sun rotation",
                    "time_zone": rng.choice(TIME_ZONES),
                    "team": team,
                    "layer_id": nid(),
                    "users": members,
                    "turn": turn,
                    "vstart": vstart,
                    "lstart": vstart,
                }
            )

    def _build_escalation_policies(
        self, rng: random.Random, nid: Callable[[], str], epoch0: int
    ) -> None:
        """Escalation policies: a schedule first, then a user, sometimes a third rule."""
        n_eps = len(self.schedules)  # one schedule per escalation policy
        self.eps: list[Row] = []
        for i in range(n_eps):
            rules = [{"id": nid(), "delay": rng.choice([15, 30]), "targets": [("schedule", i)]}]
            if rng.random() < 0.8:
                rules.append(
                    {"id": nid(), "delay": 30, "targets": [("user", rng.randrange(self.n_users))]}
                )
            if rng.random() < 0.3:
                rules.append(
                    {
                        "id": nid(),
                        "delay": 60,
                        "targets": [("schedule", (i + 1) % n_eps), ("user", 0)],
                    }
                )
            self.eps.append(
                {
                    "id": nid(),
                    "name": f"{self.schedules[i]['name'].split(' –')[0]} escalation",
                    "description": None
                    if rng.random() < 0.4
                    else "Page primary, then secondary, then the manager",
                    "num_loops": rng.choice([0, 1, 2]),
                    "handoff": rng.choice(["if_has_services", "always"]),
                    "rules": rules,
                    "team": self.schedules[i]["team"],
                    "services": [],
                }
            )

    def _build_services(self, rng: random.Random, nid: Callable[[], str], epoch0: int) -> None:
        """Vendors, services and their integrations."""
        n_eps = len(self.schedules)  # one schedule per escalation policy
        self.vendors: list[Row] = []
        for name, site in [
            ("Amazon CloudWatch", "https://aws.amazon.com/cloudwatch"),
            ("Datadog", "https://www.datadoghq.com"),
            ("Prometheus", "https://prometheus.io"),
            ("Nagios", "https://www.nagios.org"),
            ("Email", "https://www.pagerduty.com"),
            ("Grafana", "https://grafana.com"),
        ]:
            self.vendors.append({"id": nid(), "name": name, "website_url": site})
        # services + integrations
        self.services: list[Row] = []
        self.integrations: list[Row] = []
        for i in range(self.n_services):
            ep = i % n_eps
            name = SERVICE_NAMES[i % len(SERVICE_NAMES)]
            if i >= len(SERVICE_NAMES):
                name = f"{name} {i // len(SERVICE_NAMES) + 1}"
            created = epoch0 + rng.randrange(0, 100) * DAY + rng.randrange(DAY)
            svc: Row = {
                "id": nid(),
                "name": name,
                "description": None if rng.random() < 0.3 else f"Production {name}",
                "ep": ep,
                "teams": [self.eps[ep]["team"]],
                "created": created,
                "auto_resolve": rng.choice([None, 14400]),
                "ack_timeout": rng.choice([None, 1800]),
                "status": "active",
                "integrations": [],
            }
            for k in range(rng.randint(1, 3)):
                kind, vendor = [
                    ("events_api_v2_inbound_integration", 2),
                    ("generic_email_inbound_integration", 4),
                    ("aws_cloudwatch_inbound_integration", 0),
                    ("generic_events_api_inbound_integration", 1),
                ][(i + k) % 4]
                integ = {
                    "id": nid(),
                    "type": kind,
                    "name": self.vendors[vendor]["name"] if k else "Events API v2",
                    "service": i,
                    "created": created + rng.randrange(1, 30) * DAY,
                    "vendor": None if kind == "events_api_v2_inbound_integration" else vendor,
                    "email": f"{ascii_fold(name).replace(' ', '-')}-{k}@emulator.pagerduty.com"
                    if kind == "generic_email_inbound_integration"
                    else None,
                }
                svc["integrations"].append(len(self.integrations))
                self.integrations.append(integ)
            self.services.append(svc)
            self.eps[ep]["services"].append(i)

    def _build_catalog(self, rng: random.Random, nid: Callable[[], str], epoch0: int) -> None:
        """Priorities, tags, business services, add-ons, extensions."""
        n_teams = len(self.teams)
        self.priorities = [
            {"id": nid(), "name": f"P{k}", "description": d}
            for k, d in enumerate(
                ["Critical — customer facing outage", "High", "Moderate", "Low", "Informational"], 1
            )
        ]
        self.tags = [
            {"id": nid(), "label": lbl}
            for lbl in [
                "prod",
                "staging",
                "tier-1",
                "tier-2",
                "db",
                "frontend",
                "network",
                "Ünicode-tag",
                "東京",
                "security",
            ]
        ]
        self.business_services: list[Row] = []
        for i, nm in enumerate(["Online Shop", "Payments", "Customer Login", "Mobile App"]):
            self.business_services.append(
                {
                    "id": nid(),
                    "name": nm,
                    "description": f"{nm} as seen by customers",
                    "point_of_contact": ["Zoë Müller", "Søren Ødegård", "ops@example.com", ""][i],
                    "team": None if i == 3 else i % n_teams,
                }
            )
        self.addons = [
            {"id": nid(), "type": t, "name": n, "src": s}
            for t, n, s in [
                ("full_page_addon", "Status board", "https://status.example.com/embed"),
                ("incident_show_addon", "Runbook viewer", "https://runbooks.example.com/pd"),
            ]
        ]
        self.extensions: list[Row] = []
        for i in range(min(3, self.n_services)):
            self.extensions.append(
                {
                    "id": nid(),
                    "name": ["Slack – #incidents", "Generic webhook", "Jira Cloud"][i],
                    "endpoint_url": f"https://hooks.example.com/pd/{i}",
                    "objects": [i],
                    "schema_id": nid(),
                    "schema_name": ["Slack V2", "Generic V2 Webhook", "Jira Cloud"][i],
                }
            )

    def _build_automation(self, rng: random.Random, nid: Callable[[], str], epoch0: int) -> None:
        """Incident workflows and event orchestrations."""
        n_teams = len(self.teams)
        self.workflows: list[Row] = []
        for i in range(3):
            self.workflows.append(
                {
                    "id": nid(),
                    "name": ["Major incident 🚨", "Notify stakeholders", "Créer un canal Slack"][i],
                    "description": [
                        "Kick off the major incident process",
                        "Send status updates",
                        "Crée un canal dédié",
                    ][i],
                    "created": epoch0 + (30 + i * 40) * DAY,
                    "team": None if i == 1 else i % n_teams,
                    "enabled": i != 2,
                }
            )
        self.orchestrations: list[Row] = []
        for i in range(2):
            created = epoch0 + (50 + i * 20) * DAY
            self.orchestrations.append(
                {
                    "id": self._uuid(rng),
                    "name": ["Global routing", "Shopping Cart Orchestration"][i],
                    "description": [
                        "Routes events to services",
                        "Send shopping cart alerts to the right services",
                    ][i],
                    "team": i % n_teams,
                    "routes": rng.randint(0, 12),
                    "created": created,
                    "updated": created + rng.randrange(1, 90) * DAY,
                    "user": rng.randrange(self.n_users),
                    "routing_key": "R" + "".join(rng.choice(_ALPH) for _ in range(31)),
                    "integration_id": self._uuid(rng),
                    "version": "".join(rng.choice(_ALPH.lower() + "_.") for _ in range(32)),
                }
            )

    def _build_outbound(self, rng: random.Random, nid: Callable[[], str], epoch0: int) -> None:
        """Webhook subscriptions and status dashboards."""
        self.webhooks: list[Row] = []
        for i in range(3):
            self.webhooks.append(
                {
                    "id": nid(),
                    "dm_id": nid(),
                    "active": i != 2,
                    "description": [
                        "Account-wide webhook",
                        "Team webhook",
                        "Disabled service hook",
                    ][i],
                    "url": f"https://hooks.example.com/v3/{i}",
                    "events": ["incident.triggered", "incident.acknowledged", "incident.resolved"][
                        : i + 1
                    ],
                    "filter": [
                        ("account_reference", None),
                        ("team_reference", 0),
                        ("service_reference", 0),
                    ][i],
                }
            )
        self.dashboards = [
            {"id": nid(), "url_slug": s, "name": n}
            for s, n in [
                ("customer-facing", "Customer facing"),
                ("internal-tools", "Internal tools — Übersicht"),
            ]
        ]

    def _build_rules(self, rng: random.Random, nid: Callable[[], str], epoch0: int) -> None:
        """Rulesets and the account's abilities."""
        self.rulesets: list[Row] = []
        for i in range(2):
            created = epoch0 + (10 + i) * DAY
            self.rulesets.append(
                {
                    "id": self._uuid(rng),
                    "type": ["default_global", "global"][i],
                    "name": ["Default Global", "MySQL Clusters"][i],
                    "routing_keys": ["R" + "".join(rng.choice(_ALPH) for _ in range(31))],
                    "created": created,
                    "updated": created + 40 * DAY,
                    "user": rng.randrange(self.n_users),
                    "team": None if i == 0 else 0,
                }
            )
        self.abilities = [
            "advanced_reports",
            "analytics",
            "audit_trail",
            "business_services",
            "event_rules",
            "incident_workflows",
            "manage_schedules",
            "read_only_users",
            "response_plays",
            "service_support_hours",
            "status_dashboards",
            "teams",
            "urgencies",
        ]

    @staticmethod
    def _uuid(rng: random.Random) -> str:
        h = f"{rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"

    def oncall_user(self, sched: int, t: int) -> int:
        s = self.schedules[sched]
        k = (t - s["vstart"]) // s["turn"]
        return s["users"][k % len(s["users"])]

    def level_user(self, ep: int, level: int, t: int) -> int:
        rules = self.eps[ep]["rules"]
        kind, idx = rules[min(level, len(rules) - 1)]["targets"][0]
        return self.oncall_user(idx, t) if kind == "schedule" else idx

    def oncalls(self, since: int, until: int) -> list[tuple]:
        """(ep, level, sched or -1, user, start or None, end or None) overlapping [since, until]."""
        out = []
        for ei, ep in enumerate(self.eps):
            for lvl, rule in enumerate(ep["rules"], 1):
                for kind, idx in rule["targets"]:
                    if kind == "user":
                        out.append((ei, lvl, -1, idx, None, None))
                        continue
                    s = self.schedules[idx]
                    turn, vs = s["turn"], s["vstart"]
                    k0 = (since - vs) // turn
                    k1 = (until - vs) // turn
                    if until > since and (until - vs) % turn == 0:
                        k1 -= 1
                    for k in range(k0, k1 + 1):
                        st = vs + k * turn
                        out.append((ei, lvl, idx, s["users"][k % len(s["users"])], st, st + turn))
        return out

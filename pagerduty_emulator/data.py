# ruff: noqa: RUF001
"""Deterministic synthetic PagerDuty account ("world") for the emulator.

Everything is generated from the seed and the sizes.  Storage is compact: incidents are
small ``__slots__`` objects kept in created_at order; log entries and notifications are
tuples in global time-sorted lists (bisect for range queries).  JSON is rendered on demand
and cached (see ``render/``).
"""

from __future__ import annotations

import bisect
import calendar
import random
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_ALPH = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MOD = 36**6
_TRI = [a + b + c for a in _ALPH for b in _ALPH for c in _ALPH]  # 46656 3-char strings

#: One configuration object (user, team, service, ...): JSON-like fields.
Row = dict[str, Any]

DAY = 86400
HOUR = 3600


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def iso_ms(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + f".{ts_ms % 1000:03d}Z"


def parse_utc(value: str) -> int:
    """Parse ``YYYY-MM-DDTHH:MM:SSZ`` (or a date) into epoch seconds (UTC)."""
    value = value.strip()
    if value.endswith("Z"):
        value = value[:-1]
    fmt = "%Y-%m-%dT%H:%M:%S" if "T" in value else "%Y-%m-%d"
    return calendar.timegm(time.strptime(value[:19], fmt))


class IdGen:
    """Bijective, seed-dependent mapping counter -> ``P`` + 6 base-36 chars (no collisions)."""

    def __init__(self, seed: int) -> None:
        r = random.Random(seed * 7919 + 17)
        a = r.randrange(1, _MOD) | 1
        while a % 3 == 0:
            a += 2
        self.a = a
        self.b = r.randrange(_MOD)
        self.n = 0

    def next(self) -> str:
        v = (self.a * self.n + self.b) % _MOD
        self.n += 1
        return "P" + _TRI[v // 46656] + _TRI[v % 46656]


FIRST = [
    "Zoë",
    "Søren",
    "Ana",
    "Björn",
    "Chloé",
    "Dmitri",
    "Élodie",
    "François",
    "Gülşen",
    "Hiroshi",
    "Inés",
    "Jürgen",
    "Kateřina",
    "Łukasz",
    "Maëlle",
    "Nikolaj",
    "Oğuz",
    "Priya",
    "Quentin",
    "Renée",
    "Siobhán",
    "Tomás",
    "Ulrike",
    "Václav",
    "Wojciech",
    "Xiù",
    "Yusuf",
    "Žofia",
    "Amélie",
    "Bartosz",
    "Camila",
    "Darío",
    "Emma",
    "Farid",
    "Greta",
    "Håkon",
    "Ingrid",
    "José",
    "Kai",
    "Lucía",
    "Mateo",
    "Nadia",
    "Olivia",
    "Pål",
    "Raúl",
    "Sakura",
    "Theo",
]
LAST = [
    "Müller",
    "Ødegård",
    "García",
    "Åberg",
    "Dubois",
    "Ivanov",
    "Lefèvre",
    "Schäfer",
    "Yılmaz",
    "Tanaka",
    "Núñez",
    "Großmann",
    "Dvořák",
    "Wójcik",
    "Le Gall",
    "Sørensen",
    "Öztürk",
    "Patel",
    "Moreau",
    "Fontaine",
    "Ní Bhriain",
    "Muñoz",
    "Köhler",
    "Novák",
    "Szymański",
    "Wáng",
    "Demir",
    "Kováčová",
    "Beaumont",
    "Nowak",
    "Rodríguez",
    "Peña",
    "Smith",
    "Haddad",
    "Lindqvist",
    "Østergaard",
    "Johansson",
    "Gonçalves",
    "Nakamura",
    "Fernández",
    "López",
    "Haugen",
]
TEAM_NAMES = [
    "東京 DB",
    "Platform Ops",
    "Zürich Payments",
    "Søk & Discovery",
    "Mobile Apps",
    "Core API",
    "Data Pipeline",
    "Sécurité",
    "Edge Network",
    "São Paulo Support",
    "Billing",
    "Identity",
    "Observability",
    "München Infra",
    "Growth",
    "Kraków QA",
]
SERVICE_NAMES = [
    "東京 DB",
    "Checkout API",
    "Payments Gateway",
    "Search Indexer",
    "Auth Service",
    "Mobile Backend",
    "Zürich Ledger",
    "Notification Hub",
    "Edge CDN",
    "Data Warehouse",
    "Billing Worker",
    "Inventory Sync",
    "Reporting UI",
    "Message Queue",
    "Session Store",
    "Image Resizer",
    "Recommendation Engine",
    "Fraud Scoring",
    "Kafka Cluster",
    "DNS",
    "São Paulo Frontend",
    "Warehouse ETL",
    "Feature Flags",
    "Geo Service",
]
SYMPTOMS = [
    "latency above threshold",
    "error rate > 5%",
    "disk usage at 95%",
    "CPU saturation",
    "health check failing",
    "replication lag",
    "5xx spike",
    "memory leak suspected",
    "queue depth growing",
    "certificate expires soon",
    "connection pool exhausted",
    "p99 latency > 2 s",
    "pod crash loop",
    "timeout talking to upstream",
    "Verbindung abgelehnt",
    "応答なし",
    "dégradation des performances",
]
TIME_ZONES = [
    "Europe/Berlin",
    "Europe/Oslo",
    "Asia/Tokyo",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/Paris",
    "Etc/UTC",
    "America/Sao_Paulo",
    "Europe/Warsaw",
]
COLORS = ["purple", "red", "green", "blue", "teal", "orange", "brown", "cayenne", "forest-green"]
JOBS = ["SRE", "Backend Engineer", "Engineering Manager", "DBA", "Platform Engineer", "DevOps"]
NOTE_TEXTS = [
    "Looking into it.",
    "Rolled back the last deploy.",
    "Root cause: expired certificate 🔒.",
    "Failover to secondary done.",
    "Waiting on vendor — ticket #4821.",
    "Problem gelöst, Monitoring läuft weiter.",
    "原因調査中です。",
    "Restarted the pods.",
]


def ascii_fold(s: str) -> str:
    s = s.replace("ø", "o").replace("Ø", "O").replace("ł", "l").replace("Ł", "L")
    s = s.replace("ß", "ss").replace("æ", "ae").replace("å", "a")
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()


# --------------------------------------------------------------------------------------------
# Mutable records
# --------------------------------------------------------------------------------------------


class Inc:
    __slots__ = (
        "acache",
        "ack_count",
        "acks",
        "alert_ids",
        "assign_count",
        "assignees",
        "bridge",
        "cache",
        "changes",
        "created",
        "ep",
        "escalations",
        "first_ack",
        "first_le",
        "id",
        "idx",
        "key",
        "last_by",
        "last_change",
        "level",
        "major",
        "notes",
        "notified",
        "number",
        "priority",
        "rcache",
        "reassign_count",
        "resolved",
        "resolved_by",
        "service",
        "status",
        "title",
        "title0",
        "trig",
        "updated",
        "urgency",
    )

    idx: int  # position in World.incidents
    number: int
    id: str
    key: str
    service: int  # index in World.services
    ep: int  # index in World.eps
    created: int  # epoch seconds, as every time below
    updated: int
    last_change: int
    changes: list[int]  # when it changed (for the analytics lag)
    title: str
    title0: str
    status: str
    urgency: str
    priority: int | None  # index in World.priorities
    major: bool
    bridge: bool
    trig: str  # how it was triggered
    assignees: list[tuple[int, int]]  # (user index, since)
    acks: list[tuple[int, int]]  # (user index, at)
    notes: list[Note]
    resolved: int | None
    resolved_by: int | None  # user index; None: resolved automatically
    last_by: int  # agent of the last change (see the log entry layout)
    level: int  # escalation level
    first_ack: int | None
    ack_count: int
    assign_count: int
    reassign_count: int
    escalations: int
    notified: int
    alert_ids: list[str]
    first_le: str | None  # id of the trigger log entry
    # Rendered JSON, dropped on every change.
    cache: bytes | None
    acache: bytes | None
    rcache: bytes | None

    def __init__(self) -> None:
        self.cache = None
        self.acache = None
        self.rcache = None


@dataclass
class Note:
    id: str
    user: int
    content: str
    created: int
    updated: int


# Log entry tuple layout: (ts, id, inc_idx, kind, agent, extra)
#   agent: >=0 user index; -1 the incident's service; -2 the service's first integration
# Notification tuple layout: (ts, id, user_idx, cm_index_in_user, status)


# Changes that PagerDuty makes without writing a log entry.
SILENT_KINDS = frozenset({"priority", "title", "note_edit"})


class World:
    def __init__(
        self,
        seed: int = 1,
        incidents: int = 1000,
        days: int = 365,
        now: int = 0,
        users: int = 40,
        services: int = 12,
        bursts: tuple = (),
        silent_changes: int = 0,
        analytics_lag: int = 0,
    ) -> None:
        self.seed = seed
        # Changes per advance() that write no log entry (priority, title, note edit), spread
        # over incidents of any age and status.
        self.silent_changes = silent_changes
        # Seconds before a change shows in the analytics API (PagerDuty: up to about 24 h).
        self.analytics_lag = analytics_lag
        self.now = now
        self.start_now = now
        self.days = days
        self.base_rate = incidents / max(days, 1)  # incidents per day
        self.ids = IdGen(seed)
        self.rng = random.Random(seed)
        self.version = 0
        self.n_users = max(3, users)
        self.n_services = max(1, services)
        self._build_config()
        self.incidents: list[Inc] = []
        self.inc_created: list[int] = []
        self.inc_by_id: dict[str, Inc] = {}
        self.open: set[int] = set()
        self.log: list[tuple] = []
        self.log_ts: list[int] = []
        self.notifs: list[tuple] = []
        self.notif_ts: list[int] = []
        self.svc_last: dict[int, int] = {}
        # Name of an incident's type (the emulator's extras module gives some incidents others).
        self.incident_type_name = lambda inc: "incident_default"
        # initial incidents
        rng = random.Random(seed * 31 + 1)
        start = now - days * DAY
        times = [start + int(rng.random() * (days * DAY)) for _ in range(incidents)]
        for b_start, b_days, b_count in bursts:
            bs = parse_utc(b_start) if isinstance(b_start, str) else int(b_start)
            span = max(1, int(b_days * DAY))
            times.extend(
                t for t in (bs + int(rng.random() * span) for _ in range(b_count)) if t < now
            )
        times.sort()
        logs: list[tuple] = []
        notifs: list[tuple] = []
        self._spawn(times, now, rng, logs, notifs)
        self._commit(logs, notifs)
        self._build_audit(now - min(days, 365) * DAY, now, random.Random(seed * 41 + 3))
        self._build_change_events(now - 90 * DAY, now, random.Random(seed * 43 + 5))
        self._build_maintenance(random.Random(seed * 47 + 7))

    # ----------------------------------------------------------------------------------------
    # configuration objects
    # ----------------------------------------------------------------------------------------
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

    # ----------------------------------------------------------------------------------------
    # on-call
    # ----------------------------------------------------------------------------------------
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

    # ----------------------------------------------------------------------------------------
    # incidents and their timelines
    # ----------------------------------------------------------------------------------------
    def _new_incident(self, t0: int, rng: random.Random) -> Inc:
        inc = Inc()
        inc.idx = len(self.incidents)
        inc.number = inc.idx + 1
        inc.id = self.ids.next()
        svc = rng.randrange(len(self.services))
        inc.service = svc
        inc.ep = self.services[svc]["ep"]
        inc.created = inc.updated = inc.last_change = t0
        inc.title = inc.title0 = f"{self.services[svc]['name']}: {rng.choice(SYMPTOMS)}"
        inc.changes = []
        inc.key = f"{rng.getrandbits(128):032x}"
        inc.status = "triggered"
        inc.urgency = "high" if rng.random() < 0.7 else "low"
        r = rng.random()
        inc.priority = None if r < 0.35 else min(4, int((r - 0.35) / 0.13))
        inc.assignees = []
        inc.acks = []
        inc.notes = []
        inc.resolved = None
        inc.resolved_by = None
        inc.last_by = -1
        inc.level = 0
        inc.first_ack = None
        inc.ack_count = inc.assign_count = inc.reassign_count = inc.escalations = 0
        inc.notified = 0
        inc.major = inc.priority is not None and inc.priority <= 1
        inc.bridge = rng.random() < 0.15
        n_alerts = 1 if rng.random() < 0.7 else rng.randint(2, 4)
        inc.alert_ids = [self.ids.next() for _ in range(n_alerts)]
        inc.first_le = None
        self.incidents.append(inc)
        self.inc_created.append(t0)
        self.inc_by_id[inc.id] = inc
        self.open.add(inc.idx)
        self.svc_last[svc] = max(self.svc_last.get(svc, 0), t0)
        return inc

    def _timeline(self, inc: Inc, rng: random.Random) -> list[tuple]:
        """Planned events (ts, kind, arg) after the trigger; may extend beyond now."""
        t0 = inc.created
        ev: list[tuple[int, str, Any]] = []
        stuck = rng.random() < 0.03
        ack_at = t0 + int(rng.expovariate(1 / 600)) + 30 if rng.random() < 0.85 else None
        esc_delay = self.eps[inc.ep]["rules"][0]["delay"] * 60
        if (ack_at is None or ack_at > t0 + esc_delay) and len(self.eps[inc.ep]["rules"]) > 1:
            ev.append((t0 + esc_delay, "escalate", None))
        if ack_at is not None:
            ev.append((ack_at, "ack", None))
        base = ack_at or t0
        if stuck:
            res_at = t0 + rng.randint(20, 120) * DAY
        else:
            res_at = base + int(rng.expovariate(1 / 5400)) + 60
        if rng.random() < 0.1:
            ev.append(
                (
                    t0 + rng.randint(60, max(61, res_at - t0 - 1)),
                    "reassign",
                    rng.randrange(self.n_users),
                )
            )
        if rng.random() < 0.18:
            note_at = t0 + rng.randint(60, max(61, res_at - t0 - 1))
            ev.append((note_at, "note", rng.choice(NOTE_TEXTS)))
            if rng.random() < 0.3 and res_at - note_at > 120:
                ev.append((note_at + rng.randint(30, res_at - note_at - 60), "note_edit", 0))
        if rng.random() < 0.08:
            ev.append(
                (
                    t0 + rng.randint(30, max(31, res_at - t0 - 1)),
                    "priority",
                    rng.choice([0, 1, 2, 3, 4, None]),
                )
            )
        ev.append((res_at, "resolve", "auto" if rng.random() < 0.1 else None))
        ev.sort(key=lambda e: e[0])
        return ev

    def _spawn(self, times: list[int], horizon: int, rng: random.Random, logs, notifs) -> None:
        """Create incidents at ``times`` (sorted) and apply their events up to ``horizon``."""
        for t0 in times:
            inc = self._new_incident(t0, rng)
            self._apply(inc, t0, "trigger", None, rng, logs, notifs)
            for ts, kind, arg in self._timeline(inc, rng):
                if ts >= horizon or inc.status == "resolved":
                    break
                self._apply(inc, ts, kind, arg, rng, logs, notifs)

    def _commit(self, logs: list[tuple], notifs: list[tuple]) -> None:
        logs.sort(key=lambda e: (e[0], e[1]))
        notifs.sort(key=lambda e: (e[0], e[1]))
        self.log.extend(logs)
        self.log_ts.extend(e[0] for e in logs)
        self.notifs.extend(notifs)
        self.notif_ts.extend(e[0] for e in notifs)

    def _notify(self, inc: Inc, ts: int, user: int, rng, logs, notifs) -> None:
        u = self.users[user]
        rules = [r for r in u["rules"] if r["urgency"] == inc.urgency and r["delay"] == 0]
        for r in rules:
            nts = ts
            status = "success" if rng.random() < 0.95 else "failed"
            notifs.append((nts, self.ids.next(), user, r["cm"], status))
            logs.append((nts, self.ids.next(), inc.idx, "notify", -1, (user, r["cm"])))
            inc.notified += 1

    def _apply(self, inc: Inc, ts: int, kind: str, arg, rng, logs, notifs) -> None:
        """One event of an incident's life: its state changes, its log entries and
        notifications are added to `logs` and `notifs`."""
        nid = self.ids.next
        if kind == "trigger":
            self._trigger(inc, ts, rng, logs, notifs)
        elif kind == "escalate":
            self._escalate(inc, ts, rng, logs, notifs)
        elif kind == "reassign":
            self._reassign(inc, ts, arg, rng, logs, notifs)
        elif kind == "ack":
            user = inc.assignees[0][0] if inc.assignees else 0
            inc.status = "acknowledged"
            inc.acks = [(user, ts)]
            inc.ack_count += 1
            if inc.first_ack is None:
                inc.first_ack = ts
            inc.last_change = ts
            inc.last_by = user
            logs.append((ts, nid(), inc.idx, "acknowledge", user, None))
        elif kind == "note":
            user = inc.assignees[0][0] if inc.assignees else rng.randrange(self.n_users)
            inc.notes.append(Note(nid(), user, arg, ts, ts))
            logs.append((ts, nid(), inc.idx, "annotate", user, ("note", arg)))
        elif kind == "note_edit" and inc.notes:
            note = inc.notes[arg % len(inc.notes)]
            note.content = note.content + " (edited)"
            note.updated = ts
        elif kind == "priority":  # silent: PagerDuty writes no log entry for it
            inc.priority = arg
            inc.major = inc.major or (arg is not None and arg <= 1)
        elif kind == "title":  # silent
            inc.title = f"{inc.title0} ({arg})"
        elif kind == "urgency":
            user = inc.assignees[0][0] if inc.assignees else 0
            inc.urgency = arg
            logs.append((ts, nid(), inc.idx, "urgency_change", user, arg))
        elif kind == "resolve":
            self._resolve(inc, ts, arg, logs)
        inc.updated = ts
        inc.changes.append(ts)
        inc.cache = None
        inc.acache = None
        inc.rcache = None

    def _trigger(self, inc: Inc, ts: int, rng: random.Random, logs: list, notifs: list) -> None:
        nid = self.ids.next
        user = self.level_user(inc.ep, 0, ts)
        le = nid()
        inc.first_le = le
        inc.trig = rng.choice(["api", "email", "web_trigger"])
        if inc.trig == "web_trigger":  # created by hand in the web app: no alert behind it
            inc.alert_ids = []
        logs.append((ts, le, inc.idx, "trigger", -2, inc.trig))
        inc.assignees = [(user, ts)]
        inc.assign_count += 1
        logs.append((ts, nid(), inc.idx, "assign", -1, user))
        self._notify(inc, ts, user, rng, logs, notifs)
        inc.last_by = -1

    def _escalate(self, inc: Inc, ts: int, rng: random.Random, logs: list, notifs: list) -> None:
        nid = self.ids.next
        inc.level += 1
        user = self.level_user(inc.ep, inc.level, ts)
        inc.assignees = [(user, ts)]
        inc.escalations += 1
        inc.assign_count += 1
        if inc.status == "acknowledged":
            inc.status = "triggered"
            inc.acks = []
            inc.last_change = ts
            inc.last_by = -1
        logs.append((ts, nid(), inc.idx, "escalate", -1, user))
        self._notify(inc, ts, user, rng, logs, notifs)

    def _reassign(
        self, inc: Inc, ts: int, user: int, rng: random.Random, logs: list, notifs: list
    ) -> None:
        nid = self.ids.next
        by = inc.assignees[0][0] if inc.assignees else 0
        inc.assignees = [(user, ts)]
        inc.reassign_count += 1
        inc.assign_count += 1
        logs.append((ts, nid(), inc.idx, "assign", by, user))
        self._notify(inc, ts, user, rng, logs, notifs)

    def _resolve(self, inc: Inc, ts: int, arg: str | None, logs: list) -> None:
        nid = self.ids.next
        user = inc.assignees[0][0] if inc.assignees else 0
        inc.status = "resolved"
        inc.resolved = ts
        inc.resolved_by = None if arg == "auto" else user
        inc.last_by = -1 if arg == "auto" else user
        inc.last_change = ts
        inc.assignees = []
        inc.acks = []
        self.open.discard(inc.idx)
        logs.append((ts, nid(), inc.idx, "resolve", inc.last_by, arg or "web_ui"))

    # ----------------------------------------------------------------------------------------
    # advance
    # ----------------------------------------------------------------------------------------
    def advance(self, hours: float) -> None:
        """Move the clock `hours` ahead: open incidents change, new ones are created, audit
        records and change events are written (one seeded draw order per start time)."""
        old = self.now
        new = old + int(hours * HOUR)
        if new <= old:
            return
        rng = random.Random(self.seed * 1_000_003 + old)
        # 1. changes to existing open incidents (some created weeks ago)
        logs: list[tuple] = []
        notifs: list[tuple] = []
        span = new - old
        events = self._planned_changes(old, span, hours, rng)
        silent = self._silent_events(old, span, rng)
        self._apply_changes(
            sorted([*events, *silent], key=lambda e: (e[0], e[1])), rng, logs, notifs
        )
        # 2. new incidents created within (old, new]
        expected = self.base_rate * hours / 24
        count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        count = max(count, 1)
        times = sorted(old + 1 + rng.randrange(span) for _ in range(count))
        self._spawn(times, new, rng, logs, notifs)
        self._commit(logs, notifs)
        # 3. audit records and change events
        self._build_audit(old, new, rng)
        self._build_change_events(old, new, rng)
        self.now = new
        self.version += 1

    def _planned_changes(
        self, old: int, span: int, hours: float, rng: random.Random
    ) -> list[tuple[int, int, str, Any]]:
        """(time, incident index, kind, argument) of the changes to open incidents."""
        events = []
        open_ids = sorted(self.open)
        frac = min(0.9, 0.25 + 0.25 * hours / 24)
        chosen = [i for i in open_ids if rng.random() < frac]
        old_open = [i for i in open_ids if self.incidents[i].created < old - 7 * DAY]
        for i in old_open[: min(3, len(old_open))]:
            if i not in chosen:
                chosen.append(i)
        for i in chosen:
            inc = self.incidents[i]
            n = 1 if rng.random() < 0.7 else 2
            status = inc.status
            for _ in range(n):
                ts = old + 1 + rng.randrange(span)
                r = rng.random()
                if status == "resolved":
                    break
                kind = _next_change(status, r)
                if kind == "ack":
                    status = "acknowledged"
                elif kind == "resolve":
                    status = "resolved"
                arg = {  # every draw is made, whatever the kind: the draw order stays fixed
                    "reassign": rng.randrange(self.n_users),
                    "priority": rng.choice([0, 1, 2, 3, None]),
                    "urgency": "low" if inc.urgency == "high" else "high",
                    "note": rng.choice(NOTE_TEXTS),
                }.get(kind)
                events.append((ts, i, kind, arg))
            if inc.notes and rng.random() < 0.4:
                events.append((old + 1 + rng.randrange(span), i, "note_edit", rng.randrange(100)))
        events.sort(key=lambda e: (e[0], e[1]))
        return events

    def _apply_changes(
        self, events: list[tuple], rng: random.Random, logs: list, notifs: list
    ) -> None:
        """Apply planned changes in time order; a change to an incident resolved meanwhile is
        dropped, an escalation past the last level becomes a reassignment."""
        for ts, i, kind, arg in events:
            inc = self.incidents[i]
            if kind in SILENT_KINDS:
                self._apply(inc, ts, kind, arg, rng, logs, notifs)
                continue
            if inc.status == "resolved" or (
                kind == "escalate" and inc.level + 1 >= len(self.eps[inc.ep]["rules"])
            ):
                if kind == "escalate" and inc.status != "resolved":
                    self._apply(inc, ts, "reassign", rng.randrange(self.n_users), rng, logs, notifs)
                continue
            self._apply(inc, ts, kind, arg, rng, logs, notifs)

    def _silent_events(self, old: int, span: int, rng: random.Random) -> list[tuple]:
        """`silent_changes` changes that write no log entry, on random incidents (open or
        resolved, old or new): a priority change, a title edit or a note edit."""
        if not self.incidents:
            return []
        events = []
        for _ in range(self.silent_changes):
            i = rng.randrange(len(self.incidents))
            kind = rng.choice(["priority", "title", "note_edit"])
            if kind == "note_edit" and not self.incidents[i].notes:
                kind = "title"
            arg = {
                "priority": rng.choice([0, 1, 2, 3, 4, None]),
                "title": f"edited {rng.randrange(10_000)}",
                "note_edit": rng.randrange(100),
            }[kind]
            events.append((old + 1 + rng.randrange(span), i, kind, arg))
        return events

    def analytics_updated(self, inc: Inc) -> int | None:
        """The `updated_at` the analytics API shows: changes reach it `analytics_lag` late;
        None while the incident itself has not reached it."""
        if not self.analytics_lag:
            return inc.updated
        visible = self.now - self.analytics_lag
        if inc.created > visible:
            return None
        k = bisect.bisect_right(inc.changes, visible)
        return inc.changes[k - 1] if k else inc.created

    # ----------------------------------------------------------------------------------------
    # audit records, change events, maintenance windows
    # ----------------------------------------------------------------------------------------
    def _build_audit(self, start: int, end: int, rng: random.Random) -> None:
        if not hasattr(self, "audit"):
            # (ts_ms, id, root kind, root idx, action, actor user, field)
            self.audit: list[tuple[Any, ...]] = []
        n = max(1, int((end - start) / DAY * 3))
        kinds = [
            ("user", len(self.users)),
            ("team", len(self.teams)),
            ("service", len(self.services)),
            ("escalation_policy", len(self.eps)),
            ("schedule", len(self.schedules)),
        ]
        new = []
        for _ in range(n):
            ts_ms = start * 1000 + 1 + rng.randrange((end - start) * 1000)
            kind, cnt = rng.choice(kinds)
            new.append(
                (
                    ts_ms,
                    self.ids.next(),
                    kind,
                    rng.randrange(cnt),
                    rng.choice(["create", "update", "update", "update", "delete"]),
                    rng.randrange(len(self.users)),
                    rng.choice(["name", "description", "time_zone", "email"]),
                )
            )
        new.sort()
        self.audit.extend(new)
        self.audit_ts = [a[0] for a in self.audit]

    def _build_change_events(self, start: int, end: int, rng: random.Random) -> None:
        if not hasattr(self, "changes"):
            self.changes: list[tuple[Any, ...]] = []  # (ts, id, service idx, build number)
        n = max(1, int((end - start) / DAY * 4))
        new = sorted(
            (
                start + 1 + rng.randrange(end - start),
                self.ids.next(),
                rng.randrange(len(self.services)),
                rng.randrange(1, 99999),
            )
            for _ in range(n)
        )
        self.changes.extend(new)
        self.change_ts = [c[0] for c in self.changes]

    def _build_maintenance(self, rng: random.Random) -> None:
        self.maintenance: list[Row] = []
        seq = 1
        for i in range(len(self.services)):
            for k in range(2):
                if k == 0:
                    st = self.now - rng.randrange(2, max(3, self.days)) * DAY
                else:
                    st = self.now + rng.choice([-1, 1]) * rng.randrange(1, 20) * HOUR
                self.maintenance.append(
                    {
                        "id": self.ids.next(),
                        "seq": seq,
                        "start": st,
                        "end": st + rng.choice([1, 2, 4, 48]) * HOUR,
                        "desc": rng.choice(
                            [
                                "Database upgrade",
                                "Kernel patching — Wartungsfenster",
                                "Network maintenance",
                                "定期メンテナンス",
                            ]
                        ),
                        "by": rng.randrange(len(self.users)),
                        "services": [i],
                        "teams": self.services[i]["teams"],
                    }
                )
                seq += 1
        self.maintenance.sort(key=lambda m: (m["start"], m["id"]))

    # helpers
    def inc_range(self, since: int | None, until: int | None) -> range:
        lo = 0 if since is None else bisect.bisect_left(self.inc_created, since)
        hi = len(self.inc_created) if until is None else bisect.bisect_left(self.inc_created, until)
        return range(lo, max(lo, hi))


def _next_change(status: str, draw: float) -> str:
    """What happens next to an open incident, for a uniform `draw` in [0, 1)."""
    if status == "triggered":
        steps = [(0.4, "ack"), (0.55, "escalate"), (0.65, "reassign"), (0.75, "priority")]
        steps += [(0.8, "urgency")]
        last = "resolve"
    else:
        steps = [(0.45, "resolve"), (0.6, "reassign"), (0.7, "escalate"), (0.85, "priority")]
        last = "note"
    return next((kind for bound, kind in steps if draw < bound), last)

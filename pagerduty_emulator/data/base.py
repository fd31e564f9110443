# ruff: noqa: RUF001
"""Deterministic synthetic PagerDuty account ("world") for the emulator.

Everything is generated from the seed and the sizes.  Storage is compact: incidents are
small ``__slots__`` objects kept in created_at order; log entries and notifications are
tuples in global time-sorted lists (bisect for range queries).  JSON is rendered on demand
and cached (see ``render/``).
"""

from __future__ import annotations

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


class WorldBase:
    """Set by `World.__init__` and its parts: the account, its incidents and their history."""

    seed: int
    silent_changes: int
    analytics_lag: int
    now: int
    start_now: int
    days: int
    base_rate: float
    ids: IdGen
    rng: random.Random
    version: int
    n_users: int
    n_services: int
    users: list[Row]
    teams: list[Row]
    schedules: list[Row]
    eps: list[Row]
    vendors: list[Row]
    services: list[Row]
    integrations: list[Row]
    priorities: list[Row]
    tags: list[Row]
    business_services: list[Row]
    addons: list[Row]
    extensions: list[Row]
    workflows: list[Row]
    orchestrations: list[Row]
    webhooks: list[Row]
    dashboards: list[Row]
    rulesets: list[Row]
    abilities: list[str]
    user_by_id: dict[str, int]
    incidents: list[Inc]
    inc_created: list[int]
    inc_by_id: dict[str, Inc]
    open: set[int]
    log: list[tuple]
    log_ts: list[int]
    notifs: list[tuple]
    notif_ts: list[int]
    svc_last: dict[int, int]
    incident_type_name: Callable[[Inc], str]
    audit: list[tuple[Any, ...]]
    audit_ts: list[int]
    changes: list[tuple[Any, ...]]
    change_ts: list[int]
    maintenance: list[Row]

    # Used across parts (defined by the part named).
    def level_user(self, ep: int, level: int, t: int) -> int:  # AccountData
        raise NotImplementedError

    def _build_audit(self, start: int, end: int, rng: random.Random) -> None:  # FeedData
        raise NotImplementedError

    def _build_change_events(self, start: int, end: int, rng: random.Random) -> None:  # FeedData
        raise NotImplementedError

"""More of the emulated account: incident types and custom fields (definitions and values on
incidents and services), schedule overrides and schedule users, licenses and allocations,
aggregated analytics metrics, and scoped OAuth app tokens (client credentials).

Everything is derived from the world's seed. IDs come from the world's ID permutation at
counters far above the ones the world uses, so they never collide with other records and
adding this module changed no existing ID. Records carry only fields of PagerDuty's spec.
"""

from __future__ import annotations

import bisect
import calendar
import hashlib
import json
import re
import secrets
import threading
import time
import typing as t
from urllib.parse import parse_qs

from tap_pagerduty import spec_table

from .data import DAY, HOUR, IdGen, iso
from .render import API, WEB, dumpb

if t.TYPE_CHECKING:
    from .http import Query
    from .server import Emulator

EXTRA_ID_BASE = 1_000_000_000
CREATED = "2024-03-01T09:00:00Z"

INCIDENT_TYPES = [  # (name, display name, parent index or None, enabled, description)
    ("incident_default", "Base Incident", None, True, None),
    ("security_incident", "Security Incident", 0, True, "Breaches, leaks, CVEs"),
    ("fraud_incident", "Fraud", 0, False, "Payment fraud — Betrug"),
]
# Field definitions: (name, display name, data type, field type, options, default)
# The base type has no fields here, so most incidents need no value request.
INCIDENT_FIELDS: dict[int, list[tuple[t.Any, ...]]] = {
    1: [
        (
            "environment",
            "Runtime Environment",
            "string",
            "single_value_fixed",
            ["production", "staging", "développement"],
            None,
        ),
        ("impact_score", "Impact score", "integer", "single_value", None, 0),
        ("cve_links", "CVE links", "url", "multi_value", None, None),
    ],
    2: [
        ("amount_eur", "Amount (€)", "integer", "single_value", None, None),
    ],
}
SERVICE_FIELDS = [
    ("tier", "Service tier", "string", "single_value_fixed", ["tier-1", "tier-2", "tier-3"], None),
    ("cost_center", "Cost center", "integer", "single_value", None, None),
    ("owners", "Owners (E-Mail)", "string", "multi_value", None, None),
]
LICENSES = [  # (name, role group, valid roles, allocations available)
    ("Full User", "FullUser", ["owner", "admin", "user", "limited_user"], 50),
    ("Stakeholder", "Stakeholder", ["observer", "read_only_user"], None),
    ("Full User — AIOps", "FullUser", ["owner", "admin", "user"], 10),
]
TOKEN_PATH = "/oauth/token"
METRICS_PATHS = {
    "/analytics/metrics/incidents/services": "service",
    "/analytics/metrics/incidents/teams": "team",
    "/analytics/metrics/incidents/escalation_policies": "escalation_policy",
    "/analytics/metrics/responders/all": "responder",
}
POST_PATHS = {TOKEN_PATH, *METRICS_PATHS}


def _draw(*parts: object) -> int:
    """A stable pseudo-random number for a record part (independent of generation order)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Extras:
    """State and handlers of the extra endpoints; `Emulator` calls it from a few hooks."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.world = emulator.world
        self.seed = emulator.seed
        ids = IdGen(self.seed)
        ids.n = EXTRA_ID_BASE
        self.nid = ids.next
        #: Switch definitions off to check that the tap then reads no values at all.
        self.incident_fields_defined = True
        #: Refuse override ranges longer than this many days (None: any range).
        self.overrides_max_days: int | None = None
        self.edited: dict[tuple, object] = {}  # (record id, field id) -> value after an edit
        self.service_fields_defined = True
        self._build_types()
        self._build_overrides()
        self._build_licenses()
        # OAuth: client id -> (secret, scopes the app was granted); issued tokens.
        self.oauth_clients: dict[str, tuple[str, set[str]]] = {}
        self.oauth_account = "as_account-us.emulator"
        self.oauth_ttl = 3600.0
        #: If set, the lifetime the token answer claims (a token that dies earlier than said).
        self.oauth_claimed_ttl: float | None = None
        self.oauth_tokens: dict[str, tuple[float, set[str]]] = {}
        self.oauth_issued = 0
        self.oauth_lock = threading.Lock()

    # ------------------------------------------------------------------ incident types, fields
    def _build_types(self) -> None:
        self.types: list[dict[str, t.Any]] = []
        for name, display, parent, enabled, desc in INCIDENT_TYPES:
            self.types.append(
                {
                    "id": self.nid(),
                    "name": name,
                    "display": display,
                    "parent": parent,
                    "enabled": enabled,
                    "description": desc,
                }
            )
        self.incident_fields: dict[int, list[dict]] = {}
        for k in range(len(self.types)):
            self.incident_fields[k] = [self._field(spec, k) for spec in INCIDENT_FIELDS.get(k, [])]
        self.service_fields = [self._field(spec, None) for spec in SERVICE_FIELDS]

    def _field(self, spec: tuple, type_index: int | None) -> dict:
        name, display, data_type, field_type, options, default = spec
        return {
            "id": self.nid(),
            "name": name,
            "display_name": display,
            "data_type": data_type,
            "field_type": field_type,
            "default": default,
            "type_index": type_index,
            "options": [(self.nid(), value) for value in options or []],
        }

    def incident_type_of(self, inc) -> int:
        """Every incident is of the base type except a deterministic few."""
        draw = _draw(self.seed, "type", inc.id) % 10
        return 1 if draw == 0 else 2 if draw == 1 else 0

    def incident_type_name(self, inc) -> str:
        return self.types[self.incident_type_of(inc)]["name"]

    def type_fields(self, k: int) -> list[dict]:
        """Fields on type `k` and its parents (a child type inherits its parent's fields)."""
        if not self.incident_fields_defined:
            return []
        out: list[dict] = []
        while k is not None:
            out = self.incident_fields[k] + out
            k = self.types[k]["parent"]
        return out

    def render_type(self, k: int) -> dict:
        kind = self.types[k]
        parent = kind["parent"]
        return {
            "id": kind["id"],
            "type": "incident_type",
            "name": kind["name"],
            "display_name": kind["display"],
            "description": kind["description"],
            "enabled": kind["enabled"],
            "created_at": CREATED,
            "updated_at": CREATED,
            "parent": None
            if parent is None
            else {"id": self.types[parent]["id"], "type": "incident_type_reference"},
        }

    def render_field(self, field: dict, with_options: bool) -> dict:
        k = field["type_index"]
        base = (
            f"{API}/services/custom_fields/{field['id']}"
            if k is None
            else f"{API}/incidents/types/{self.types[k]['id']}/custom_fields/{field['id']}"
        )
        out = {
            "id": field["id"],
            "type": "field",
            "name": field["name"],
            "display_name": field["display_name"],
            "summary": field["display_name"],
            "self": base,
            "description": f"{field['display_name']} of the record",
            "data_type": field["data_type"],
            "field_type": field["field_type"],
            "default_value": field["default"],
            "enabled": True,
            "created_at": CREATED,
            "updated_at": CREATED,
        }
        if k is not None:
            out["incident_type"] = self.types[k]["id"]
        if with_options and field["field_type"].endswith("_fixed"):
            out["field_options"] = [
                {
                    "id": oid,
                    "type": "field_option",
                    "created_at": CREATED,
                    "updated_at": CREATED,
                    "data": {"value": value, "data_type": "string"},
                }
                for oid, value in field["options"]
            ]
        return out

    def after_advance(self, old: int) -> None:
        """Some incidents with fields, created in the last 60 days, had a value edited in
        (old, now): each edit writes a `custom_field_value_change_log_entry` (PagerDuty's log
        entry type for it), inserted in time order."""
        w = self.world
        now = w.now
        if now - old < 2:
            return
        edited = 0
        for i in w.inc_range(now - 60 * DAY, now):
            inc = w.incidents[i]
            fields = self.type_fields(self.incident_type_of(inc))
            if inc.created >= now - 2 or not fields or edited >= 3:
                continue
            if _draw(self.seed, "edit", inc.id, now) % 4:
                continue
            field = fields[_draw(self.seed, "which", inc.id, now) % len(fields)]
            self.edited[(inc.id, field["id"])] = self.value_of(field, inc.id, now)
            ts = max(inc.created, old) + 1
            ts += _draw(self.seed, "when", inc.id, now) % max(1, now - ts)
            entry = (ts, self.nid(), inc.idx, "custom_field_value_change", 0, field["id"])
            at = bisect.bisect_right(w.log, (ts, entry[1]), key=lambda e: (e[0], e[1]))
            w.log.insert(at, entry)
            w.log_ts.insert(at, ts)
            edited += 1
        self.emu.r.le_cache.clear()  # rendered log entries are cached by position
        w.version += 1

    def value_of(self, field: dict, *key: object) -> object:
        """The value a field holds on one record (None for some)."""
        if len(key) == 1 and (key[0], field["id"]) in self.edited:
            return self.edited[(key[0], field["id"])]
        draw = _draw(self.seed, field["id"], *key)
        if draw % 5 == 0:
            return None
        data_type, field_type = field["data_type"], field["field_type"]
        if field["options"]:
            return field["options"][draw % len(field["options"])][1]
        if data_type == "integer":
            return draw % 1000
        if data_type == "url":
            return [f"https://cve.example.org/CVE-2026-{draw % 9000 + 1000}"]
        if field_type == "multi_value":
            return sorted({f"owner{draw % 7}@example.com", f"owner{draw % 3}@example.com"})
        return f"value {draw % 97}"

    def render_value(self, field: dict, value: object) -> dict:
        return {
            "id": field["id"],
            "type": "field_value",
            "name": field["name"],
            "display_name": field["display_name"],
            "description": f"{field['display_name']} of the record",
            "data_type": field["data_type"],
            "field_type": field["field_type"],
            "value": value,
        }

    def incident_values(self, inc) -> list[dict]:
        fields = self.type_fields(self.incident_type_of(inc))
        return [self.render_value(f, self.value_of(f, inc.id)) for f in fields]

    def service_values(self, index: int) -> list[dict]:
        if not self.service_fields_defined:
            return []
        sid = self.world.services[index]["id"]
        return [self.render_value(f, self.value_of(f, sid)) for f in self.service_fields]

    # ------------------------------------------------------------------ overrides, licenses
    def _build_overrides(self) -> None:
        w = self.world
        self.overrides: list[list[dict]] = []
        first, last = w.now - w.days * DAY, w.now + 120 * DAY
        for k, sched in enumerate(w.schedules):
            rows = []
            for n in range(6 + k % 4):
                draw = _draw(self.seed, "override", sched["id"], n)
                start = first + draw % (last - first) // HOUR * HOUR
                rows.append(
                    {
                        "id": self.nid(),
                        "start": start,
                        "end": start + (2 + draw % 70) * HOUR,
                        "user": draw % len(w.users),
                    }
                )
            rows.sort(key=lambda o: (o["start"], o["id"]))
            self.overrides.append(rows)

    def _build_licenses(self) -> None:
        self.licenses: list[dict[str, t.Any]] = [
            {"id": self.nid(), "name": name, "group": group, "roles": roles, "available": avail}
            for name, group, roles, avail in LICENSES
        ]
        w = self.world
        self.allocations = []
        for i, user in enumerate(w.users):
            k = 1 if user["role"] == "observer" else (2 if i % 9 == 4 else 0)
            at = w.now - w.days * DAY - (1 + _draw(self.seed, "lic", user["id"]) % 300) * DAY
            self.allocations.append((i, k, at))

    def render_license(self, k: int) -> dict:
        lic = self.licenses[k]
        used = sum(1 for _, j, _ in self.allocations if j == k)
        return {
            "id": lic["id"],
            "type": "license",
            "name": lic["name"],
            "summary": lic["name"],
            "description": f"{lic['name']} seats",
            "valid_roles": lic["roles"],
            "role_group": lic["group"],
            "self": f"{API}/licenses/{lic['id']}",
            "html_url": f"{WEB}/account/licenses/{lic['id']}",
            "current_value": used,
            "allocations_available": None if lic["available"] is None else lic["available"] - used,
        }

    def render_allocation(self, allocation: tuple) -> dict:
        user, k, at = allocation
        lic = self.render_license(k)
        del lic["current_value"], lic["allocations_available"]
        return {
            "user": self.emu.r.user_ref[user],
            "license": lic,
            "allocated_at": iso(at),
        }

    def overrides_in(self, k: int, since: int, until: int, overflow: bool) -> list[dict]:
        out = []
        for o in self.overrides[k]:
            if o["start"] < until and o["end"] > since:
                start, end = o["start"], o["end"]
                if not overflow:
                    start, end = max(start, since), min(end, until)
                out.append(
                    {
                        "id": o["id"],
                        "start": iso(start),
                        "end": iso(end),
                        "user": self.emu.r.user_ref[o["user"]],
                    }
                )
        return out

    def schedule_users_in(self, k: int, since: int, until: int) -> list[dict]:
        """Users with a rotation turn overlapping [since, until), in first-turn order."""
        sched = self.world.schedules[k]
        turn, start = sched["turn"], sched["vstart"]
        first = (since - start) // turn
        last = (until - 1 - start) // turn
        seen: dict[int, None] = {}
        for n in range(first, min(last, first + len(sched["users"]) - 1) + 1):
            seen.setdefault(sched["users"][n % len(sched["users"])])
        users = self.emu.r.config("users")
        return [json.loads(users[u]) for u in seen]

    # ------------------------------------------------------------------ routes
    def add_routes(self, simple: dict, patterns: list) -> None:
        simple.update(
            {
                "/incidents/types": self.h_types,
                "/incidents/custom_fields": self.h_base_fields,
                "/services/custom_fields": self.h_service_fields,
                "/licenses": self.h_licenses,
                "/license_allocations": self.h_allocations,
                **{path: self._metrics_handler(path) for path in METRICS_PATHS},
            }
        )
        patterns[:0] = [
            (re.compile(r"^/incidents/types/([^/]+)/custom_fields$"), self.h_type_fields),
            (re.compile(r"^/incidents/([^/]+)/custom_fields/values$"), self.h_incident_values),
            (re.compile(r"^/services/([^/]+)/custom_fields/values$"), self.h_service_values),
            (re.compile(r"^/schedules/([^/]+)/overrides$"), self.h_overrides),
            (re.compile(r"^/schedules/([^/]+)/users$"), self.h_schedule_users),
        ]

    def _metrics_handler(self, path: str):
        return lambda q, body: self.h_metrics(path, body)

    def h_types(self, q: Query):
        f = q.get("filter", "enabled")
        if f not in ("enabled", "disabled", "all"):
            raise self._bad("filter must be enabled, disabled or all.")
        kinds = [
            self.render_type(k)
            for k, kind in enumerate(self.types)
            if f == "all" or kind["enabled"] == (f == "enabled")
        ]
        return 200, dumpb({"incident_types": kinds})

    def _type_index(self, key: str) -> int:
        for k, kind in enumerate(self.types):
            if key in (kind["id"], kind["name"]):
                return k
        raise self._not_found()

    def h_type_fields(self, q: Query, key: str):
        k = self._type_index(key)
        options = "field_options" in q.list("include")
        fields = self.incident_fields[k] if self.incident_fields_defined else []
        return 200, dumpb({"fields": [self.render_field(f, options) for f in fields]})

    def h_base_fields(self, q: Query):
        return self.h_type_fields(q, self.types[0]["id"])

    def h_service_fields(self, q: Query):
        options = "field_options" in q.list("include")
        fields = self.service_fields if self.service_fields_defined else []
        return 200, dumpb({"fields": [self.render_field(f, options) for f in fields]})

    def h_incident_values(self, q: Query, iid: str):
        inc = self.world.inc_by_id.get(iid)
        if inc is None:
            raise self._not_found()
        return 200, dumpb({"custom_fields": self.incident_values(inc)})

    def h_service_values(self, q: Query, sid: str):
        return 200, dumpb({"custom_fields": self.service_values(self._service(sid))})

    def _service(self, sid: str) -> int:
        for i, svc in enumerate(self.world.services):
            if svc["id"] == sid:
                return i
        raise self._not_found()

    def _schedule(self, sid: str) -> int:
        for k, sched in enumerate(self.world.schedules):
            if sched["id"] == sid:
                return k
        raise self._not_found()

    def h_overrides(self, q: Query, sid: str):
        k = self._schedule(sid)
        since, until = self.emu._required_range(q)
        if until < since:
            raise self._bad("until must not be before since.")
        if self.overrides_max_days and until - since > self.overrides_max_days * DAY:
            raise self._bad(f"The range may not exceed {self.overrides_max_days} days.")
        overflow = q.get("overflow") == "true"
        return 200, dumpb({"overrides": self.overrides_in(k, since, until, overflow)})

    def h_schedule_users(self, q: Query, sid: str):
        k = self._schedule(sid)
        since, until = self.emu._range(q, self.emu._tz(q))
        now = self.world.now
        since = now if since is None else since
        until = since + 1 if until is None else max(until, since + 1)
        return 200, dumpb({"users": self.schedule_users_in(k, since, until)})

    def h_licenses(self, q: Query):
        return 200, dumpb({"licenses": [self.render_license(k) for k in range(len(self.licenses))]})

    def h_allocations(self, q: Query):
        rows = [dumpb(self.render_allocation(a)) for a in self.allocations]
        return self.emu._classic(q, "license_allocations", rows, lambda b: b)

    # ------------------------------------------------------------------ ground truth
    def truth(self, stream: str, since: int | None, until: int | None) -> list[dict] | None:
        """Ground truth of the extra streams (None: not one of them)."""
        w = self.world
        if stream == "incident_types":
            return [self.render_type(k) for k in range(len(self.types))]
        if stream == "incident_custom_fields":
            return [
                dict(self.render_field(f, True), incident_type_id=self.types[k]["id"])
                for k in range(len(self.types))
                for f in (self.incident_fields[k] if self.incident_fields_defined else [])
            ]
        if stream == "service_custom_fields":
            fields = self.service_fields if self.service_fields_defined else []
            return [self.render_field(f, True) for f in fields]
        if stream == "incident_custom_field_values":
            return [
                dict(v, incident_id=w.incidents[i].id)
                for i in w.inc_range(since, until)
                for v in self.incident_values(w.incidents[i])
            ]
        if stream == "service_custom_field_values":
            return [
                dict(v, service_id=w.services[i]["id"])
                for i in range(len(w.services))
                for v in self.service_values(i)
            ]
        if stream in ("schedule_overrides", "schedule_users"):
            start = w.now - w.days * DAY if since is None else since  # default: everything
            end = w.now + 366 * DAY if until is None else until
            read = (
                (lambda k: self.overrides_in(k, start, end, True))
                if stream == "schedule_overrides"
                else (lambda k: self.schedule_users_in(k, start, end))
            )
            return [
                dict(rec, schedule_id=sched["id"])
                for k, sched in enumerate(w.schedules)
                for rec in read(k)
            ]
        if stream.startswith("analytics_metrics_"):
            kind = {
                "analytics_metrics_services": "service",
                "analytics_metrics_teams": "team",
                "analytics_metrics_escalation_policies": "escalation_policy",
                "analytics_metrics_responders": "responder",
            }[stream]
            since = w.now - w.days * DAY if since is None else since  # default: everything
            until = w.now if until is None else until
            unit = None if kind == "responder" else "day"
            rows = self.metrics(kind, since, until, unit, {})
            if kind == "responder":  # the tap adds the window it asked for
                for row in rows:
                    row.update(date_range_start=iso(since), date_range_end=iso(until))
            return rows
        if stream == "licenses":
            return [self.render_license(k) for k in range(len(self.licenses))]
        if stream == "license_allocations":
            return [self.render_allocation(a) for a in self.allocations]
        return None

    # ------------------------------------------------------------------ analytics metrics
    def h_metrics(self, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            req = json.loads(body or b"{}")
            flt = req.get("filters") or {}
        except (ValueError, AttributeError) as exc:
            raise self._bad("Request body must be a JSON object.") from exc
        kind = METRICS_PATHS[path]
        first, last = (
            ("date_range_start", "date_range_end")
            if kind == "responder"
            else ("created_at_start", "created_at_end")
        )
        if not flt.get(first) or not flt.get(last):
            raise self._bad(f"filters.{first} and filters.{last} are required.")
        start = self.emu._parse_time(flt[first], name=first)
        end = self.emu._parse_time(flt[last], name=last)
        if end <= start or end - start > 366 * DAY:
            raise self._bad("The maximum supported time range is one year.")
        unit = req.get("aggregate_unit") if kind != "responder" else None
        if unit not in (None, "day", "week", "month"):
            raise self._bad("aggregate_unit must be day, week or month.")
        rows = self.metrics(kind, start, end, unit, flt)
        tail = {
            "filters": flt,
            "time_zone": req.get("time_zone") or "Etc/UTC",
            "order": "asc",
            "order_by": "range_start" if unit else f"{kind}_name",
        }
        if unit:
            tail["aggregate_unit"] = unit
        return 200, dumpb({"data": rows, **tail})

    def metrics(self, kind: str, start: int, end: int, unit: str | None, flt: dict) -> list:
        """Aggregates over incidents created in [start, end), by entity and period."""
        w = self.world
        services = set(flt.get("service_ids") or [])
        teams = set(flt.get("team_ids") or [])
        groups: dict[tuple, list[dict]] = {}
        for i in w.inc_range(start, end):
            inc = w.incidents[i]
            svc = w.services[inc.service]
            if services and svc["id"] not in services:
                continue
            if (
                teams
                and kind != "responder"
                and not any(w.teams[k]["id"] in teams for k in svc["teams"])
            ):
                continue
            row = json.loads(self.emu.r.analytics(inc))
            period = None if unit is None else _period(inc.created, unit)
            for entity in self._entities(kind, inc, row, teams):
                groups.setdefault((period, entity), []).append(row)
        out = []
        for (period, entity), rows in sorted(groups.items(), key=lambda g: (g[0][0] or 0, g[0][1])):
            record = self._entity_fields(kind, entity, rows[0])
            record.update(_aggregate(kind, rows))
            if unit is not None:
                record["range_start"] = iso(period)
            out.append(record)
        return out

    def _entities(self, kind: str, inc, row: dict, teams: set) -> list[str]:
        if kind == "service":
            return [row["service_id"]]
        if kind == "escalation_policy":
            return [row["escalation_policy_id"]]
        if kind == "team":
            return [row["team_id"]] if row["team_id"] else []
        users = dict.fromkeys(row["assigned_user_ids"] + row["acknowledged_user_ids"])
        if row["resolved_by_user_id"]:
            users.setdefault(row["resolved_by_user_id"])
        w = self.world
        return [
            u
            for u in users
            if not teams
            or any(w.teams[k]["id"] in teams for k in w.users[w.user_by_id[u]]["teams"])
        ]

    def _entity_fields(self, kind: str, entity: str, row: dict) -> dict:
        if kind == "service":
            keys = ("service_id", "service_name", "team_id", "team_name")
            return {k: row[k] for k in keys}
        if kind == "team":
            return {"team_id": row["team_id"], "team_name": row["team_name"]}
        if kind == "escalation_policy":
            keys = ("escalation_policy_id", "escalation_policy_name", "team_id", "team_name")
            return {k: row[k] for k in keys}
        user = self.world.users[self.world.user_by_id[entity]]
        team = user["teams"][0] if user["teams"] else None
        return {
            "responder_id": entity,
            "responder_name": user["name"],
            "team_id": None if team is None else self.world.teams[team]["id"],
            "team_name": None if team is None else self.world.teams[team]["name"],
        }

    def analytics_unfiltered(self, token: str | None, path: str, body: bytes) -> bool:
        """OAuth tokens must filter analytics by team_ids or service_ids (PagerDuty's rule)."""
        if not path.startswith("/analytics/") or token is None:
            return False
        with self.oauth_lock:
            if token not in self.oauth_tokens:
                return False
        try:
            flt = json.loads(body or b"{}").get("filters") or {}
        except (ValueError, AttributeError):
            return False
        return not (flt.get("team_ids") or flt.get("service_ids"))

    # ------------------------------------------------------------------ OAuth (client credentials)
    def add_oauth_client(self, client_id: str, secret: str, scopes, ttl: float = 3600.0) -> None:
        """Register a scoped OAuth app granted `scopes`; its tokens live `ttl` wall seconds."""
        self.oauth_clients[client_id] = (secret, set(scopes))
        self.oauth_ttl = ttl

    def h_token(self, body: bytes) -> tuple[int, bytes]:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return 400, dumpb({"error": "unsupported_grant_type"})
        client = self.oauth_clients.get(form.get("client_id", ""))
        if client is None or not secrets.compare_digest(client[0], form.get("client_secret", "")):
            return 401, dumpb({"error": "invalid_client"})
        scopes = form.get("scope", "").split()
        accounts = [s for s in scopes if s.startswith("as_account-")]
        wanted = {s for s in scopes if not s.startswith("as_account-")}
        if accounts != [self.oauth_account] or not wanted <= client[1]:
            return 400, dumpb({"error": "invalid_scope", "error_description": "Invalid scope"})
        token = "pdus+_" + secrets.token_urlsafe(24)
        with self.oauth_lock:
            self.oauth_tokens[token] = (time.monotonic() + self.oauth_ttl, wanted)
            self.oauth_issued += 1
        answer = {
            "access_token": token,
            "token_type": "bearer",
            "scope": " ".join([self.oauth_account, *sorted(wanted)]),
            "expires_in": self.oauth_claimed_ttl or self.oauth_ttl,
        }
        return 200, dumpb(answer)

    def token_valid(self, token: str) -> bool:
        with self.oauth_lock:
            entry = self.oauth_tokens.get(token)
        return entry is not None and time.monotonic() < entry[0]

    def missing_scope(self, token: str, method: str, path: str) -> str | None:
        """The scope an app token lacks for `method path` (None: allowed, or not an app
        token), as PagerDuty's spec requires it: from the tap's table derived from the spec
        (`tap_pagerduty/spec_table.json`). An operation the table does not know is refused."""
        with self.oauth_lock:
            entry = self.oauth_tokens.get(token)
        if entry is None:
            return None
        scope = spec_table.scope_of(f"{method} {path}")
        if scope is None:
            return f"(unknown: {method} {path} is not in the spec table)"
        return None if scope in entry[1] else scope

    # ------------------------------------------------------------------ errors
    @staticmethod
    def _bad(text: str):
        from .http import bad_request

        return bad_request(text)

    @staticmethod
    def _not_found():
        from .http import not_found

        return not_found()


def _period(ts: int, unit: str) -> int:
    """Start of the UTC day, ISO week (Monday) or month holding `ts`."""
    day = ts - ts % DAY
    if unit == "day":
        return day
    if unit == "week":
        return day - ((day // DAY + 3) % 7) * DAY  # 1970-01-01 was a Thursday
    y, m = time.gmtime(ts)[:2]
    return calendar.timegm((y, m, 1, 0, 0, 0))


def _mean(values: list) -> int | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values)) if values else None


def _aggregate(kind: str, rows: list[dict]) -> dict:
    acked = [r for r in rows if r["seconds_to_first_ack"] is not None]
    sums = {
        "total_incident_count": len(rows),
        "total_incidents_acknowledged": len(acked),
        "total_notifications": sum(r["total_notifications"] for r in rows),
        "total_interruptions": sum(r["total_interruptions"] for r in rows),
        "total_business_hour_interruptions": sum(r["business_hour_interruptions"] for r in rows),
        "total_off_hour_interruptions": sum(r["off_hour_interruptions"] for r in rows),
        "total_sleep_hour_interruptions": sum(r["sleep_hour_interruptions"] for r in rows),
        "total_engaged_seconds": sum(r["engaged_seconds"] for r in rows),
        "mean_engaged_seconds": _mean([r["engaged_seconds"] for r in rows]),
    }
    if kind == "responder":
        sums["mean_time_to_acknowledge_seconds"] = _mean([r["seconds_to_first_ack"] for r in rows])
        return sums
    sums.update(
        mean_seconds_to_first_ack=_mean([r["seconds_to_first_ack"] for r in rows]),
        mean_seconds_to_resolve=_mean([r["seconds_to_resolve"] for r in rows]),
        mean_assignment_count=_mean([r["assignment_count"] for r in rows]),
        total_escalation_count=sum(r["escalation_count"] for r in rows),
        total_incidents_reassigned=sum(1 for r in rows if r["reassignment_count"]),
        total_incidents_auto_resolved=sum(1 for r in rows if r["auto_resolved"]),
        total_snoozed_seconds=sum(r["snoozed_seconds"] for r in rows),
    )
    return sums

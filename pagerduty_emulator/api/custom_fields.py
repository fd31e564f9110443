"""Incident types and custom fields: definitions (`/incidents/types`, `.../custom_fields`) and
values on incidents and services, with the edits made while the clock moves."""

from __future__ import annotations

import bisect
import typing as t

from ..data import DAY
from ..http import Query
from ..render import API, dumpb
from .extras_base import CREATED, ExtrasBase, stable_draw

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


class CustomFields(ExtrasBase):
    """A part of `Extras` (see the module's docstring)."""

    def _start_custom_fields(self) -> None:
        #: Switch definitions off to check that the tap then reads no values at all.
        self.incident_fields_defined = True
        self.edited: dict[tuple, object] = {}  # (record id, field id) -> value after an edit
        self.service_fields_defined = True
        self._build_types()

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
        draw = stable_draw(self.seed, "type", inc.id) % 10
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
        (old, now). How PagerDuty records an edit is not documented; the emulator's
        `custom_field_edits` picks one of the ways it may:

        * `log` (default): a `custom_field_value_change_log_entry`, inserted in time order;
        * `field_log`: the same as a `field_value_change_log_entry` (the spec lists both);
        * `updated_at`: no log entry, but the incident's `updated_at` moves to the edit;
        * `none`: no trace at all."""
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
            if stable_draw(self.seed, "edit", inc.id, now) % 4:
                continue
            field = fields[stable_draw(self.seed, "which", inc.id, now) % len(fields)]
            self.edited[(inc.id, field["id"])] = self.value_of(field, inc.id, now)
            ts = max(inc.created, old) + 1
            ts += stable_draw(self.seed, "when", inc.id, now) % max(1, now - ts)
            self.record_edit(inc, ts, field["id"])
            edited += 1
        self.emu.r.le_cache.clear()  # rendered log entries are cached by position
        w.version += 1

    def record_edit(self, inc: t.Any, ts: int, field_id: str) -> None:
        """Leave the trace of one value edit that `custom_field_edits` asks for."""
        w = self.world
        how = self.emu.custom_field_edits
        if how in ("log", "field_log"):
            kind = "custom_field_value_change" if how == "log" else "field_value_change"
            entry = (ts, self.nid(), inc.idx, kind, 0, field_id)
            at = bisect.bisect_right(w.log, (ts, entry[1]), key=lambda e: (e[0], e[1]))
            w.log.insert(at, entry)
            w.log_ts.insert(at, ts)
        elif how == "updated_at" and ts > inc.updated:
            inc.updated = ts
            inc.changes.append(ts)
            inc.cache = inc.acache = inc.rcache = None

    def value_of(self, field: dict, *key: object) -> object:
        """The value a field holds on one record (None for some)."""
        if len(key) == 1 and (key[0], field["id"]) in self.edited:
            return self.edited[(key[0], field["id"])]
        draw = stable_draw(self.seed, field["id"], *key)
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

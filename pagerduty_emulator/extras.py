"""More of the emulated account: incident types and custom fields (definitions and values on
incidents and services), schedule overrides and schedule users, licenses and allocations,
aggregated analytics metrics, and scoped OAuth app tokens (client credentials).

Everything is derived from the world's seed. IDs come from the world's ID permutation at
counters far above the ones the world uses, so they never collide with other records and
adding this module changed no existing ID. Records carry only fields of PagerDuty's spec.
"""

from __future__ import annotations

import re
import typing as t

from .api.custom_fields import CustomFields
from .api.extras_base import EXTRA_ID_BASE, ExtrasBase
from .api.licenses import Licenses
from .api.metrics import METRICS_PATHS, Metrics
from .api.oauth import TOKEN_PATH, OAuthApps
from .api.schedules_extra import ScheduleExtras
from .data import DAY, IdGen, iso

if t.TYPE_CHECKING:
    from .server import Emulator


POST_PATHS = {TOKEN_PATH, *METRICS_PATHS}


class Extras(CustomFields, ScheduleExtras, Licenses, Metrics, OAuthApps, ExtrasBase):
    """State and handlers of the extra endpoints; `Emulator` calls it from a few hooks."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.world = emulator.world
        self.seed = emulator.seed
        ids = IdGen(self.seed)
        ids.n = EXTRA_ID_BASE
        self.nid = ids.next
        # In this order: each part draws its ids from `nid`.
        self._start_custom_fields()
        self._start_schedule_extras()
        self._build_licenses()
        self._start_oauth()

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

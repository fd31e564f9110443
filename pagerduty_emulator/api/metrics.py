"""Aggregated analytics metrics (`POST /analytics/metrics/incidents/...`)."""

from __future__ import annotations

import calendar
import json
import time

from ..data import DAY, iso
from ..render import dumpb
from .extras_base import ExtrasBase

METRICS_PATHS = {
    "/analytics/metrics/incidents/services": "service",
    "/analytics/metrics/incidents/teams": "team",
    "/analytics/metrics/incidents/escalation_policies": "escalation_policy",
    "/analytics/metrics/responders/all": "responder",
}


class Metrics(ExtrasBase):
    """A part of `Extras` (see the module's docstring)."""

    def _metrics_handler(self, path: str):
        return lambda q, body: self.h_metrics(path, body)

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

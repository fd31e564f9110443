"""Aggregated incident metrics from PagerDuty's analytics API (read-only POST queries).

Each stream asks for the whole range, `anchor_date` to now, on every run, in parts of at
most one year (PagerDuty's limit) that start on a unit boundary, so no day, week or month
is split between two parts. Aggregates of past periods change while their incidents are
still open, so re-reading them is what keeps them right; it costs one request per year of
range and stream. PagerDuty's analytics data lags up to 24 hours behind.
"""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone
from functools import cached_property

from tap_pagerduty.client import PagerDutyStream
from tap_pagerduty.oauth import FILTER_LISTINGS, analytics_filter
from tap_pagerduty.streams.base import ListStream, Records
from tap_pagerduty.windows import Window, iso_z

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pagerduty.prefetch import Request

YEAR = timedelta(days=365)
# Ids per analytics query when they are sent in parts: the spec sets no maximum for
# `filters.service_ids` / `team_ids`; this keeps each request body small (a few KB).
FILTER_BATCH = 100


def access_filter(stream: PagerDutyStream) -> dict[str, list[str]]:
    """The `team_ids`/`service_ids` filter of the stream's analytics queries under OAuth
    and user-level tokens (PagerDuty refuses them unfiltered there; see
    `oauth.analytics_filter`), with every id of its listing. Read once per run."""
    wanted = analytics_filter(stream.access_kind or "service_ids", stream.settings)
    if wanted is None:
        return {}

    def read() -> dict[str, list[str]]:
        path = FILTER_LISTINGS[wanted]
        ids = _ids(stream, path, path.strip("/"))
        stream.logger.info(
            "%s: analytics queries filtered by %d %s (needed for OAuth and user tokens)",
            stream.name,
            len(ids),
            wanted,
        )
        return {wanted: ids}

    return stream.run.shared(("analytics filter", wanted), read)


def access_filter_batches(stream: PagerDutyStream) -> list[dict[str, list[str]]]:
    """The stream's access filter in parts of at most `FILTER_BATCH` ids, one query each
    (`[{}]`: no filter needed; `[]`: needed, but there is no id to filter by). Only for
    queries whose rows are disjoint per id (raw incidents by service), never aggregates."""
    access = access_filter(stream)
    if not access:
        return [] if needs_access_filter(stream) else [{}]
    ((kind, ids),) = access.items()
    return [{kind: ids[i : i + FILTER_BATCH]} for i in range(0, len(ids), FILTER_BATCH)]


def needs_access_filter(stream: PagerDutyStream) -> bool:
    return analytics_filter(stream.access_kind or "service_ids", stream.settings) is not None


def _ids(stream: PagerDutyStream, path: str, key: str) -> list[str]:
    ids: list[str] = []
    for page in stream.sequential_pages(path, {}, stream.settings.page_size, key=key):
        ids.extend(record["id"] for record in page)
    return ids


def unit_start(moment: datetime, unit: str) -> datetime:
    """The start (UTC) of the day, ISO week (Monday) or month holding `moment`."""
    day = moment.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def months_later(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months later (`moment` is a month start)."""
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def unit_windows(start: datetime, end: datetime, unit: str) -> Iterator[Window]:
    """Windows of at most 365 days (PagerDuty's maximum is one year) covering
    [unit_start(start), end), cut on unit boundaries."""
    cursor = unit_start(start, unit)
    while cursor < end:
        if unit == "month":
            # Twelve months span 366 days when they hold a 29 February: then eleven.
            upper = months_later(cursor, 12)
            if upper - cursor > YEAR:
                upper = months_later(cursor, 11)
        elif unit == "week":
            upper = cursor + timedelta(weeks=52)
        else:
            upper = cursor + YEAR
        yield Window(cursor, min(upper, end))
        cursor = upper


class MetricsStream(ListStream):
    """One analytics metrics query per window; rows are (entity, period)."""

    optional = True  # a product (Analytics) and a scope not every account has

    records_key = "data"
    method = "POST"
    access_kind = "service_ids"
    lookahead_needs_clock = True  # the range ends at PagerDuty's now
    #: Body keys of the window bounds (responder metrics name them differently).
    bounds: t.ClassVar[tuple[str, str]] = ("created_at_start", "created_at_end")
    #: Whether rows are aggregated by `metrics_unit` (then they carry `range_start`).
    by_unit: t.ClassVar[bool] = True

    def pages(self) -> Iterator[Records]:
        access = access_filter(self)
        for window, body in self.queries(access):
            rows = self.fetch(self.path, body=body).get(self.key) or []
            yield [self.keyed(row, window) for row in rows]

    @cached_property
    def range_end(self) -> datetime:
        """The end of this run's range: PagerDuty's now when first asked (the look-ahead
        may ask before the stream starts)."""
        return self.server_now()

    def queries(self, access: dict[str, list[str]]) -> list[tuple[Window, dict[str, t.Any]]]:
        """One query per window of this run's range (its end fixed the first time)."""
        unit = self.settings.extra.metrics_unit if self.by_unit else "day"
        first, last = self.bounds
        out = []
        for window in unit_windows(self.settings.anchor_date, self.range_end, unit):
            body: dict[str, t.Any] = {
                "filters": {first: iso_z(window.start), last: iso_z(window.end), **access},
                "time_zone": "Etc/UTC",
            }
            if self.by_unit:
                body["aggregate_unit"] = unit
            out.append((window, body))
        return out

    def lookahead_requests(self) -> list[Request]:
        """Known ahead unless the queries need an id filter (OAuth), read when they start."""
        if needs_access_filter(self):
            return []
        return [(self.path, {}, body) for _window, body in self.queries({})]

    def keyed(self, row: dict[str, t.Any], window: Window) -> dict[str, t.Any]:
        return row


class ServiceMetricsStream(MetricsStream):
    name = "analytics_metrics_services"
    path = "/analytics/metrics/incidents/services"
    primary_keys = ("service_id", "range_start")


class TeamMetricsStream(MetricsStream):
    name = "analytics_metrics_teams"
    path = "/analytics/metrics/incidents/teams"
    primary_keys = ("team_id", "range_start")


class EscalationPolicyMetricsStream(MetricsStream):
    name = "analytics_metrics_escalation_policies"
    path = "/analytics/metrics/incidents/escalation_policies"
    primary_keys = ("escalation_policy_id", "range_start")


class ResponderMetricsStream(MetricsStream):
    """Per responder and window (this query has no aggregation unit): the tap adds the
    window as `date_range_start` / `date_range_end`."""

    name = "analytics_metrics_responders"
    path = "/analytics/metrics/responders/all"
    primary_keys = ("responder_id", "date_range_start")
    bounds = ("date_range_start", "date_range_end")
    access_kind = "team_ids"
    by_unit = False

    def keyed(self, row: dict[str, t.Any], window: Window) -> dict[str, t.Any]:
        return {
            **row,
            "date_range_start": iso_z(window.start),
            "date_range_end": iso_z(window.end),
        }

"""Account history kept for a limited time: the audit trail, change events, and the
analytics view of incidents. All three need plan features or scopes a token may lack."""

from __future__ import annotations

import hashlib
import json
import typing as t
from datetime import datetime, timedelta

from tap_pagerduty.client import PageGuard
from tap_pagerduty.state import AnalyticsIncidentsState
from tap_pagerduty.streams.base import IncrementalStream, WindowedStream
from tap_pagerduty.streams.metrics import access_filter, needs_access_filter
from tap_pagerduty.windows import iso_z, parse_time

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context

    from tap_pagerduty.client import PagerDutyStream
    from tap_pagerduty.prefetch import Request

# The analytics API answers up to 1000 rows a page.
ANALYTICS_PAGE_SIZE = 1000


class AuditRecordsStream(IncrementalStream):
    """Who changed what: cursor-paged, windows of at most 31 days, kept 12 months."""

    name = "audit_records"
    optional = True
    path = "/audit/records"
    records_key = "records"
    replication_key = "execution_time"
    max_window = timedelta(days=31)
    retention = timedelta(days=365)

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        return self.skip_if_unavailable(self._records())

    def lookahead_requests(self) -> list[Request]:
        return [
            (self.path, self.cursor_first_query(w.params()), None) for w in self.first_windows(1)
        ]

    def _records(self) -> Iterator[dict[str, t.Any]]:
        start, end = self.plan()
        progress = self.progress(start, end)
        for window, page in self.window_cursor_pages(self.path, self.windows(start, end)):
            if page is None:
                self.checkpoint(window.end)
                progress.window_done(window)
                continue
            progress.count(len(page))
            yield from page


class ChangeEventsStream(WindowedStream):
    """Change events (deploys, config changes); PagerDuty keeps the last 90 days."""

    name = "change_events"
    optional = True
    path = "/change_events"
    replication_key = "timestamp"
    max_window = timedelta(days=30)
    retention = timedelta(days=90)


class AnalyticsIncidentsStream(IncrementalStream):
    """Per-incident metrics (seconds to first ack, to resolve, engaged time …) from the
    read-only `POST /analytics/raw/incidents` query; later runs ask only for rows updated
    since the bookmark."""

    name = "analytics_incidents"
    optional = True
    path = "/analytics/raw/incidents"
    method = "POST"
    access_kind = "service_ids"
    records_key = "data"
    replication_key = "updated_at"
    state_type = AnalyticsIncidentsState

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        return self.skip_if_unavailable(self._records())

    def filters(self) -> dict[str, t.Any]:
        _start, end = self.plan()
        filters: dict[str, t.Any] = {
            "created_at_start": iso_z(self.settings.anchor_date),
            "created_at_end": iso_z(end),
            **access_filter(self),  # required for OAuth and user tokens
        }
        bookmark = self.bookmark()
        if bookmark is not None:
            filters["updated_after"] = iso_z(self.since(bookmark))
        return filters

    def since(self, bookmark: datetime) -> datetime:
        """PagerDuty's analytics shows changes up to `analytics_lag_hours` late: each run asks
        again for that much before its bookmark."""
        return bookmark - max(self.settings.analytics_lag, timedelta(minutes=10))

    @property
    def state(self) -> AnalyticsIncidentsState:
        return t.cast("AnalyticsIncidentsState", self.saved)

    def first_query(self) -> dict[str, t.Any]:
        """This run's first request body: a query a killed run left unfinished, resumed at
        its next page, or a new one."""
        unfinished = self.state.unfinished_query
        return dict(unfinished) if unfinished else analytics_query(self.filters())

    def lookahead_requests(self) -> list[Request]:
        if needs_access_filter(self) and not self.state.unfinished_query:
            return []  # its id filter is read when the stream starts
        return [(self.path, {}, self.first_query())]

    def _records(self) -> Iterator[dict[str, t.Any]]:
        first = self.first_query()
        # The bookmark moves to the query's end once it is read whole; meanwhile the next
        # page's body is saved after every page, so a killed run resumes there.
        end = parse_time(first["filters"]["created_at_end"])
        body: dict[str, t.Any] | None = first
        guard = analytics_guard(self, first)
        # Digests of the rows earlier runs emitted that this query reads again: a row is
        # emitted again only when it changed. Rows updated before the next run's
        # `updated_after` are never read again: they are not remembered.
        previous = self.state.rows
        cutoff = iso_z(self.since(end))
        remembered: dict[str, str] = {}
        while body is not None:  # ends: `more` ends every listing, the guard a stuck one
            rows, body = analytics_page(self, body, guard)
            for row in rows:
                key, digest = str(row.get("id")), row_digest(row)
                if str(row.get("updated_at") or "") >= cutoff:
                    remembered[key] = digest
                if previous.get(key) != digest:
                    yield row
            if body is not None:
                self.save_progress(unfinished_query=body, rows={**previous, **remembered})
        self.checkpoint(end, unfinished_query=None, rows=remembered)


def row_digest(row: dict[str, t.Any]) -> str:
    """A short digest of an analytics row's content."""
    text = json.dumps(row, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def analytics_query(filters: dict[str, t.Any]) -> dict[str, t.Any]:
    """The body of the first page of `POST /analytics/raw/incidents`, oldest first."""
    return {
        "filters": filters,
        "limit": ANALYTICS_PAGE_SIZE,
        "order": "asc",
        "order_by": "created_at",
    }


def analytics_page(
    stream: PagerDutyStream, body: dict[str, t.Any], guard: PageGuard
) -> tuple[list[dict[str, t.Any]], dict[str, t.Any] | None]:
    """One page of `POST /analytics/raw/incidents` (a read-only query) and the body of the
    next page (None after the last); `guard` stops a query whose `last` does not advance."""
    page = stream.fetch(AnalyticsIncidentsStream.path, {}, body=body)
    rows = page.get("data") or []
    guard.check_page(rows)
    if not page.get("more") or not page.get("last"):
        return rows, None
    guard.check_cursor(page["last"])
    return rows, {**body, "starting_after": page["last"]}


def analytics_guard(stream: PagerDutyStream, body: dict[str, t.Any]) -> PageGuard:
    """The guard of one analytics query, which may resume after `starting_after`."""
    guard = PageGuard(stream.name, AnalyticsIncidentsStream.path, "POST")
    if body.get("starting_after"):
        guard.check_cursor(body["starting_after"])
    return guard


def analytics_pages(
    stream: PagerDutyStream, filters: dict[str, t.Any]
) -> Iterator[list[dict[str, t.Any]]]:
    """Pages of one analytics query, oldest incident first."""
    body: dict[str, t.Any] | None = analytics_query(filters)
    guard = PageGuard(stream.name, AnalyticsIncidentsStream.path, "POST")
    for _ in range(1_000_000):  # bounded: `more` ends every real listing
        if body is None:
            return
        rows, body = analytics_page(stream, body, guard)
        yield rows

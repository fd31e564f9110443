"""Incidents and their history: incidents, alerts, notes, log entries, notifications.

`/incidents` filters only on creation time, yet incidents change for weeks after they are
created (acknowledged, reassigned, escalated, re-prioritised, resolved). So the incidents
stream reads creation windows once (the backfill) and afterwards follows PagerDuty's change
log: every change writes a log entry, and `/log_entries?include[]=incidents` carries the
incident in its current version.
"""

from __future__ import annotations

import typing as t
from datetime import timedelta

from tap_pagerduty.streams.base import (
    ChildStream,
    IncrementalStream,
    OverlapTail,
    ParentStream,
    Records,
    WindowedStream,
)
from tap_pagerduty.windows import iso_z, parse_time, windows_between

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from singer_sdk.helpers.types import Context

# PagerDuty allows `/incidents` windows of at most 6 months.
INCIDENT_WINDOW = timedelta(days=180)
# Change-log windows; denser ones are split automatically.
CHANGE_LOG_WINDOW = timedelta(days=31)
# Re-read the change log this far before the bookmark, for entries listed late.
CHANGE_LOG_OVERLAP = timedelta(minutes=10)


class IncidentsStream(ParentStream, IncrementalStream):
    """Every incident created since `anchor_date`, in its latest version.

    State: `replication_key_value` is the point up to which PagerDuty's change log has been
    read, so every incident created or changed before it is synced in its latest version.
    While the first backfill runs, `backfill_from` marks how far creation windows are done.
    """

    name = "incidents"
    path = "/incidents"
    replication_key = "updated_at"
    child_key = "incident_id"
    max_window = INCIDENT_WINDOW
    overlap = CHANGE_LOG_OVERLAP
    state_time_keys = ("replication_key_value", "backfill_from")

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        end = self.sync_end()
        bookmark = self.bookmark()
        self.latest: dict[str, str] = {}  # id -> updated_at emitted in this run
        if bookmark is None:  # first sync: backfill; changes are followed from `end` on
            anchor = self.settings.anchor_date
            yield from self._backfill(anchor, end, changes_from=end, remember=False)
            return
        unfinished = self.stream_state.get("backfill_from")
        if unfinished:  # a backfill was interrupted: finish it, then follow changes
            yield from self._backfill(parse_time(unfinished), end, changes_from=bookmark)
        if bookmark < end:
            yield from self._follow_changes(bookmark - self.overlap, end)

    def _backfill(
        self, start: datetime, end: datetime, changes_from: datetime, *, remember: bool = True
    ) -> Iterator[dict[str, t.Any]]:
        progress = self.progress(start, end)
        windows = windows_between(start, end, INCIDENT_WINDOW)
        params = {"sort_by": "created_at:asc"}
        for window, page in self.window_pages(self.path, params, windows):
            if page is None:
                self.checkpoint(changes_from, backfill_from=iso_z(window.end))
                progress.window_done(window)
                continue
            progress.count(len(page))
            yield from self.emit(self._newer(page, remember=remember))
        self.checkpoint(changes_from, backfill_from=None)

    def _follow_changes(self, start: datetime, end: datetime) -> Iterator[dict[str, t.Any]]:
        progress = self.progress(start, end)
        tail = OverlapTail(self, end)
        windows = windows_between(start, end, CHANGE_LOG_WINDOW)
        params = {"include[]": ["incidents"]}
        pages = self.window_pages("/log_entries", params, windows, key="log_entries")
        for window, entries in pages:
            if entries is None:
                self.checkpoint(window.end, **tail.state_at(window.end))
                progress.window_done(window)
                continue
            entries = tail.unseen(entries, "created_at")
            changed = [e["incident"] for e in entries if self._in_range(e.get("incident"))]
            progress.count(len(changed))
            yield from self.emit(self._newer(changed))

    def _in_range(self, incident: dict[str, t.Any] | None) -> bool:
        """An embedded incident created inside [anchor_date, end_date)."""
        if not incident or "created_at" not in incident:
            return False
        created = parse_time(incident["created_at"])
        end = self.settings.end_date
        return created >= self.settings.anchor_date and (end is None or created < end)

    def _newer(self, incidents: Records, *, remember: bool = True) -> Records:
        """Drop versions already emitted in this run, keeping one record per incident.

        With `remember=False` the emitted versions are not kept: creation windows never
        overlap, so a backfill that no change feed follows in this run needs no memory."""
        fresh: dict[str, dict[str, t.Any]] = {}
        for incident in incidents:
            version = incident.get("updated_at") or ""
            if version > self.latest.get(incident["id"], ""):
                if remember:
                    self.latest[incident["id"]] = version
                fresh[incident["id"]] = incident
        return list(fresh.values())


class IncidentAlertsStream(ChildStream):
    """Alerts of every incident the incidents stream emits in this run (new or changed)."""

    name = "incident_alerts"
    path = "/incidents/{incident_id}/alerts"
    parent_stream_type = IncidentsStream
    parent_key = "incident_id"
    records_key = "alerts"


class IncidentNotesStream(ChildStream):
    """Notes of every incident emitted in this run; notes can be edited (`updated_at`)."""

    name = "incident_notes"
    path = "/incidents/{incident_id}/notes"
    parent_stream_type = IncidentsStream
    parent_key = "incident_id"
    records_key = "notes"


class LogEntriesStream(WindowedStream):
    """Every log entry (incident events), by creation time."""

    name = "log_entries"
    path = "/log_entries"
    replication_key = "created_at"
    max_window = CHANGE_LOG_WINDOW
    overlap = CHANGE_LOG_OVERLAP


class NotificationsStream(WindowedStream):
    """Notifications sent to responders, by `started_at`. PagerDuty needs both bounds and
    a range under 3 months."""

    name = "notifications"
    path = "/notifications"
    replication_key = "started_at"
    max_window = timedelta(days=30)

"""Schedule overrides and the users on call in each schedule, over one time window.

The window runs from `overrides_start_date` (default: `anchor_date`) to `overrides_days_ahead`
days after PagerDuty's now, so past overrides (on-call pay, fairness) and planned ones are
both read. Overrides are edited and deleted without a trace in the listing, so both streams
are read in full on every run: one request per schedule and window part.
"""

from __future__ import annotations

import typing as t
from datetime import timedelta

from tap_pagerduty.streams.account import SchedulesStream
from tap_pagerduty.streams.base import ChildStream, Records
from tap_pagerduty.windows import Window, windows_between

# PagerDuty documents no maximum span for overrides; ask in parts no longer than the
# incidents' 6 months.
OVERRIDES_WINDOW = timedelta(days=180)


class ScheduleWindowChild(ChildStream):
    parent_stream_type = SchedulesStream
    parent_key = "schedule_id"
    primary_keys = ("schedule_id", "id")

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._window: Window | None = None

    def window(self) -> Window:
        """The same window for every schedule of the run (fixed on the main thread)."""
        if self._window is None:
            extra = self.settings.extra
            self._window = Window(extra.overrides_start, extra.overrides_end(self.server_now()))
        return self._window

    def prepare(self, parents: Records) -> None:
        self.window()
        super().prepare(parents)


class ScheduleOverridesStream(ScheduleWindowChild):
    """Overrides overlapping the window, whole (`overflow=true`), once each."""

    name = "schedule_overrides"
    path = "/schedules/{schedule_id}/overrides"
    records_key = "overrides"
    extra_params: t.ClassVar[dict[str, t.Any]] = {"overflow": "true"}

    def fetch_children(self, parent_id: str) -> Records:
        path = self.path.format(schedule_id=parent_id)
        whole = self.window()
        found: dict[str, dict[str, t.Any]] = {}
        for part in windows_between(whole.start, whole.end, OVERRIDES_WINDOW):
            for override in self.fetch(path, part.params()).get(self.key) or []:
                found.setdefault(override["id"], override)  # spans two parts: listed twice
        return list(found.values())


class ScheduleUsersStream(ScheduleWindowChild):
    """Users on call in each schedule at some time in the window: one request per schedule."""

    name = "schedule_users"
    path = "/schedules/{schedule_id}/users"
    records_key = "users"

    def fetch_children(self, parent_id: str) -> Records:
        path = self.path.format(schedule_id=parent_id)
        return list(self.fetch(path, self.window().params()).get(self.key) or [])

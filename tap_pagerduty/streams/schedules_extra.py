"""Schedule overrides and the users on call in each schedule, over one time window.

The window runs from `overrides_start_date` (default: `anchor_date`) to `overrides_days_ahead`
days after PagerDuty's now, so past overrides (on-call pay, fairness) and planned ones are
both read. Overrides are edited and deleted without a trace in the listing, so both streams
are read in full on every run: one request per schedule each.
"""

from __future__ import annotations

import typing as t
from datetime import timedelta

from tap_pagerduty.errors import PagerDutyAPIError
from tap_pagerduty.streams.account import SchedulesStream
from tap_pagerduty.streams.base import ChildStream, Records
from tap_pagerduty.windows import Window, floor_second

# PagerDuty documents no maximum span for overrides: the whole window is asked in one
# request, and a window PagerDuty refuses (400) is asked again in halves, down to this span.
SMALLEST_PART = timedelta(days=7)


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

    def wanted(self, parent: dict[str, t.Any]) -> bool:
        return self.window().end > self.window().start  # an empty window has nothing


class ScheduleOverridesStream(ScheduleWindowChild):
    """Overrides overlapping the window, whole (`overflow=true`), once each."""

    name = "schedule_overrides"
    path = "/schedules/{schedule_id}/overrides"
    records_key = "overrides"
    extra_params: t.ClassVar[dict[str, t.Any]] = {"overflow": "true"}

    def fetch_children(self, parent_id: str) -> Records:
        found: dict[str, dict[str, t.Any]] = {}
        for override in self.overrides(self.path.format(schedule_id=parent_id), self.window()):
            found.setdefault(override["id"], override)  # spans two parts: listed twice
        return list(found.values())

    def overrides(self, path: str, part: Window) -> Records:
        try:
            return list(self.fetch(path, part.params()).get(self.key) or [])
        except PagerDutyAPIError as error:
            if error.status != 400 or part.span < 2 * SMALLEST_PART:
                raise
            self.logger.warning("%s: asking for %s in two halves after: %s", self.name, part, error)
        middle = floor_second(part.start + part.span / 2)
        halves = (Window(part.start, middle), Window(middle, part.end))
        return [o for half in halves for o in self.overrides(path, half)]


class ScheduleUsersStream(ScheduleWindowChild):
    """Users on call in each schedule at some time in the window: one request per schedule."""

    name = "schedule_users"
    path = "/schedules/{schedule_id}/users"
    records_key = "users"

    def fetch_children(self, parent_id: str) -> Records:
        path = self.path.format(schedule_id=parent_id)
        return list(self.fetch(path, self.window().params()).get(self.key) or [])

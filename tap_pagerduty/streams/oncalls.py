"""Who is on call, from now to `oncall_days` ahead (PagerDuty allows at most 90)."""

from __future__ import annotations

import typing as t
from datetime import timedelta
from functools import cached_property

from tap_pagerduty.streams.base import ListStream, Records
from tap_pagerduty.windows import iso_z

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from tap_pagerduty.prefetch import Request


class OncallsStream(ListStream):
    """On-call entries have no id: the key is who, for which policy level, from when."""

    name = "oncalls"
    path = "/oncalls"
    lookahead_needs_clock = True
    primary_keys = (
        "escalation_policy_id",
        "escalation_level",
        "user_id",
        "schedule_id",
        "shift_start",
    )

    def pages(self) -> Iterator[Records]:
        for page in self.classic_pages(self.path, self.window()):
            yield [with_key(record) for record in page]

    @cached_property
    def window_start(self) -> datetime:
        """PagerDuty's now when first asked (the look-ahead may ask before the stream starts)."""
        return self.server_now()

    def window(self) -> dict[str, str]:
        """Now (`window_start`) to `oncall_days` on."""
        now = self.window_start
        return {
            "since": iso_z(now),
            "until": iso_z(now + timedelta(days=self.settings.oncall_days)),
        }

    def lookahead_requests(self) -> list[Request]:
        return [(self.path, self.first_page_query(self.window()), None)]


def with_key(oncall: dict[str, t.Any]) -> dict[str, t.Any]:
    """Add flat key fields. Key parts are never empty (CSV-loading targets read "" as NULL):
    an on-call without a schedule gets "none", a permanent one (no start) "permanent"."""
    return {
        **oncall,
        "user_id": (oncall.get("user") or {}).get("id"),
        "escalation_policy_id": (oncall.get("escalation_policy") or {}).get("id"),
        "schedule_id": (oncall.get("schedule") or {}).get("id") or "none",
        "shift_start": oncall.get("start") or "permanent",
    }

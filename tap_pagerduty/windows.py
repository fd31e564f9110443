"""Time windows: how a date range is cut into requests PagerDuty accepts.

Classic pagination stops at offset+limit = 10,000, and several endpoints cap the span of
`since`/`until`. A range is therefore walked as consecutive half-open windows
[start, end) no longer than the endpoint allows; a window holding more records than the
offset cap is split into smaller ones.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# PagerDuty refuses offset+limit > 10,000 (HTTP 400, code 2002).
OFFSET_CAP = 10_000
# Windows are never split below this span; a denser slice is read up to the cap.
MIN_SLICE = timedelta(seconds=1)


def iso_z(moment: datetime) -> str:
    """Format a moment as UTC ISO 8601 with an explicit Z, as every request sends it."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """Parse an API or state timestamp (Z or offset) into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def floor_second(moment: datetime) -> datetime:
    """Drop sub-second precision: PagerDuty filters at one-second resolution."""
    return moment.replace(microsecond=0)


@dataclass(frozen=True)
class Window:
    """A half-open time range [start, end)."""

    start: datetime
    end: datetime

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def params(self) -> dict[str, str]:
        return {"since": iso_z(self.start), "until": iso_z(self.end)}

    def can_split(self) -> bool:
        return self.span >= 2 * MIN_SLICE

    def split(self, records: int, cap: int = OFFSET_CAP) -> list[Window]:
        """Cut into equal parts expected to hold about half the cap each."""
        parts = max(2, math.ceil(records / (cap // 2)))
        parts = min(parts, int(self.span / MIN_SLICE))
        step = self.span / parts
        edges = [floor_second(self.start + step * i) for i in range(parts)] + [self.end]
        return [Window(a, b) for a, b in itertools.pairwise(edges) if b > a]

    def __str__(self) -> str:
        return f"{iso_z(self.start)}..{iso_z(self.end)}"


def windows_between(start: datetime, end: datetime, max_span: timedelta) -> Iterator[Window]:
    """Consecutive windows covering [start, end), none longer than `max_span`."""
    cursor = start
    while cursor < end:
        upper = min(cursor + max_span, end)
        yield Window(cursor, upper)
        cursor = upper

"""What a run worked around, said once more at its end (the run's final summary).

A living account changes while it is read: a parent listed earlier in the run can be gone
when its children are asked for (a user off-boarded, a team deleted, an incident merged), and
a listing can change while it is paged. The tap goes on in both cases, with one warning line
each as it happens; this tally repeats them in one line when the run ends, so that a run that
worked around something never looks like a clean one.
"""

from __future__ import annotations

import threading
import typing as t
from collections import Counter

if t.TYPE_CHECKING:
    import logging


class RunReport:
    """Counts, per stream, the parents skipped because they were gone and the listings
    re-read because they changed while paged (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.gone_parents: Counter[str] = Counter()
        self.reread_listings: Counter[str] = Counter()

    def parent_gone(self, stream: str) -> None:
        with self._lock:
            self.gone_parents[stream] += 1

    def listing_reread(self, stream: str) -> None:
        with self._lock:
            self.reread_listings[stream] += 1

    def summary(self) -> str | None:
        """One line, or None when the run needed no workaround."""
        parts = []
        if self.gone_parents:
            parts.append(
                f"{sum(self.gone_parents.values())} parent(s) gone since they were listed, "
                f"their children skipped ({_by_stream(self.gone_parents)})"
            )
        if self.reread_listings:
            parts.append(
                f"{sum(self.reread_listings.values())} listing(s) re-read because they changed "
                f"while paged ({_by_stream(self.reread_listings)})"
            )
        return "Run summary: " + "; ".join(parts) if parts else None

    def log(self, logger: logging.Logger) -> None:
        line = self.summary()
        if line:
            logger.warning("%s", line)


def _by_stream(counts: Counter[str]) -> str:
    return ", ".join(f"{stream} {count}" for stream, count in sorted(counts.items()))

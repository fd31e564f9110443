"""First pages of upcoming full-refresh listings, requested while earlier streams run.

The SDK runs streams one after another, so starting a stream leaves the request slots idle
for one round trip. The first request of a plain listing is known in advance, so it can be
sent early; the request is the same, only sent sooner.
"""

from __future__ import annotations

import threading
import typing as t
from concurrent.futures import Future
from functools import cached_property

from tap_pagerduty.streams.base import ListStream

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

    from tap_pagerduty.tap import TapPagerDuty


class ListingPrefetch:
    """First pages of upcoming full-refresh listings, requested ahead of their stream.

    Only streams whose first request is known in advance take part: a top-level, selected
    `ListStream` using the generic listing (its first request is `path` with limit, offset 0
    and total=true). Each stream's first answer triggers the next `depth` of them, so at most
    `depth` pages wait, and only answers to exactly the expected request are used.
    """

    def __init__(self, tap: TapPagerDuty) -> None:
        self.tap = tap
        self.depth = 4 * tap.settings.max_concurrency
        self.lock = threading.Lock()
        self.started: set[str] = set()
        self.requested: set[str] = set()
        self.ahead: dict[str, tuple[str, dict[str, t.Any], Future[dict[str, t.Any]]]] = {}

    @cached_property
    def order(self) -> list[str]:
        return list(self.tap.streams)

    def predictable(self, stream: Stream) -> bool:
        kind = type(stream)
        return (
            isinstance(stream, ListStream)
            and kind.get_records is ListStream.get_records
            and getattr(kind, "pages", None) is ListStream.pages
            and stream.parent_stream_type is None
            and (stream.selected or stream.has_selected_descendents)
        )

    def after(self, stream: Stream) -> None:
        if stream.name in self.started:  # the usual case: nothing to do
            return
        with self.lock:
            if stream.name in self.started or stream.name not in self.order:
                return
            self.started.add(stream.name)
            position = self.order.index(stream.name)
            upcoming = [
                self.tap.streams[name]
                for name in self.order[position + 1 :]
                if name not in self.started
            ]
            for nxt in [s for s in upcoming if self.predictable(s)][: self.depth]:
                if nxt.name in self.requested:
                    continue
                self.requested.add(nxt.name)
                listing = t.cast("ListStream", nxt)
                params = {"limit": self.tap.settings.page_size, "offset": 0, "total": "true"}
                future = self.tap.submit(listing.fetch_ahead, listing.path, params)
                self.ahead[nxt.name] = (listing.path, params, future)

    def take(
        self,
        stream: Stream,
        path: str,
        params: dict[str, t.Any] | None,
        body: dict[str, t.Any] | None,
    ) -> Future[dict[str, t.Any]] | None:
        if not self.ahead or body is not None:
            return None
        with self.lock:
            entry = self.ahead.get(stream.name)
            if entry is None or entry[0] != path or entry[1] != (params or {}):
                return None
            del self.ahead[stream.name]
            return entry[2]

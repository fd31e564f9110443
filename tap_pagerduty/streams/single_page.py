"""Endpoints PagerDuty answers in one response, without paging parameters."""

from __future__ import annotations

import typing as t

from tap_pagerduty.streams.base import ChildStream, ListStream, Records

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pagerduty.prefetch import Request


class SinglePageList(ListStream):
    """A listing PagerDuty answers in one response (no paging parameters)."""

    def pages(self) -> Iterator[Records]:
        yield self.fetch(self.path, {}).get(self.key) or []

    def lookahead_requests(self) -> list[Request]:
        return [(self.path, {}, None)]


class SinglePageChild(ChildStream):
    """Children PagerDuty answers in one response (no paging parameters)."""

    def fetch_children(self, parent_id: str) -> Records:
        path = self.path.format(**{self.parent_key: parent_id})
        return list(self.fetch(path).get(self.key) or [])

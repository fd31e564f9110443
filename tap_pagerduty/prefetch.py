"""Look-ahead: the first requests of upcoming streams, sent while earlier streams run.

The SDK syncs one stream at a time, so every stream start would leave the request slots idle
for one round trip. A stream that knows its first requests before it starts declares them
(`PagerDutyStream.lookahead_requests`). As soon as the sync has PagerDuty's clock (after its
first answer), those of every later selected stream are queued on the worker pool, in stream
order; when a stream sends the same request, it takes the answer instead of sending it again.
The requests are the same, only sent sooner, and nothing but fetching happens ahead: records,
messages and state stay with the stream when the SDK syncs it. The engine (`engine.py`)
consults the look-ahead on every request.
"""

from __future__ import annotations

import json
import threading
import typing as t

if t.TYPE_CHECKING:
    from concurrent.futures import Future

    from tap_pagerduty.client import PagerDutyStream
    from tap_pagerduty.engine import Engine
    from tap_pagerduty.streams.base import ParentStream

#: A listing whose first page announces at most this many more pages is read ahead whole.
MAX_PAGES_AHEAD = 20

#: One request: path, query parameters, JSON body (None for a GET).
Request = tuple[str, dict[str, t.Any], "dict[str, t.Any] | None"]


def request_key(path: str, params: dict[str, t.Any] | None, body: dict[str, t.Any] | None) -> str:
    return json.dumps([path, params or {}, body], sort_keys=True, default=str)


class LookAhead:
    """Answers to upcoming streams' declared first requests, requested ahead once per run."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.planned: set[str] = set()
        #: Streams whose pages read ahead get their children requested at once.
        self.parents_ahead: set[str] = set()
        self.ahead: dict[str, dict[str, Future[dict[str, t.Any]]]] = {}

    def plan(self, current: PagerDutyStream, *, clock_known: bool) -> None:
        """Queue the declared first requests of every selected stream after `current`.

        Runs on the main thread (planning reads stream state), twice per run: before the
        run's first request for the streams whose first requests do not depend on PagerDuty's
        clock, and after its first answer for those that do (their range ends at "now")."""
        phase = "clock" if clock_known else "listings"
        if phase in self.planned or threading.current_thread() is not threading.main_thread():
            return
        self.planned.add(phase)
        streams = self.engine.streams()
        names = list(streams)
        if current.name not in names:
            return
        for name in names[names.index(current.name) + 1 :]:
            stream = t.cast("PagerDutyStream", streams[name])
            if stream.parent_stream_type is not None or not stream.selected:
                continue
            if stream.lookahead_needs_clock != clock_known:
                continue
            if stream.children_ahead():
                self.parents_ahead.add(name)
            for path, params, body in stream.lookahead_requests():
                future = self.engine.submit(self.engine.fetch_ahead, stream, path, params, body)
                with self.lock:
                    self.ahead.setdefault(name, {})[request_key(path, params, body)] = future

    def expand(
        self,
        stream: PagerDutyStream,
        path: str,
        params: dict[str, t.Any],
        first: dict[str, t.Any],
    ) -> None:
        """After a classic first page answered ahead: request its other pages too (a short
        listing only). Runs inside the first page's task, so the pages are registered before
        the stream can see the first page and ask for them itself."""
        if stream.name in self.parents_ahead:
            t.cast("ParentStream", stream).prepare_ahead(first.get(stream.key) or [])
        if params.get("offset") != 0 or params.get("total") != "true":
            return
        base = {k: v for k, v in params.items() if k not in ("limit", "offset", "total")}
        queries = stream.later_page_queries(base, first) or []
        if len(queries) > MAX_PAGES_AHEAD:
            return
        queries = queries[: stream.pages_ahead]
        for query in queries:
            future = self.engine.submit(self.engine.fetch_ahead, stream, path, query)
            with self.lock:
                self.ahead.setdefault(stream.name, {})[request_key(path, query, None)] = future

    def take(
        self,
        stream: PagerDutyStream,
        path: str,
        params: dict[str, t.Any] | None,
        body: dict[str, t.Any] | None,
    ) -> Future[dict[str, t.Any]] | None:
        """The answer requested ahead for exactly this request of this stream, if any."""
        if not self.ahead:
            return None
        with self.lock:
            waiting = self.ahead.get(stream.name)
            if not waiting:
                return None
            return waiting.pop(request_key(path, params, body), None)

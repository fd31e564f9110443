"""The base stream: settings, availability and PagerDuty's two paging styles.

A stream asks for a request with `PagerDutyStream.fetch`; the engine (`engine.py`) does the
rest: look-ahead, throttle, retries, errors, the clock. The paging helpers here walk classic
offset/limit/total listings (first page, then the rest concurrently, time windows split
under the offset cap) and cursor listings; a few streams page by hand where the API pages its
own way (the analytics query in streams/history.py, the abilities list in streams/account.py).
"""

from __future__ import annotations

import itertools
import typing as t
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from functools import cached_property

import msgspec
from singer_sdk import SchemaDirectory
from singer_sdk.exceptions import SyncLifecycleSignal

from tap_pagerduty.availability import UNAVAILABLE_STATUSES
from tap_pagerduty.engine import cancel
from tap_pagerduty.errors import PagerDutyAPIError, PagingError
from tap_pagerduty.oauth import filter_listings
from tap_pagerduty.output import FastRecordMessages
from tap_pagerduty.prefetch import Request
from tap_pagerduty.schema_files import StreamSchemaWithExtra, schema_dir
from tap_pagerduty.windows import OFFSET_CAP, Window

if t.TYPE_CHECKING:
    from datetime import datetime

    from singer_sdk.helpers.types import Context

    from tap_pagerduty.engine import Engine
    from tap_pagerduty.run import Run, Slot
    from tap_pagerduty.settings import Settings
    from tap_pagerduty.tap import TapPagerDuty

_T = t.TypeVar("_T")


class PageGuard:
    """Checks that the pages of one listing move forward, before their records are used.

    A proxy that caches, a gateway that rewrites, or an API bug can answer `more: true`
    forever; without these checks a stream would page to the offset cap (emitting the same
    records again) or follow a cursor in a circle. The stream ends with one error instead.
    """

    def __init__(self, stream: str, path: str, method: str = "GET") -> None:
        self.where = f"{stream}: {method} {path}"
        self.previous: set[t.Any] = set()
        self.cursors: set[str] = set()

    def check_page(
        self,
        records: list[dict[str, t.Any]],
        *,
        offset: int | None = None,
        more: bool = False,
        total: t.Any = None,
    ) -> None:
        at = "" if offset is None else f" (offset {offset})"
        keys = {_record_key(record) for record in records}
        # Pages overlap by one record (see `ListingDrift`); a listing that shrank while read
        # can end on a page of records already read, but only a fault says more follow.
        if keys and keys <= self.previous and (more or offset is None):
            raise PagingError(
                f"{self.where}{at}: the page repeats the previous page's records; the stream "
                "stops here instead of looping (a caching proxy or an API fault?)"
            )
        self.previous = keys
        if (
            more
            and offset is not None
            and isinstance(total, int)
            and offset + len(records) >= total
        ):
            raise PagingError(
                f"{self.where}{at}: the page says more records follow offset "
                f"{offset + len(records)}, beyond PagerDuty's own total of {total}; the stream "
                "stops here instead of paging on (a caching proxy or an API fault?)"
            )

    def check_cursor(self, cursor: str) -> None:
        if cursor in self.cursors:
            raise PagingError(
                f"{self.where}: next_cursor {cursor[:40]!r} does not advance; the stream stops "
                "here instead of looping (a caching proxy or an API fault?)"
            )
        self.cursors.add(cursor)


def _record_key(record: dict[str, t.Any]) -> t.Any:
    """What tells records apart: PagerDuty's `id`, or the whole record when it has none."""
    key = record.get("id") if isinstance(record, dict) else None
    return key if key is not None else msgspec.json.encode(record)


class ListingDrift:
    """Notices that an offset-paged listing changed while it was read.

    PagerDuty pages by position: an entity removed ahead of the offset moves every later
    row up one place (the next page skips one), one added moves them down (a row comes
    twice). So consecutive pages overlap by one record: each page after a full one must
    start with the record that ended it. A page that starts elsewhere (or is empty), or
    repeats a record read before, means rows moved between the two reads; the stream then
    reads the listing once more (`PagerDutyStream._remaining_pages`).
    """

    def __init__(self, limit: int) -> None:
        self.overlap = 1 if limit > 1 else 0
        self.limit = limit
        self.seen: set[t.Any] = set()
        self.previous: list[dict[str, t.Any]] | None = None

    @property
    def stride(self) -> int:
        """How far each page's offset is from the previous one's."""
        return self.limit - self.overlap

    def fresh(self, records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]] | None:
        """The next page's records not read before, or None when the listing moved."""
        previous, self.previous = self.previous, records
        if self.overlap and previous is not None and len(previous) >= self.limit:
            if not records or _record_key(records[0]) != _record_key(previous[-1]):
                return None
            records = records[1:]
        keys = [_record_key(record) for record in records]
        if any(k in self.seen for k in keys) or len(set(keys)) < len(keys):
            return None
        self.seen.update(keys)
        return records


class PagerDutyStream(FastRecordMessages):
    """Base for every PagerDuty stream.

    Streams override `get_records` and fetch through the engine (`engine.py`), which owns
    headers, credentials, sessions and retries. They are SDK `Stream`s, not `RESTStream`s:
    a stream defining one of `RESTStream`'s hooks fails when its class is created, saying
    what to do instead (`sdk_seams.UNUSED_REST_HOOKS`)."""

    #: Every stream class names itself; declared here, with a value, so that the name reads
    #: typed on the class too (`cls.name for cls in STREAM_TYPES`), not only on instances.
    name: str = ""
    schema = StreamSchemaWithExtra(SchemaDirectory(schema_dir()))
    primary_keys: t.ClassVar[tuple[str, ...]] = ("id",)
    #: Key of the record list in the response body; defaults to the stream name.
    records_key: t.ClassVar[str | None] = None
    #: Query parameters every request of the stream carries (includes, filters).
    extra_params: t.ClassVar[dict[str, t.Any]] = {}
    #: The HTTP method of the stream's requests to its `path` (analytics queries: POST).
    method: t.ClassVar[str] = "GET"
    #: Operations the stream sends besides `method path`, as PagerDuty's reference names
    #: them ("GET /log_entries"): listings it reads to decide what to request.
    also_sends: t.ClassVar[tuple[str, ...]] = ()
    #: The id filter its analytics queries take under OAuth and user-level keys
    #: ("service_ids", or "team_ids"), read from a listing (see `oauth.analytics_filter`).
    access_kind: t.ClassVar[str | None] = None
    #: Results of other streams this one reads in a run (`run.py`'s slots): `needs`, the run
    #: refuses to start without their producer; `uses`, read when their producer synced in
    #: this run (the stream does the work itself otherwise). `produces`: results it hands to
    #: the streams that read them. The run syncs every producer before its readers.
    needs: t.ClassVar[tuple[Slot[t.Any], ...]] = ()
    uses: t.ClassVar[tuple[Slot[t.Any], ...]] = ()
    produces: t.ClassVar[tuple[Slot[t.Any], ...]] = ()

    @classmethod
    def path_template(cls) -> str | None:
        """The path of the stream's own requests, as PagerDuty's reference writes it
        ("/incidents/{incident_id}/alerts"); None for a stream that sends none (children
        embedded in their parent's answer)."""
        path = getattr(cls, "path", None)
        return path if isinstance(path, str) and path else None

    @classmethod
    def operations(cls, settings: Settings | None = None) -> frozenset[str]:
        """Every operation ("METHOD /path/{template}") a sync of this stream sends: its
        own, the listings it reads, its analytics filter's listing under `settings` (None:
        under any settings) and its parent's (the SDK syncs the parent of a selected
        child). Its OAuth scopes are those of these operations (`oauth.selected_scopes`)."""
        path = cls.path_template()
        found = {f"{cls.method} {path}"} if path else set()
        found.update(cls.also_sends)
        if cls.access_kind:
            found.update(f"GET {listing}" for listing in filter_listings(cls.access_kind, settings))
        parent = getattr(cls, "parent_stream_type", None)
        if isinstance(parent, type) and issubclass(parent, PagerDutyStream):
            found |= parent.operations(settings)
        return frozenset(found)

    def __init__(self, tap: TapPagerDuty, *args: t.Any, **kwargs: t.Any) -> None:
        self._pagerduty_tap = tap  # first: the SDK reads the schema while it builds the stream
        super().__init__(tap, *args, **kwargs)
        self._answered = False  # whether PagerDuty has answered one request of this stream

    # -- configuration -------------------------------------------------------------------

    @property
    def tap(self) -> TapPagerDuty:
        return self._pagerduty_tap

    @property
    def settings(self) -> Settings:
        return self.tap.settings

    @cached_property
    def engine(self) -> Engine:
        """The run's HTTP engine: every request of this stream goes through it."""
        return self.tap.engine

    def keeps_unknown_fields(self) -> bool:
        """Whether fields the schema does not list go to `_extra` (see `output.py`)."""
        return self.settings.extra.unknown_fields == "keep"

    @property
    def run(self) -> Run:
        """The sync this stream is part of: settings, engine, shared results (`run.py`)."""
        return self.tap.run

    def reads(self, slot: Slot[t.Any]) -> bool:
        """Whether this stream reads `slot` (one of its `needs` or `uses`) in this run, as
        its producer asks (`Run.wanted`); a stream that reads it only sometimes says when."""
        return True

    @property
    def key(self) -> str:
        return self.records_key or self.name

    #: Whether an account may lack this stream (a product, a plan feature, a scope, an
    #: endpoint PagerDuty retired): see `skip_if_unavailable` and `availability.py`.
    optional: t.ClassVar[bool] = False

    def skip_if_unavailable(self, items: Iterator[_T]) -> Iterator[_T]:
        """`items`, or nothing and one warning when this stream is `optional` and its first
        request is refused as unavailable (402/403/404/410). A refusal after PagerDuty has
        answered the stream once fails the run as usual: the stream exists, so the refusal is
        not about availability."""
        try:
            yield from items
        except PagerDutyAPIError as error:
            if not (self.optional and not self._answered and error.status in UNAVAILABLE_STATUSES):
                raise
            self.logger.warning("Skipping optional stream '%s': %s", self.name, error)

    def emit(self, records: Iterable[dict[str, t.Any]]) -> Iterator[dict[str, t.Any]]:
        """Hand records to the SDK; parents override this to prepare their children."""
        yield from records

    # -- requests: all through the engine ----------------------------------------------------

    def fetch(
        self,
        path: str,
        params: dict[str, t.Any] | None = None,
        *,
        body: dict[str, t.Any] | None = None,
        context: Context | None = None,
    ) -> dict[str, t.Any]:
        """Send one GET (or the read-only analytics POST) and return the parsed body; see
        `engine.py` for what happens to it. Safe on worker threads."""
        payload = self.engine.fetch(self, path, params, body=body, context=context)
        self._answered = True
        return payload

    def server_now(self) -> datetime:
        """PagerDuty's current time (from the `Date` header), one probe if none seen yet."""
        return self.engine.server_now(self)

    # -- look-ahead: what this stream declares (see prefetch.py) ------------------------------

    #: How many pages after a first page read ahead may be read ahead too (None: a whole
    #: short listing).
    pages_ahead: t.ClassVar[int | None] = None
    #: Whether `lookahead_requests` needs PagerDuty's clock (ranges that end at "now").
    lookahead_needs_clock: t.ClassVar[bool] = False

    def children_ahead(self) -> bool:
        return False

    def lookahead_requests(self) -> list[Request]:
        """The requests this stream sends first, if it knows them before it starts (they
        are then sent ahead, while earlier streams run). Default: none."""
        return []

    def around_sync(self, sync: Callable[[], None]) -> None:
        """The SDK's sync (`sdk_seams.StreamSeams.sync`); an error ending it stops every
        other request of the run first (queued ones cancelled, those in flight awaited), so
        the error line comes last."""
        try:
            sync()
        except SyncLifecycleSignal:  # the SDK's own control flow (a record limit, an abort)
            raise
        except Exception as error:
            fatal = self.engine.stop(error)
            self.engine.wait_idle()
            if fatal is error:
                raise
            raise fatal from None

    # -- paging ------------------------------------------------------------------------------

    #: Whether the stream's classic listing takes `total` (the spec does not declare it
    #: everywhere; without it, pages are followed one after another by `more`).
    counts_total: t.ClassVar[bool] = True

    def first_page_query(self, params: dict[str, t.Any]) -> dict[str, t.Any]:
        """The query of a classic listing's first page: it asks for `total` where the
        listing takes it, so that the other pages are known at once."""
        total = {"total": "true"} if self.counts_total else {}
        return {**params, "limit": self.settings.page_size, "offset": 0, **total}

    def cursor_first_query(self, params: dict[str, t.Any]) -> dict[str, t.Any]:
        return {**params, "limit": self.settings.page_size}

    def classic_pages(
        self, path: str, params: dict[str, t.Any]
    ) -> Iterator[list[dict[str, t.Any]]]:
        """All pages of one classic (offset/limit/more) listing, in order (main thread only).

        The first page asks for `total`, so the remaining pages are known and fetched
        concurrently (up to `max_concurrency` in flight); pages come back in order.
        """
        limit = self.settings.page_size
        first = self.fetch(path, self.first_page_query(params))
        yield from self._remaining_pages(path, params, first, limit)

    def sequential_pages(
        self,
        path: str,
        params: dict[str, t.Any],
        limit: int,
        offset: int = 0,
        key: str | None = None,
        *,
        guard: PageGuard | None = None,
        total: bool = False,
    ) -> Iterator[list[dict[str, t.Any]]]:
        """Pages one after another, following `more`; safe to call from a worker thread.

        With `total`, each page asks for PagerDuty's total, so that `more` past it is caught.
        """
        guard = guard or PageGuard(self.name, path)
        count = {"total": "true"} if total else {}
        while offset + limit <= OFFSET_CAP:
            page = self.fetch(path, {**params, "limit": limit, "offset": offset, **count})
            records = page.get(key or self.key) or []
            more = bool(page.get("more"))
            guard.check_page(records, offset=offset, more=more, total=page.get("total"))
            yield records
            if not more or not records:
                return
            offset += len(records)
        self._warn_offset_cap(path, offset)

    def window_pages(
        self,
        path: str,
        params: dict[str, t.Any],
        windows: Iterable[Window],
        *,
        key: str | None = None,
        lookahead: int = 3,
        pages_ahead: int | None = None,
    ) -> Iterator[tuple[Window, list[dict[str, t.Any]] | None]]:
        """Pages of consecutive time windows, in window order.

        Yields `(window, records)` for each page and `(window, None)` once a window is
        complete, so the caller can checkpoint. The first pages of the next `lookahead`
        windows are requested ahead; a window holding more records than the offset cap
        is split into smaller windows before any of its records are read.
        """
        limit = self.settings.page_size
        upcoming = iter(windows)
        pending: deque[tuple[Window, Future[WindowStart]]] = deque()
        # A window read ahead also starts its next pages as soon as its first page is back,
        # a few only (memory stays bounded): the slots stay busy across window boundaries.
        lead = min(self.settings.max_concurrency, pages_ahead or self.settings.max_concurrency)

        def first_page(window: Window) -> Future[WindowStart]:
            window_params = {**params, **window.params()}
            return self.engine.submit(self._start_window, path, window_params, lead)

        def top_up() -> None:
            while len(pending) < lookahead:
                window = next(upcoming, None)
                if window is None:
                    return
                pending.append((window, first_page(window)))

        try:
            top_up()
            while pending:
                window, future = pending.popleft()
                # The next windows' first pages go out now, not once this window has been
                # consumed: otherwise every window boundary idles the slots for a round trip.
                top_up()
                start = future.result()
                first = start.first
                if self._past_offset_cap(first) and window.can_split():
                    total = int(first["total"])
                    cancel(start.ahead)
                    parts = window.split(total)
                    self.logger.info(
                        "%s: window %s holds %d records; splitting it in %d",
                        self.name,
                        window,
                        total,
                        len(parts),
                    )
                    for part in reversed(parts):
                        pending.appendleft((part, first_page(part)))
                    continue
                window_params = {**params, **window.params()}
                remaining = self._remaining_pages(
                    path,
                    window_params,
                    first,
                    limit,
                    key,
                    pages_ahead=pages_ahead,
                    ahead=start.ahead,
                )
                for records in remaining:
                    yield window, records
                yield window, None
        finally:  # closed early (an error, or a killed run): drop what is queued
            for _, future in pending:
                future.cancel()
                if future.done() and not future.cancelled() and future.exception() is None:
                    cancel(future.result().ahead)

    def _past_offset_cap(self, first: dict[str, t.Any]) -> bool:
        """Whether a listing's first page announces more records than offset paging reaches
        (its window is split before any of its records are read)."""
        total = first.get("total")
        return isinstance(total, int) and total + self.settings.page_size > OFFSET_CAP

    def _start_window(self, path: str, params: dict[str, t.Any], lead: int) -> WindowStart:
        """A window's first page and, unless it must be split, requests for up to `lead` of
        its next pages (runs on a worker thread, as soon as a slot is free)."""
        first = self.fetch(path, self.first_page_query(params))
        if self._past_offset_cap(first):
            return WindowStart(first, [])  # may be split: its pages are not known yet
        queries = (self.later_page_queries(params, first) or [])[:lead]
        return WindowStart(first, [self.engine.submit(self.fetch, path, q) for q in queries])

    def _remaining_pages(
        self,
        path: str,
        params: dict[str, t.Any],
        first: dict[str, t.Any],
        limit: int,
        key: str | None = None,
        *,
        pages_ahead: int | None = None,
        ahead: list[Future[dict[str, t.Any]]] | None = None,
    ) -> Iterator[list[dict[str, t.Any]]]:
        """The pages after `first`, requested concurrently: all at once, or at most
        `pages_ahead` beyond the one being read (a stream whose pages are slow to consume,
        because of their children, then loses little if it is killed); `ahead`: requests
        already sent for the first of them, in order. Each page is
        checked by one `PageGuard` before its records are handed on, and by one
        `ListingDrift`: a listing that changed while it was paged is read once more, and
        only records not handed on yet are (so each entity that existed throughout the
        read comes exactly once)."""
        key = key or self.key
        guard = PageGuard(self.name, path)
        drift = ListingDrift(limit)
        records = first.get(key) or []
        total = first.get("total")
        guard.check_page(records, offset=0, more=bool(first.get("more")), total=total)
        queries = self.later_page_queries(params, first)
        if queries is None:  # no `total`: follow `more`
            cancel(ahead or [])
            yield drift.fresh(records) or []
            pages = self.sequential_pages(path, params, limit, len(records), key, guard=guard)
            yield from _unseen(pages, drift.seen)
            return
        window = len(queries) if pages_ahead is None else pages_ahead + 1
        waiting = iter(queries)
        offsets = iter([query["offset"] for query in queries])
        # Requested before the first page is handed on: its records (and their children)
        # take a while to consume, and the next page must be there when they are done.
        futures: deque[Future[dict[str, t.Any]]] = deque(ahead or ())
        for _ in futures:  # those were requested with the first page
            next(waiting)
        futures.extend(
            self.engine.submit(self.fetch, path, query)
            for query in itertools.islice(waiting, max(0, window - len(futures)))
        )
        last = first
        moved = False
        try:
            yield drift.fresh(records) or []
            while futures:
                last = futures.popleft().result()
                upcoming = next(waiting, None)
                if upcoming is not None:
                    futures.append(self.engine.submit(self.fetch, path, upcoming))
                page = last.get(key) or []
                guard.check_page(page, offset=next(offsets), more=bool(last.get("more")))
                fresh = drift.fresh(page)
                if fresh is None:
                    moved = True
                    break
                yield fresh
        finally:
            cancel(futures)
        if moved:
            yield from self._read_again(path, params, limit, key, drift.seen)
            return
        if not queries:
            return
        if isinstance(total, int) and total > OFFSET_CAP:
            self._warn_offset_cap(path, OFFSET_CAP, total)
        elif last.get("more"):  # the listing grew while it was read
            offset = queries[-1]["offset"] + limit
            pages = self.sequential_pages(path, params, limit, offset, key, guard=guard, total=True)
            yield from _unseen(pages, drift.seen)

    def _read_again(
        self, path: str, params: dict[str, t.Any], limit: int, key: str, emitted: set[t.Any]
    ) -> Iterator[list[dict[str, t.Any]]]:
        """Read a listing that moved while it was paged once more, page after page, handing
        on only what was not handed on yet. Should it move again, what moved may be missed
        in this run: one warning says so (the next run reads it; never a loop)."""
        self.logger.info(
            "%s: %s changed while it was paged (rows added or removed ahead of the offset); "
            "reading it once more",
            self.name,
            path,
        )
        self.tap.run_report.listing_reread(self.name)
        guard = PageGuard(self.name, path)
        drift = ListingDrift(limit)
        offset, warned = 0, False
        while offset + limit <= OFFSET_CAP:
            answer = self.fetch(path, {**params, "limit": limit, "offset": offset, "total": "true"})
            records = answer.get(key) or []
            more = bool(answer.get("more"))
            guard.check_page(records, offset=offset, more=more, total=answer.get("total"))
            if drift.fresh(records) is None and not warned:
                warned = True
                self.logger.warning(
                    "%s: %s changed again while it was read a second time; rows moved "
                    "meanwhile may be missing from this run (the next run reads them)",
                    self.name,
                    path,
                )
            yield [r for r in records if _record_key(r) not in emitted]
            emitted.update(_record_key(r) for r in records)
            if not more or not records:
                return
            offset += max(1, len(records) - drift.overlap)
        self._warn_offset_cap(path, offset)

    def _warn_offset_cap(self, path: str, offset: int, total: int | None = None) -> None:
        """Never silently short: records past PagerDuty's offset cap cannot be read."""
        held = f"holds {total} records; " if total is not None else "has more records; "
        self.logger.warning(
            "%s: %s %sPagerDuty's offset paging reaches only the first %d, the rest is not synced",
            self.name,
            path,
            held,
            min(offset, OFFSET_CAP),
        )

    def later_page_queries(
        self, params: dict[str, t.Any], first: dict[str, t.Any]
    ) -> list[dict[str, t.Any]] | None:
        """The queries of the pages after a classic first page, from its `total` (up to the
        offset cap), each page starting on the last record of the one before (see
        `ListingDrift`); None when the answer has no `total`."""
        if not first.get("more"):
            return []
        total = first.get("total")
        if not isinstance(total, int):
            return None
        limit = self.settings.page_size
        drift = ListingDrift(limit)  # pages overlap by one record
        offsets = range(
            drift.stride, min(total - drift.overlap, OFFSET_CAP - limit + 1), drift.stride
        )
        return [{**params, "limit": limit, "offset": o} for o in offsets]

    def cursor_pages(
        self,
        path: str,
        params: dict[str, t.Any],
        first: Future[dict[str, t.Any]] | None = None,
    ) -> Iterator[list[dict[str, t.Any]]]:
        """Pages of a cursor-paged listing (`cursor` / `next_cursor`); `first`: its first
        page, already requested."""
        guard = PageGuard(self.name, path)
        cursor: str | None = None
        for _ in range(1_000_000):  # bounded; a server that loops is caught by the guard
            if first is not None:
                page, first = first.result(), None
            else:
                query = self.cursor_first_query(params)
                if cursor:
                    query["cursor"] = cursor
                page = self.fetch(path, query)
            records = page.get(self.key) or []
            guard.check_page(records)
            yield records
            cursor = page.get("next_cursor")
            if not cursor:
                return
            guard.check_cursor(cursor)

    def window_cursor_pages(
        self, path: str, windows: Iterable[Window], *, lookahead: int = 3
    ) -> Iterator[tuple[Window, list[dict[str, t.Any]] | None]]:
        """Pages of a cursor-paged listing in consecutive time windows, in window order, as
        `window_pages` yields them. A cursor chain is sequential, so the first pages of the
        next `lookahead` windows are requested ahead, to keep the request slots busy."""
        upcoming = iter(windows)
        pending: deque[tuple[Window, Future[dict[str, t.Any]]]] = deque()

        def top_up() -> None:
            while len(pending) < lookahead:
                window = next(upcoming, None)
                if window is None:
                    return
                query = self.cursor_first_query(window.params())
                pending.append((window, self.engine.submit(self.fetch, path, query)))

        try:
            top_up()
            while pending:
                window, first = pending.popleft()
                top_up()
                for records in self.cursor_pages(path, window.params(), first):
                    yield window, records
                yield window, None
        finally:  # closed early (an error, or a killed run): drop what is queued
            cancel([future for _, future in pending])


class WindowStart(t.NamedTuple):
    """A window's first page, and the requests already sent for its next pages."""

    first: dict[str, t.Any]
    ahead: list[Future[dict[str, t.Any]]]


def _unseen(
    pages: Iterable[list[dict[str, t.Any]]], seen: set[t.Any]
) -> Iterator[list[dict[str, t.Any]]]:
    """`pages` without the records already handed on (a listing that grew while read)."""
    for page in pages:
        fresh = [r for r in page if _record_key(r) not in seen]
        seen.update(_record_key(r) for r in fresh)
        yield fresh

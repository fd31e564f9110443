"""The shapes streams take: a full listing (`ListStream`), a parent whose records have
children (`ParentStream`), a child read per parent record (`ChildStream`) or embedded in the
parent's answer (`EmbeddedChildStream`), and an incremental stream (`IncrementalStream`),
most of them a listing walked in time windows with a bookmark at each window's end
(`WindowedStream`)."""

from __future__ import annotations

import itertools
import typing as t
from concurrent.futures import Future
from datetime import datetime, timedelta
from functools import cached_property

import msgspec

from tap_pagerduty.client import PagerDutyStream
from tap_pagerduty.engine import cancel
from tap_pagerduty.errors import PagerDutyAPIError
from tap_pagerduty.state import Bookmark, OverlapBookmark
from tap_pagerduty.windows import Window, iso_z, parse_time, windows_between

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from singer_sdk.helpers.types import Context, Record

    from tap_pagerduty.prefetch import Request

Records = list[dict[str, t.Any]]
#: A child request answering these for a parent listed earlier in the run: the parent is gone.
GONE_STATUSES = frozenset({404, 410})


class ListStream(PagerDutyStream):
    """A full-refresh listing of one endpoint (classic paging)."""

    path: str

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        for page in self.skip_if_unavailable(self.pages()):
            yield from self.emit(page)

    def pages(self) -> Iterator[Records]:
        yield from self.classic_pages(self.path, {})

    def lookahead_requests(self) -> list[Request]:
        """The first page of `pages()`; a stream that overrides `pages` overrides this."""
        return [(self.path, self.first_page_query({}), None)]


class ParentStream(PagerDutyStream):
    """A stream whose records have children: children are fetched ahead, in parallel."""

    #: Context key naming this stream's record id for its children (e.g. "incident_id").
    child_key: t.ClassVar[str] = ""

    def get_child_context(self, record: Record, context: Context | None) -> Context:
        return {self.child_key: record["id"]}

    def children_ahead(self) -> bool:
        """Whether every record of a page read ahead will be emitted as read, so that its
        children can be requested at once (decided on the main thread when planning)."""
        return True

    def selected_children(self) -> list[ChildStream]:
        return [
            child
            for child in self.child_streams
            if isinstance(child, ChildStream) and (child.selected or child.has_selected_descendents)
        ]

    def selected_child(self, name: str) -> ChildStream | None:
        """This stream's child `name` when it syncs in this run (the SDK links children to
        their parent: a parent drives its own children, never another stream)."""
        return next((child for child in self.selected_children() if child.name == name), None)

    def prepare_ahead(self, records: Records) -> None:
        """A page of this stream was read ahead: request the children that allow it, for
        its first records (`emit` requests the rest as it goes)."""
        ahead = [c for c in self.selected_children() if c.prepares_ahead]
        self.prepare_children(records[: self.records_ahead()], ahead)

    @staticmethod
    def prepare_children(records: Records, children: list[ChildStream]) -> None:
        """Request children record by record (all children of the first record first), in
        the order the SDK will sync them: the first record is done soonest."""
        for record in records:
            for child in children:
                child.prepare([record])

    def records_ahead(self) -> int | None:
        """How many records ahead of the one being written have their children requested
        (None: all of the batch). A stream that resumes inside a listing when killed keeps
        this small, so that a killed run loses little."""
        return None

    def emit(
        self,
        records: Iterable[dict[str, t.Any]],
        upcoming: Callable[[], Records] | None = None,
    ) -> Iterator[dict[str, t.Any]]:
        """Yield `records`, their children requested a few records ahead (`records_ahead`).
        `upcoming`: the records of the batch after this one, asked for once near its end,
        so that their children are requested ahead too (no idle round trip between
        batches)."""
        records = list(records)
        children = self.selected_children()
        ahead = self.records_ahead() or len(records)
        following: Records | None = None
        self.prepare_children(records[:ahead], children)
        try:
            for index, record in enumerate(records):
                step = index + ahead
                if step < len(records):
                    self.prepare_children([records[step]], children)
                elif upcoming is not None:
                    following = upcoming() if following is None else following
                    self.prepare_children(
                        following[step - len(records) : step - len(records) + 1], children
                    )
                yield record
        except GeneratorExit:  # the sync stopped early: drop children fetched ahead
            for child in children:
                child.discard_prepared()
            raise


class ChildStream(PagerDutyStream):
    """Records that belong to one parent record each (an incident's alerts, a team's members).

    The parent calls `prepare()` with each batch before emitting it; children that need
    requests are fetched on worker threads meanwhile (up to `max_concurrency` in flight),
    and `get_records()` only collects the result when the SDK syncs the child.
    """

    #: Path template naming the parent key, e.g. "/incidents/{incident_id}/alerts".
    path: str
    parent_key: t.ClassVar[str]
    # One bookmark for the stream, not one state partition per parent record.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._ready: dict[str, Future[Records] | Records] = {}
        self._schema_sent = False

    def write_schema_message(self) -> None:
        """Once per run: the SDK would repeat SCHEMA for every parent record, and targets
        such as target-duckdb flush all their buffers on each SCHEMA (minutes per sync)."""
        if not self._schema_sent:
            super().write_schema_message()
            self._schema_sent = True

    #: Whether children may be requested as soon as the parent's page is read ahead
    #: (`wanted` must then depend on the parent record alone, not on the run's state).
    prepares_ahead: t.ClassVar[bool] = True

    def wanted(self, parent: dict[str, t.Any]) -> bool:
        """Whether this parent's children must be read (a stream can know some have none)."""
        return True

    def prepare(self, parents: Records) -> None:
        for parent in parents:
            if parent["id"] in self._ready:  # already requested ahead
                continue
            if self.wanted(parent):
                self._ready[parent["id"]] = self.engine.submit(self.fetch_children, parent["id"])
            else:
                self._ready[parent["id"]] = []

    def discard_prepared(self) -> None:
        cancel([r for r in list(self._ready.values()) if isinstance(r, Future)])
        self._ready.clear()

    def fetch_children(self, parent_id: str) -> Records:
        """Fetch one parent's children (runs on a worker thread)."""
        path = self.path.format(**{self.parent_key: parent_id})
        children: Records = []
        for page in self.sequential_pages(path, {}, self.settings.page_size):
            children.extend(page)
        return children

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        parent_id = (context or {})[self.parent_key]
        try:
            ready = self._ready.pop(parent_id, None)
            if ready is None:
                ready = self.fetch_children(parent_id)
            records = ready.result() if isinstance(ready, Future) else ready
        except PagerDutyAPIError as error:
            if error.status not in GONE_STATUSES:
                raise
            self.parent_gone(parent_id, error)
            return
        for record in records:
            yield {**record, self.parent_key: parent_id}

    def parent_gone(self, parent_id: str, error: PagerDutyAPIError) -> None:
        """The parent was listed earlier in this run but is gone now (deleted, merged): a
        living account, not a fault. Its children are skipped with one line, and the run's
        summary counts it."""
        parent = self.parent_key.removesuffix("_id")
        self.logger.warning(
            "%s: skipping %s %s, listed earlier in this run but gone now (HTTP %d): "
            "deleted or merged meanwhile",
            self.name,
            parent,
            parent_id,
            error.status,
        )
        self.tap.run_report.parent_gone(self.name)


class EmbeddedChildStream(ChildStream):
    """Children that the parent's response already embeds (via `include[]`): no requests."""

    embedded_field: t.ClassVar[str]

    def prepare(self, parents: Records) -> None:
        for parent in parents:
            self._ready[parent["id"]] = list(parent.get(self.embedded_field) or [])

    def fetch_children(self, parent_id: str) -> Records:
        """There is no endpoint to ask: the parent must have prepared its records."""
        raise RuntimeError(
            f"{self.name}: the parent stream did not hand over the embedded "
            f"'{self.embedded_field}' of record {parent_id} (a bug: please report it)"
        )


class IncrementalStream(PagerDutyStream):
    """Incremental by time: the bookmark is the end of the last completed window.

    Bookmarks move only when a window is complete (STATE after each), never per record, so
    a run killed anywhere resumes at the first unfinished window: nothing is skipped and
    no completed window is requested again.
    """

    is_sorted = True
    lookahead_needs_clock = True
    #: Re-read this much before the bookmark: PagerDuty can list an entry a little late.
    overlap: t.ClassVar[timedelta] = timedelta(0)
    #: Longest `since`..`until` span the endpoint accepts.
    max_window: t.ClassVar[timedelta] = timedelta(days=30)
    #: How far back the endpoint keeps data (None: forever).
    retention: t.ClassVar[timedelta | None] = None
    #: The declared structure of this stream's bookmark (see `state.py`).
    state_type: t.ClassVar[type[Bookmark]] = Bookmark
    #: The bookmark as last read or saved in this run (None: not read yet), see `saved`.
    _saved: Bookmark | None = None

    def advance_bookmark(self, latest_record: Record, context: Context | None) -> None:
        """Bookmarks move at window ends only (see `checkpoint`)."""

    @property
    def saved(self) -> Bookmark:
        """This stream's bookmark as the run found it, then as it last saved it: parsed
        (see `TapPagerDuty.load_state`) and, on first use, with no time later than
        PagerDuty's clock. A later time (a state from another account, a clock fault, a
        hand edit) would skip everything up to it: it is set to PagerDuty's now, or the
        entry dropped, with one warning naming the keys, and written back as such."""
        saved = self._saved
        if saved is None:
            parsed = self.state_type.parse(self.name, self.stream_state)
            if parsed.replication_key not in (None, self.replication_key):
                parsed = self.state_type()  # another replication key: start over
            trusted = self.trusted_now()
            saved, late = parsed.clamped(trusted)
            self._saved = saved
            if late:
                self.logger.warning(
                    "%s: the state's %s later than PagerDuty's clock (%s): "
                    "using PagerDuty's now instead",
                    self.name,
                    ", ".join(late) + (" is" if len(late) == 1 else " are"),
                    iso_z(trusted),
                )
                self.save_progress()
        return saved

    def bookmark(self) -> datetime | None:
        """Where the last run stopped (never later than PagerDuty's clock, see `saved`)."""
        if self.saved.replication_key != self.replication_key:
            return None
        return self.saved.position()

    def trusted_now(self) -> datetime:
        """The latest moment this run may bookmark. The `Date` header is truncated to the
        second, so PagerDuty's clock is somewhere in [Date, Date + 1 s)."""
        return self.server_now() + timedelta(seconds=1)

    def checkpoint(self, moment: datetime, **extra: t.Any) -> None:
        """Record that everything before `moment` is synced, and emit STATE now.

        `extra` sets other fields of the bookmark (None marks a finished one)."""
        # Never beyond the clock the run trusts: a bookmark in the future skips data for good.
        moment = min(moment, self.trusted_now())
        self.save_progress(
            replication_key=self.replication_key,
            replication_key_value=iso_z(moment),
            **extra,
        )

    def plan(self) -> tuple[datetime, datetime]:
        """This run's range [start, end), fixed the first time it is asked for (the
        look-ahead may ask before the stream starts)."""
        return self.planned_range

    @cached_property
    def planned_range(self) -> tuple[datetime, datetime]:
        end = self.sync_end()
        return self.sync_start(end), end

    def first_windows(self, count: int = 3) -> list[Window]:
        start, end = self.plan()
        return list(itertools.islice(self.windows(start, end), count))

    def save_progress(self, **fields: t.Any) -> None:
        """Set `fields` of the bookmark and emit STATE now (the bookmark written whole)."""
        saved = msgspec.structs.replace(self.saved, **fields)
        self._saved = saved
        self.stream_state.update(saved.to_state())
        self.tap.state_writer.write_state(self.tap_state)

    def sync_end(self) -> datetime:
        """Upper bound of this run: `end_date`, or PagerDuty's now (see `trusted_now`)."""
        now = self.trusted_now()
        end = self.settings.end_date
        return min(end, now) if end else now

    def sync_start(self, end: datetime) -> datetime:
        bookmark = self.bookmark()
        if bookmark is None:
            start = self.settings.anchor_date
        elif bookmark >= end:
            return end  # PagerDuty's clock has not moved since the bookmark: nothing is new
        else:
            start = bookmark - self.overlap
        if self.retention is not None:
            start = max(start, end - self.retention)
        return start

    def windows(self, start: datetime, end: datetime) -> Iterator[Window]:
        return windows_between(start, end, self.max_window)

    def progress(self, start: datetime, end: datetime) -> Progress:
        return Progress(self, start, end)


class WindowedStream(IncrementalStream, ListStream):
    """An incremental classic listing filtered by `since`/`until`."""

    def listing_params(self) -> dict[str, t.Any]:
        """Query parameters of every request besides the window (fixed for the run)."""
        return {}

    def on_page(self, page: Records) -> None:
        """Sees every page as read, before the overlap filter (a hook for sharing a read)."""

    def lookahead_requests(self) -> list[Request]:
        params = self.listing_params()
        return [
            (self.path, self.first_page_query({**params, **w.params()}), None)
            for w in self.first_windows()
        ]

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        start, end = self.plan()
        progress = self.progress(start, end)
        tail = OverlapTail(self, end)
        seen: set[str] = set()  # ids already emitted in this run (windows can overlap edges)
        pages = self.window_pages(self.path, self.listing_params(), self.windows(start, end))
        for window, page in self.skip_if_unavailable(pages):
            if page is None:
                self.checkpoint(window.end, **tail.state_at(window.end))
                progress.window_done(window)
                continue
            self.on_page(page)
            fresh = tail.unseen(page, self.replication_key or "")
            fresh = [r for r in fresh if r["id"] not in seen]
            seen.update(r["id"] for r in fresh)
            progress.count(len(fresh))
            yield from self.emit(fresh)


class OverlapTail:
    """Ids of the records in the overlap at the end of a run, kept in state.

    Each run re-reads a short overlap before its bookmark, because PagerDuty can list an
    entry a little after its timestamp. Records the previous run already read there are
    skipped, so an incremental run with nothing new emits nothing (and costs no children).
    """

    def __init__(self, stream: IncrementalStream, end: datetime) -> None:
        saved = stream.saved
        self.previous = set(saved.overlap_ids if isinstance(saved, OverlapBookmark) else ())
        self.end = end
        self.tail_from = end - stream.overlap
        self.current: list[str] = []
        self.enabled = stream.overlap > timedelta(0)

    def unseen(self, records: Records, time_field: str) -> Records:
        """Records not read by the previous run; remembers this run's tail."""
        if not self.enabled:
            return records
        fresh = [r for r in records if r.get("id") not in self.previous]
        self.current.extend(
            r["id"]
            for r in fresh
            if r.get(time_field) and parse_time(r[time_field]) >= self.tail_from
        )
        return fresh

    def state_at(self, window_end: datetime) -> dict[str, t.Any]:
        """The state entry to write with the checkpoint at `window_end` (the last one)."""
        if not self.enabled or window_end != self.end:
            return {}
        return {"overlap_ids": sorted(self.current)}


class Progress:
    """One log line per completed window: the window, its records, how far along we are."""

    def __init__(self, stream: PagerDutyStream, start: datetime, end: datetime) -> None:
        self.stream = stream
        self.start = start
        self.span = max((end - start).total_seconds(), 1.0)
        self.records = 0

    def count(self, records: int) -> None:
        self.records += records

    def window_done(self, window: Window) -> None:
        done = min(100.0, 100.0 * (window.end - self.start).total_seconds() / self.span)
        self.stream.logger.info(
            "%s: window %s complete, %d records so far, %.1f%% of the range done",
            self.stream.name,
            window,
            self.records,
            done,
        )

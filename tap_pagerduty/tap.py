"""tap-pagerduty: the tap class (settings, shared HTTP resources, stream list)."""

from __future__ import annotations

import atexit
import contextlib
import datetime
import sys
import threading
import time
import typing as t
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property

from singer_sdk import Tap
from singer_sdk.contrib.msgspec import encoder as _msgspec_encoder
from singer_sdk.io_base import GenericSingerWriter, SingerMessageType
from singer_sdk.singerlib.encoding.simple import Message

from tap_pagerduty.clock import ServerClock
from tap_pagerduty.settings import CONFIG_SCHEMA, Settings, SettingsError
from tap_pagerduty.streams import STREAM_TYPES
from tap_pagerduty.streams.base import ListStream
from tap_pagerduty.throttle import Throttle

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

_T = t.TypeVar("_T")


class FastSingerWriter(GenericSingerWriter[bytes, Message]):
    """The SDK's msgspec writer (`singer_sdk.contrib.msgspec.MsgSpecWriter`, several times
    faster than its default simplejson one), writing RECORD lines in batches.

    Messages carry the same JSON values as with the SDK's default writer; text differs
    only in notation (non-ASCII characters as UTF-8 rather than \\u escapes, float
    exponents as `1e16` rather than `1e+16`). `time_extracted` is written as the SDK writes
    it. RECORD lines are written in batches of up to `batch_bytes`, or `batch_seconds` old;
    any other message (SCHEMA, STATE, ...) first writes the pending batch and is flushed at
    once, so a STATE never reaches the target before the records it covers.
    """

    batch_bytes = 1 << 20
    batch_seconds = 0.5

    def __init__(self) -> None:
        self._lines: list[bytes] = []
        self._bytes = 0
        self._since = 0.0
        # A run that ends with an error still delivers the records read before it.
        atexit.register(_flush_at_exit, weakref.ref(self))

    def serialize_message(self, message: Message) -> bytes:
        data = message.to_dict()
        extracted = data.get("time_extracted")
        if type(extracted) is datetime.datetime:  # as the SDK's encoders write it
            data["time_extracted"] = self._isoformat(extracted)
        return _msgspec_encoder.encode(data)

    _second: tuple[t.Any, ...] = ()
    _second_text = ""

    def _isoformat(self, moment: datetime.datetime) -> str:
        """`moment.isoformat(sep="T")`; for UTC (every `time_extracted`) the text of the
        whole second is reused, which is several times faster."""
        if moment.tzinfo is not datetime.timezone.utc:
            return moment.isoformat(sep="T")
        second = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
        if second != self._second:
            self._second = second
            self._second_text = moment.replace(microsecond=0, tzinfo=None).isoformat(sep="T")
        micro = moment.microsecond
        return f"{self._second_text}.{micro:06d}+00:00" if micro else f"{self._second_text}+00:00"

    def write_message(self, message: Message) -> None:
        line = self.format_message(message)
        if message.type != SingerMessageType.RECORD:
            self._lines.append(line)
            self.flush()
            return
        if not self._lines:
            self._since = time.monotonic()
        self._lines.append(line)
        self._bytes += len(line)
        if self._bytes >= self.batch_bytes or time.monotonic() - self._since >= self.batch_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the pending lines whole, in one write call, and flush stdout."""
        if self._lines:
            self._lines.append(b"")
            sys.stdout.write(b"\n".join(self._lines).decode())
            self._lines.clear()
            self._bytes = 0
        sys.stdout.flush()


def _flush_at_exit(writer: weakref.ref[FastSingerWriter]) -> None:
    alive = writer()
    if alive is not None:
        with contextlib.suppress(Exception):
            alive.flush()


class _Prefetch:
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


class TapPagerDuty(Tap):
    """Copies a whole PagerDuty account (REST API v2): configuration, incidents and their
    history, on-calls, notifications, audit trail and analytics."""

    name = "tap-pagerduty"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = FastSingerWriter

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            Settings.from_config(self.config)
        except SettingsError as error:
            if raise_errors:
                raise
            return [str(error)]
        return []

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_config(self.config)

    @cached_property
    def throttle(self) -> Throttle:
        """One throttle for every stream and thread of this run."""
        return Throttle(self.settings.requests_per_second, self.settings.max_concurrency)

    @cached_property
    def clock(self) -> ServerClock:
        return ServerClock()

    @cached_property
    def _pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(
            max_workers=self.settings.max_concurrency, thread_name_prefix="pagerduty-http"
        )

    def submit(self, fn: t.Callable[..., _T], *args: t.Any) -> Future[_T]:
        """Run `fn` on a worker thread. Workers fetch and parse only; they never write
        messages or touch state, which stay on the main thread."""
        return self._pool.submit(fn, *args)

    # -- first pages of upcoming streams ------------------------------------------------------

    @cached_property
    def _prefetch(self) -> _Prefetch:
        return _Prefetch(self)

    def prefetch_after(self, stream: Stream) -> None:
        """Once `stream` has its first answer, request the first pages of the next few
        full-refresh listings, so that starting a stream does not leave the request slots
        idle for one round trip (their requests are the same, only sent earlier)."""
        self._prefetch.after(stream)

    def take_prefetched(
        self,
        stream: Stream,
        path: str,
        params: dict[str, t.Any] | None,
        body: dict[str, t.Any] | None,
    ) -> Future[dict[str, t.Any]] | None:
        """The prefetched answer to exactly this request of `stream`, if there is one."""
        return self._prefetch.take(stream, path, params, body)

    def discover_streams(self) -> list[Stream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    @property
    def streams(self) -> dict[str, Stream]:
        """Streams in the order of STREAM_TYPES (the SDK sorts them by name): configuration
        first, whose answers also tell us PagerDuty's clock."""
        streams = super().streams
        order: dict[type, int] = {stream_type: i for i, stream_type in enumerate(STREAM_TYPES)}
        ordered = dict(sorted(streams.items(), key=lambda item: order[type(item[1])]))
        if list(ordered) != list(streams):
            self._streams = ordered
        return ordered

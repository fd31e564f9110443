"""One sync: its settings, its HTTP engine (and through it PagerDuty's clock), the results
several streams share, each computed once per run, and the results one stream hands another.

Streams reach the run as `self.run`. Two kinds of per-run results live here, never in module
globals or in a stream's attributes (a module-level cache outlives the run and is shared by
two runs in one process: tests, Dagster):

* A shared result (the custom field definitions, the ids an analytics filter needs) is asked
  for by name with `shared(name, compute)`: the first stream that asks computes it, any other
  waits for that answer instead of sending the same requests again.
* A `Slot` is a result one stream produces for others (the change log `log_entries` read, the
  incidents whose notes must be read). Both sides declare it as class attributes: the producer
  in `produces`, a reader in `needs` (it cannot run without the producer) or `uses` (it reads
  the result when the producer ran in this run, and does the work itself otherwise). The run
  orders the streams so that every producer syncs before its readers (`sync_order`), and
  refuses to start, in one line, when a reader's producer is not there (`check_needs`). The
  producer `put`s the value, a reader `get`s it: no stream reads another stream's attributes.
"""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence

from tap_pagerduty.settings import SettingsError

if t.TYPE_CHECKING:
    from tap_pagerduty.client import PagerDutyStream
    from tap_pagerduty.engine import Engine
    from tap_pagerduty.settings import Settings

_T = t.TypeVar("_T")


class Slot(t.Generic[_T]):
    """A result of type `_T` that one stream produces in a run for the streams that declare
    they read it (see the module's docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


class NeedsError(SettingsError):
    """A stream reads a result no stream of this run produces (one line naming both)."""


class Run:
    """What the streams of one sync share (see the module's docstring)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        streams: Callable[[], Mapping[str, t.Any]] = dict,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self._stream_list = streams
        self._lock = threading.Lock()
        self._results: dict[Hashable, t.Any] = {}
        self._computing: dict[Hashable, threading.Lock] = {}
        self._slots: dict[Slot[t.Any], t.Any] = {}

    def shared(self, name: Hashable, compute: Callable[[], _T]) -> _T:
        """The run's result `name`: `compute()` the first time it is asked for (from any
        thread; a second asker waits for the first one's answer), the same value after."""
        with self._lock:
            if name in self._results:
                return t.cast("_T", self._results[name])
            computing = self._computing.setdefault(name, threading.Lock())
        with computing:
            with self._lock:
                if name in self._results:
                    return t.cast("_T", self._results[name])
            result = compute()  # outside the run's lock: other results go on meanwhile
            with self._lock:
                self._results[name] = result
                self._computing.pop(name, None)
            return result

    # -- results one stream hands another (slots) ------------------------------------------

    def put(self, slot: Slot[_T], value: _T, producer: PagerDutyStream) -> None:
        """`producer` (which declares `slot` in `produces`) hands its result to its readers."""
        _declared(producer, slot, "produces", type(producer).produces)
        with self._lock:
            self._slots[slot] = value

    def get(self, slot: Slot[_T], reader: PagerDutyStream) -> _T | None:
        """The result in `slot` (None while its producer has not put it: not started yet,
        or, for a slot `reader` `uses`, not synced in this run)."""
        _declared(reader, slot, "needs or uses", (*type(reader).needs, *type(reader).uses))
        with self._lock:
            return t.cast("_T | None", self._slots.get(slot))

    def wanted(self, slot: Slot[t.Any]) -> bool:
        """Whether a stream that syncs in this run reads `slot` in this run (its producer may
        skip the work otherwise): see `PagerDutyStream.reads`."""
        return any(
            syncs(stream) and slot in (*stream.needs, *stream.uses) and stream.reads(slot)
            for stream in self._stream_list().values()
        )


def _declared(
    stream: PagerDutyStream, slot: Slot[t.Any], attribute: str, slots: Iterable[Slot[t.Any]]
) -> None:
    if slot not in slots:
        raise RuntimeError(
            f"stream '{stream.name}' uses {slot!r} without declaring it in `{attribute}` "
            "(a bug: see run.py)"
        )


def syncs(stream: PagerDutyStream) -> bool:
    """Whether the SDK syncs this stream in this run (a parent of a selected child too)."""
    return bool(stream.selected or stream.has_selected_descendents)


def _root(stream: PagerDutyStream, by_type: Mapping[type, PagerDutyStream]) -> PagerDutyStream:
    """The top-level stream whose sync syncs `stream` (itself, or its topmost parent)."""
    while stream.parent_stream_type is not None:
        stream = by_type[stream.parent_stream_type]
    return stream


def _is_ancestor(
    parent: PagerDutyStream, child: PagerDutyStream, by_type: Mapping[type, PagerDutyStream]
) -> bool:
    while child.parent_stream_type is not None:
        child = by_type[child.parent_stream_type]
        if child is parent:
            return True
    return False


def producers(streams: Sequence[PagerDutyStream]) -> dict[Slot[t.Any], PagerDutyStream]:
    """The producer of each slot any of `streams` reads; NeedsError when a slot has none,
    or two."""
    made: dict[Slot[t.Any], PagerDutyStream] = {}
    for stream in streams:
        for slot in stream.produces:
            if slot in made:
                raise NeedsError(
                    f"streams '{made[slot].name}' and '{stream.name}' both produce "
                    f"{slot.name!r}: one stream produces each result (see run.py)"
                )
            made[slot] = stream
    for stream in streams:
        for slot in (*stream.needs, *stream.uses):
            if slot not in made:
                raise NeedsError(
                    f"stream '{stream.name}' reads {slot.name!r}, which no stream of the tap "
                    "produces: declare it in the producing stream's `produces` (see run.py)"
                )
    return made


def sync_order(streams: Sequence[PagerDutyStream]) -> list[PagerDutyStream]:
    """`streams` in their given order, except that the producer of every result a stream
    reads syncs before it (before the top-level stream whose sync syncs it). Already so
    ordered, they are returned as they are. NeedsError (one line) for a result nobody
    produces, or streams that need each other's results."""
    made = producers(streams)
    by_type: dict[type, PagerDutyStream] = {type(stream): stream for stream in streams}
    before: dict[int, set[int]] = {id(stream): set() for stream in streams}
    for stream in streams:
        if stream.parent_stream_type is not None:
            before[id(stream)].add(id(by_type[stream.parent_stream_type]))
        for slot in (*stream.needs, *stream.uses):
            producer, reader = _root(made[slot], by_type), _root(stream, by_type)
            if producer is not reader:
                before[id(reader)].add(id(producer))
            elif made[slot] is not reader and not _is_ancestor(made[slot], stream, by_type):
                raise NeedsError(
                    f"stream '{stream.name}' reads {slot.name!r} from '{made[slot].name}', "
                    "which is synced beside it, not before it: make the producer its parent "
                    "or a top-level stream"
                )
    ordered: list[PagerDutyStream] = []
    done: set[int] = set()
    while len(ordered) < len(streams):
        ready = next((s for s in streams if id(s) not in done and before[id(s)] <= done), None)
        if ready is None:
            circle = sorted(s.name for s in streams if id(s) not in done)
            raise NeedsError(f"streams {', '.join(circle)} read each other's results: no order")
        ordered.append(ready)
        done.add(id(ready))
    return ordered


def check_needs(streams: Iterable[PagerDutyStream]) -> None:
    """Before a sync's first request: every stream that syncs has the producer of each
    result it `needs` syncing too, else NeedsError naming both and what to select."""
    streams = list(streams)
    made = producers(streams)
    for stream in streams:
        if not syncs(stream):
            continue
        for slot in stream.needs:
            if not syncs(made[slot]):
                raise NeedsError(
                    f"stream '{stream.name}' needs {slot.name!r} from stream "
                    f"'{made[slot].name}', which is not selected: select '{made[slot].name}' "
                    f"too, or deselect '{stream.name}'"
                )

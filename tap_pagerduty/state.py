"""The state a run starts from and writes: declared, versioned, validated, bounded.

Every incremental stream's bookmark is a typed structure (`Bookmark` and its subclasses,
msgspec Structs): the whole state is parsed and checked before any request, a problem is one
line naming the stream and the key, and a stream writes its structure back whole. Streams
and the orchestration use the structures' fields and methods, never spelled keys.

Four rules hold for every saved time (see docs/state.md):

* it parses (ISO 8601), else the run is refused before any request;
* it is never later than PagerDuty's clock: read, it is clamped to it or dropped, with one
  warning per stream (`Bookmark.clamped`);
* the state is bounded: `MAX_VERSIONS` remembered versions, `MAX_OVERLAP_IDS` overlap ids,
  whatever the account's size or the number of runs;
* a state written by an earlier release is migrated when read (`FORMAT`, `migrate`).
"""

from __future__ import annotations

import typing as t
from datetime import datetime
from typing import ClassVar

import msgspec

from tap_pagerduty.json_files import check_object_text, kind_of
from tap_pagerduty.windows import iso_z, parse_time

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


class StateError(Exception):
    """The state is unusable; the message is one line meant for the user."""


FIX = "fix or remove the state file (without it, the streams start again from anchor_date)"

#: The format of the declared bookmarks this release writes (key `format`). A bookmark
#: without it was written by a release up to 0.3 (format 1) and is migrated when read.
FORMAT = 2
#: At most this many remembered incident versions (`versions`): the incidents emitted within
#: the analytics lag. Beyond it the oldest are forgotten; the cost is at most a repeated
#: record (a version the target already has), never a missed one.
MAX_VERSIONS = 2000
#: At most this many ids of records read in a stream's overlap (`overlap_ids`); beyond it a
#: record of the overlap may be emitted twice, never missed.
MAX_OVERLAP_IDS = 1000
#: Keys the Singer SDK itself keeps in a bookmark while a stream runs: left to the SDK.
SDK_KEYS = frozenset({"replication_key_signpost", "starting_replication_value", "progress_markers"})


class Bookmark(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An incremental stream's bookmark: `replication_key_value` is the end of the last
    completed window of `replication_key`."""

    replication_key: str | None = None
    replication_key_value: str | None = None

    #: Keys holding one time each (checked, clamped to PagerDuty's clock when read).
    time_fields: ClassVar[tuple[str, ...]] = ("replication_key_value",)
    #: Whether the bookmark carries `format` (the declared states; plain ones need none).
    versioned: ClassVar[bool] = False

    # -- reading --------------------------------------------------------------------------

    @classmethod
    def parse(cls, stream: str, saved: Mapping[str, t.Any] | None) -> t.Self:
        """The bookmark of `stream` as saved (migrated if older); StateError if unusable."""
        if not saved:
            return cls()
        if not isinstance(saved, dict):
            raise StateError(
                f"The bookmark of stream '{stream}' is {kind_of(saved)}, not an object: {FIX}."
            )
        raw = {k: v for k, v in saved.items() if k not in SDK_KEYS}
        if cls.versioned:
            raw = migrate(stream, raw)
        try:
            parsed = msgspec.convert(raw, type=cls)
        except msgspec.ValidationError as error:
            problem = _explain(error)
            raise StateError(f"The bookmark of stream '{stream}' {problem}: {FIX}.") from None
        parsed.check(stream)
        return parsed

    def check(self, stream: str) -> None:
        """Every time parses; a subclass checks its own nested times too."""
        for name in self.time_fields:
            _check_time(stream, name, getattr(self, name))

    def clamped(self, now: datetime) -> tuple[t.Self, list[str]]:
        """This bookmark with no time later than `now` (PagerDuty's clock): times are set
        to `now`, remembered versions later than it dropped. Also the names of the keys
        that were changed (one warning per stream lists them)."""
        changes: dict[str, t.Any] = {}
        limit = iso_z(now)
        for name in self.time_fields:
            value = getattr(self, name)
            if value is not None and parse_time(value) > now:
                changes[name] = limit
        copy = msgspec.structs.replace(self, **changes)
        return copy, sorted(changes)

    # -- writing --------------------------------------------------------------------------

    def to_state(self) -> dict[str, t.Any]:
        """Every key, a finished one as null (Meltano merges states: a dropped key would
        come back from the previous state)."""
        written = t.cast("dict[str, t.Any]", msgspec.to_builtins(self))
        if self.versioned:
            written["format"] = FORMAT
        return written

    def position(self) -> datetime | None:
        return parse_time(self.replication_key_value) if self.replication_key_value else None

    def moved_to(self, position: datetime) -> t.Self:
        """The bookmark moved to `position` (a hand-over: see orchestration/backfill.py)."""
        return msgspec.structs.replace(self, replication_key_value=iso_z(position))


class OverlapBookmark(Bookmark, kw_only=True, forbid_unknown_fields=True):
    """A bookmark with the ids of the records read in the overlap the next run re-reads."""

    format: int = FORMAT
    overlap_ids: list[str] = msgspec.field(default_factory=list)
    versioned: ClassVar[bool] = True

    def to_state(self) -> dict[str, t.Any]:
        self.overlap_ids = self.overlap_ids[-MAX_OVERLAP_IDS:]
        return super().to_state()


class SilentFeeds(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How far each feed of changes that write no log entry has looked (None: not yet, or
    the feed is off)."""

    open: str | None = None
    analytics: str | None = None
    lookback: str | None = None


FEEDS = ("open", "analytics", "lookback")


class NotedLog(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How far a first backfill has acted on the change log's note entries (`until`).
    Format 1 also kept the ids of the incidents with a note still to emit; format 2 keeps
    none (a resumed backfill reads them again from the log, from where it stopped)."""

    until: str | None = None


class IncidentsState(OverlapBookmark, kw_only=True, forbid_unknown_fields=True):
    """The incidents stream: `replication_key_value` is how far the change log has been
    read; `silent_from` the other feeds' positions; `versions` the `updated_at` of incidents
    emitted recently (`notes_unread`: emitted without reading their notes); while a first
    backfill runs, `backfill_from` is the creation time of the last incident it emitted
    (`backfill_done`: the ids emitted in that second) and `noted` its log position."""

    silent_from: SilentFeeds | None = None
    versions: dict[str, str] = msgspec.field(default_factory=dict)
    notes_unread: list[str] = msgspec.field(default_factory=list)
    backfill_from: str | None = None
    backfill_done: list[str] | None = None
    noted: NotedLog | None = None

    time_fields: ClassVar[tuple[str, ...]] = ("replication_key_value", "backfill_from")

    def check(self, stream: str) -> None:
        super().check(stream)
        for feed in FEEDS:
            _check_time(stream, f"silent_from.{feed}", getattr(self.silent_from, feed, None))
        if self.noted is not None:
            _check_time(stream, "noted.until", self.noted.until)
        for incident, version in self.versions.items():
            _check_time(stream, f"versions.{incident}", version)

    def clamped(self, now: datetime) -> tuple[t.Self, list[str]]:
        copy, changed = super().clamped(now)
        limit = iso_z(now)
        if copy.silent_from is not None:
            late = {
                feed: limit
                for feed in FEEDS
                if (value := getattr(copy.silent_from, feed)) and parse_time(value) > now
            }
            if late:
                copy.silent_from = msgspec.structs.replace(copy.silent_from, **late)
                changed += [f"silent_from.{feed}" for feed in sorted(late)]
        if copy.noted is not None and copy.noted.until and parse_time(copy.noted.until) > now:
            copy.noted = msgspec.structs.replace(copy.noted, until=limit)
            changed.append("noted.until")
        late_versions = [i for i, v in copy.versions.items() if parse_time(v) > now]
        if late_versions:
            copy.versions = {i: v for i, v in copy.versions.items() if i not in late_versions}
            copy.notes_unread = [i for i in copy.notes_unread if i in copy.versions]
            changed.append("versions")
        return copy, changed

    def feed_positions(self) -> dict[str, str | None]:
        feeds = self.silent_from or SilentFeeds()
        return {feed: getattr(feeds, feed) for feed in FEEDS}

    def moved_to(self, position: datetime) -> t.Self:
        """The change log's position moved to `position`, and the other feeds with it (they
        sit at fixed offsets before it)."""
        held = self.position()
        moved = super().moved_to(position)
        if held is not None and self.silent_from is not None:
            shift = position - held
            moved.silent_from = SilentFeeds(
                **{
                    feed: iso_z(parse_time(value) + shift) if value else None
                    for feed, value in self.feed_positions().items()
                }
            )
        return moved

    def with_versions_of(self, others: Iterable[IncidentsState]) -> t.Self:
        """This state remembering every version `others` emitted (the newest per incident),
        so that no feed emits one of them again."""
        versions = dict(self.versions)
        unread = set(self.notes_unread)
        for other in others:
            for incident, version in other.versions.items():
                versions[incident] = max(version, versions.get(incident, ""))
            unread.update(other.notes_unread)
        return msgspec.structs.replace(
            self,
            versions=dict(sorted(versions.items())),
            notes_unread=sorted(unread & set(versions)),
        )

    def to_state(self) -> dict[str, t.Any]:
        if len(self.versions) > MAX_VERSIONS:  # the newest are kept
            kept = sorted(self.versions.items(), key=lambda item: item[1])[-MAX_VERSIONS:]
            self.versions = dict(kept)
            self.notes_unread = [i for i in self.notes_unread if i in self.versions]
        written = super().to_state()
        written["versions"] = dict(sorted(self.versions.items()))
        written["notes_unread"] = sorted(self.notes_unread)
        return written


class AnalyticsIncidentsState(Bookmark, kw_only=True, forbid_unknown_fields=True):
    """`analytics_incidents`: `unfinished_query` is the next page's body of a query a killed
    run left unfinished; `rows` a digest of each row emitted within the analytics lag, so
    that a row is emitted again only when it changed."""

    format: int = FORMAT
    unfinished_query: dict[str, t.Any] | None = None
    rows: dict[str, str] = msgspec.field(default_factory=dict)
    versioned: ClassVar[bool] = True

    def clamped(self, now: datetime) -> tuple[t.Self, list[str]]:
        """Also: an unfinished query with a time later than `now` is dropped (the run
        starts a new one from the bookmark)."""
        copy, changed = super().clamped(now)
        filters = (copy.unfinished_query or {}).get("filters") or {}
        times = [v for k, v in filters.items() if k in QUERY_TIMES and isinstance(v, str)]
        if any(_later(value, now) for value in times):
            copy.unfinished_query = None
            changed.append("unfinished_query")
        return copy, changed

    def to_state(self) -> dict[str, t.Any]:
        if len(self.rows) > MAX_VERSIONS:
            self.rows = dict(list(self.rows.items())[-MAX_VERSIONS:])
        return super().to_state()


#: The times in an analytics query's filters.
QUERY_TIMES = ("created_at_start", "created_at_end", "updated_after")


def _later(value: str, now: datetime) -> bool:
    try:
        return parse_time(value) > now
    except ValueError:
        return True  # not a time: the query cannot be resumed


# -- migration --------------------------------------------------------------------------------


def migrate(stream: str, raw: dict[str, t.Any]) -> dict[str, t.Any]:
    """A declared bookmark in this release's format. Format 1 (no `format` key, releases up
    to 0.3) holds the same keys, and the ids of the incidents with a note a backfill had
    still to emit (`noted.ids`): format 2 reads them again from the log."""
    version = raw.get("format", 1)
    if version == FORMAT:
        return raw
    if version != 1:
        raise StateError(
            f"The bookmark of stream '{stream}' has format {version!r}, which this release "
            f"does not know (it writes format {FORMAT}): use the release that wrote it, or {FIX}."
        )
    migrated = {**raw, "format": FORMAT}
    noted = migrated.get("noted")
    if isinstance(noted, dict) and "ids" in noted:
        migrated["noted"] = {k: v for k, v in noted.items() if k != "ids"}
    return migrated


# -- the whole state --------------------------------------------------------------------------


def read_state_text(handle: t.IO[str]) -> str:
    """The text of a `--state` file, checked to be a JSON object."""
    name = getattr(handle, "name", "--state")
    try:
        text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise StateError(f"State file {name!r} cannot be read ({error}): {FIX}.") from None
    expected = "a JSON object with 'bookmarks'"
    check_object_text(text, f"State file {name!r}", expected=expected, fix=FIX, error=StateError)
    return text


def check_state(state: t.Any, declared: Mapping[str, type[Bookmark]]) -> None:
    """Every bookmark is an object, and those of `declared` streams parse as declared."""
    if not isinstance(state, dict):
        raise StateError(f"The state holds {kind_of(state)}, not a JSON object: {FIX}.")
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise StateError(f"The state's 'bookmarks' is {kind_of(bookmarks)}, not an object: {FIX}.")
    for stream, bookmark in bookmarks.items():
        if not isinstance(bookmark, dict):
            raise StateError(
                f"The bookmark of stream '{stream}' is {kind_of(bookmark)}, not an object: {FIX}."
            )
        kind = declared.get(stream)
        if kind is not None:
            kind.parse(stream, bookmark)


def bookmark_of(state: Mapping[str, t.Any] | None, stream: str, kind: type[_B]) -> _B:
    """The declared bookmark of `stream` in a whole state (empty when it has none)."""
    bookmarks = (state or {}).get("bookmarks") or {}
    return kind.parse(stream, bookmarks.get(stream))


_B = t.TypeVar("_B", bound=Bookmark)


# -- helpers ----------------------------------------------------------------------------------


def _check_time(stream: str, key: str, value: str | None) -> None:
    if value is None:
        return
    try:
        parse_time(value)
    except (TypeError, ValueError, AttributeError):
        raise StateError(
            f"The bookmark of stream '{stream}' has {key} {value!r}, which is not an "
            f"ISO 8601 time: {FIX}."
        ) from None


def _explain(error: msgspec.ValidationError) -> str:
    """msgspec's "Expected `str`, got `int` - at `$.versions[...]`" in the user's words."""
    text = str(error)
    message, _sep, where = text.partition(" - at `$")
    key = where.rstrip("`").lstrip(".")
    if message.startswith("Object contains unknown field"):
        field = message.split("`")[1] if "`" in message else "?"
        name = f"{key}.{field}" if key else field
        return f"has the unknown key {name!r} (not written by this tap)"
    return f"has {key or 'a value'} of the wrong type ({message})"

"""Every use of a private singer-sdk name, in one place.

singer-sdk 0.54 offers no public hook for a few things the tap must do; each is used here and
nowhere else, under a public name the rest of the tap calls or overrides. A new SDK release
that renames or reshapes one of them fails `tests/test_sdk_seams.py`, which names the seam,
instead of breaking a sync. `SEAMS` lists them, each with what it replaces and why.

Replaced by public interfaces (no longer used): `Stream._tap` (streams keep the tap they are
built with), `Tap._streams` (the stream order is set by the public
`Tap.streams` property of `TapPagerDuty`),
`Stream._write_state_message` and `state_manager.is_flushed` (`Tap.state_writer`), and
`singer_sdk.helpers._util.utc_now` (`datetime.now(timezone.utc)`), `RESTStream._request` (the
engine sends, checks and meters requests itself, see `engine.py`) and
`PluginBase._validate_config` (the SDK validates settings against the schema; `TapPagerDuty`
turns its errors into one line).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from singer_sdk import RESTStream
from singer_sdk.helpers import _catalog, _typing
from singer_sdk.streams.core import Stream

if t.TYPE_CHECKING:
    from collections.abc import Generator

    import singer_sdk.singerlib as singer
    from singer_sdk.helpers.types import Context, Record


@dataclass(frozen=True)
class Seam:
    """One private SDK name the tap relies on."""

    owner: t.Any  # the SDK class or module that defines it
    name: str
    params: tuple[str, ...]  # its parameter names, in order (checked against the SDK)
    why: str


SEAMS = (
    Seam(
        Stream,
        "_generate_record_messages",
        ("self", "record"),
        "emit RECORD messages through the tap's faster conformer (output.FastRecordMessages); "
        "the SDK has no public hook between a record and its message",
    ),
    Seam(
        Stream,
        "_write_schema_message",
        ("self",),
        "write a child stream's SCHEMA once per run: the SDK repeats it before every parent "
        "record's children, and targets such as target-duckdb flush on each SCHEMA",
    ),
    Seam(
        Stream,
        "_increment_stream_state",
        ("self", "latest_record", "context"),
        "keep bookmarks at window ends: the SDK moves them on every record, which would skip "
        "the rest of a window after a killed run",
    ),
    Seam(
        _catalog,
        "pop_deselected_record_properties",
        ("record", "schema", "mask", "breadcrumb"),
        "drop deselected properties exactly as the SDK does, in the faster RECORD path",
    ),
    Seam(
        _typing,
        "_conform_primitive_property",
        ("elem", "property_schema"),
        "conform a leaf value exactly as the SDK does (output._Conformer)",
    ),
    Seam(
        _typing,
        "_conform_record_data_types",
        ("input_object", "schema", "level", "parent"),
        "conform an object whose schema lacks properties exactly as the SDK does (the SDK's "
        "own recursive step, which also reports unmapped properties)",
    ),
    Seam(
        _typing,
        "_is_exclusive_boolean_type",
        ("property_schema",),
        "decide, once per schema, which values the SDK's conformance passes unchanged",
    ),
    Seam(
        _typing,
        "_warn_unmapped_properties",
        ("stream_name", "property_names", "logger"),
        "warn about properties missing from the schema in the SDK's words",
    ),
    Seam(
        _typing,
        "conform_record_data_types",
        ("stream_name", "record", "schema", "level", "logger"),
        "the SDK's conformance for levels the faster conformer does not cover",
    ),
    Seam(
        _typing,
        "is_object_type",
        ("property_schema",),
        "classify subschemas as the SDK's conformance does",
    ),
    Seam(
        _typing,
        "is_uniform_list",
        ("property_schema",),
        "classify subschemas as the SDK's conformance does",
    ),
)
#: Private instance attributes read (checked on a constructed stream by the test).
STREAM_ATTRIBUTES = {
    "_stream_version": "the version the SDK stamps on RECORD messages (set when a sync starts)"
}

# The SDK's record helpers under public names (see SEAMS).
pop_deselected_record_properties = _catalog.pop_deselected_record_properties
conform_primitive_property = _typing._conform_primitive_property
conform_object_data_types = _typing._conform_record_data_types
is_exclusive_boolean_type = _typing._is_exclusive_boolean_type
warn_unmapped_properties = _typing._warn_unmapped_properties
conform_record_data_types = _typing.conform_record_data_types
is_object_type = _typing.is_object_type
is_uniform_list = _typing.is_uniform_list


class StreamSeams(RESTStream[int]):
    """The SDK's private stream hooks, each forwarded to a public method of the same meaning
    whose default is the SDK's own behaviour; the tap's streams override the public ones."""

    # -- overrides of private SDK methods: the only ones in the tap -------------------------

    def _generate_record_messages(
        self, record: Record
    ) -> Generator[singer.RecordMessage, None, None]:
        return self.record_messages(record)

    def _write_schema_message(self) -> None:
        self.write_schema_message()

    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        self.advance_bookmark(latest_record, context)

    # -- the public hooks, defaulting to the SDK's behaviour ------------------------------------

    def record_messages(self, record: Record) -> Generator[singer.RecordMessage, None, None]:
        """RECORD messages for one record (one per stream map)."""
        return Stream._generate_record_messages(self, record)

    def write_schema_message(self) -> None:
        """Write this stream's SCHEMA message(s)."""
        Stream._write_schema_message(self)

    def advance_bookmark(self, latest_record: Record, context: Context | None) -> None:
        """Move the bookmark after `latest_record` was written."""
        Stream._increment_stream_state(self, latest_record, context=context)

    @property
    def stream_version(self) -> int | None:
        """The version stamped on RECORD messages (None unless the stream is versioned)."""
        return self._stream_version

"""Record output: the hot path of a sync, made fast without changing what is written.

The SDK spends most of a sync's CPU walking each record against its schema (selection,
then type conformance) and encoding messages with simplejson, one write and flush per
message. Here the schema tests are done once per schema, messages are encoded with the
SDK's own msgspec encoder, and RECORD lines are written in batches.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import sys
import time
import typing as t
import weakref

import singer_sdk.singerlib as singer
from singer_sdk.contrib.msgspec import encoder as _msgspec_encoder
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import GenericSingerWriter, SingerMessageType
from singer_sdk.singerlib.encoding.simple import Message

from tap_pagerduty.schema_files import EXTRA_COLUMN
from tap_pagerduty.sdk_seams import (
    StreamSeams,
    conform_object_data_types,
    conform_primitive_property,
    conform_record_data_types,
    is_exclusive_boolean_type,
    is_object_type,
    is_uniform_list,
    pop_deselected_record_properties,
    warn_unmapped_properties,
)


class FastRecordMessages(StreamSeams):
    """Base for streams: the SDK's RECORD message generation, same output, faster."""

    def record_messages(
        self, record: dict[str, t.Any]
    ) -> t.Generator[singer.RecordMessage, None, None]:
        """The SDK's RECORD message generation with the same output, only faster.

        The SDK walks the schema for every value of every record (selection, then type
        conformance): most of a sync's CPU. Here the selection walk is skipped when nothing
        is deselected (it would remove nothing), and conformance runs a conformer compiled
        once per schema that gives exactly the SDK's result (see `_Conformer`).
        """
        schema = self.effective_schema
        if self._has_deselected():
            pop_deselected_record_properties(record, self.schema, self.mask)
        if self.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.RECURSIVE:
            conformer = self.__dict__.get("_conformer")
            if conformer is None or conformer.schema is not schema:
                conformer = self.__dict__["_conformer"] = _Conformer(schema)
            unmapped: list[str] = []
            received = record
            record = conformer.conform(record, None, unmapped)
            if unmapped:
                self._unlisted_fields(received, record, schema, unmapped)
        else:
            record = conform_record_data_types(
                stream_name=self.name,
                record=record,
                schema=schema,
                level=self.TYPE_CONFORMANCE_LEVEL,
                logger=self.logger,
            )
        for stream_map in self.stream_maps:
            mapped_record = stream_map.transform(record)
            if mapped_record is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped_record,
                    version=self.stream_version,
                    time_extracted=datetime.datetime.now(datetime.timezone.utc),
                )

    def _unlisted_fields(
        self,
        received: dict[str, t.Any],
        record: dict[str, t.Any],
        schema: dict[str, t.Any],
        unmapped: list[str],
    ) -> None:
        """Fields PagerDuty sent that the schema does not list: kept in `_extra` when the
        schema has that column (setting `unknown_fields`), with one line per stream naming
        them the first time; else dropped with the SDK's warning, as the SDK does. (A
        catalog discovered with `drop` has no `_extra` column: its fields are dropped.)"""
        keeps = getattr(self, "keeps_unknown_fields", None)
        if EXTRA_COLUMN not in schema.get("properties", {}) or not (keeps and keeps()):
            warn_unmapped_properties(self.name, tuple(unmapped), self.logger)
            return
        if self.mask.get(("properties", EXTRA_COLUMN), True):
            record[EXTRA_COLUMN] = unlisted_parts(received, schema)
        named = self.__dict__.setdefault("_unlisted_named", set())
        new = sorted(set(unmapped) - named)
        if new:
            named.update(new)
            self.logger.info(
                "%s: fields not in the schema kept in column %s: %s",
                self.name,
                EXTRA_COLUMN,
                ", ".join(new),
            )

    def _has_deselected(self) -> bool:
        """Whether the selection mask deselects anything (else popping removes nothing)."""
        mask = self.mask
        cached = self.__dict__.get("_deselected")
        if cached is None or cached[0] is not mask:
            cached = self.__dict__["_deselected"] = (mask, not all(mask.values()))
        return bool(cached[1])


def unlisted_parts(value: t.Any, schema: t.Any) -> t.Any:
    """What of `value` its schema does not list, in the value's own shape (None: nothing).

    Walks where the conformer walks (objects with properties, lists with an item schema):
    an object gives its unlisted keys whole plus the unlisted parts of its listed ones, a
    list one entry per item (None for an item with nothing unlisted), so that every kept
    value can be put back where it came from."""
    if not isinstance(schema, dict):
        return None
    if isinstance(value, dict):
        properties = schema.get("properties")
        if not isinstance(properties, dict) or schema.get("additionalProperties"):
            return None  # kept whole by the conformer
        parts: dict[str, t.Any] = {}
        for name, item in value.items():
            if name not in properties:
                parts[name] = item
                continue
            inner = unlisted_parts(item, properties[name])
            if inner is not None:
                parts[name] = inner
        return parts or None
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = [unlisted_parts(item, schema["items"]) for item in value]
        return items if any(item is not None for item in items) else None
    return None


class _Conformer:
    """The SDK's recursive type conformance (`singer_sdk.helpers._typing`,
    `_conform_record_data_types`) for one object schema, with every schema test done once.

    Same output for every input: properties missing from the schema are dropped (or kept
    with `additionalProperties`) and reported in `unmapped` in the SDK's order, uniform
    lists and objects with properties are conformed recursively into new containers, and
    every other value goes through the SDK's own `_conform_primitive_property`, except
    str/int/bool/None under a schema that is not exclusively boolean, which that function
    returns unchanged. An object schema without properties, and a property schema the
    SDK's type tests fail on (`{}`, no type), take the SDK's own code at run time, so they
    fail, or not, where the SDK does. tests/test_conformance.py compares the two.
    """

    def __init__(self, schema: dict[str, t.Any]) -> None:
        self.schema = schema
        properties = schema.get("properties")
        # Without properties the SDK fails on the first key (KeyError) yet gives {} for an
        # empty object: its own function does exactly that (a list item schema may lack them).
        self.delegate = not isinstance(properties, dict)
        self.properties: dict[str, t.Any] = properties if isinstance(properties, dict) else {}
        self.additional = bool(schema.get("additionalProperties"))
        tests: dict[str, tuple[bool, bool, bool]] = {}
        for name, sub in self.properties.items():
            if not isinstance(sub, dict):
                continue
            try:
                tests[name] = (
                    is_exclusive_boolean_type(sub),
                    bool(is_uniform_list(sub)),
                    bool(is_object_type(sub)) and "properties" in sub,
                )
            except Exception:  # e.g. `{}`: the SDK fails only when a value needs that test
                continue
        self.passthrough = {name for name, test in tests.items() if not test[0]}
        self.lists = {name for name, test in tests.items() if test[1]}
        self.objects = {name for name, test in tests.items() if test[2]}
        # Anything else takes the SDK's own tests at run time, as the SDK does.
        self.untyped = set(self.properties) - set(tests)
        self._children: dict[int, _Conformer] = {}

    def _child(self, schema: dict[str, t.Any]) -> _Conformer:
        child = self._children.get(id(schema))
        if child is None:
            child = self._children[id(schema)] = _Conformer(schema)
        return child

    def conform(
        self, record: dict[str, t.Any], parent: str | None, unmapped: list[str]
    ) -> dict[str, t.Any]:
        if self.delegate:
            output, sub_unmapped = conform_object_data_types(
                record, self.schema, TypeConformanceLevel.RECURSIVE, parent
            )
            unmapped.extend(sub_unmapped)
            return output
        out: dict[str, t.Any] = {}
        properties = self.properties
        passthrough = self.passthrough
        for name, value in record.items():
            kind = type(value)
            if (kind is str or value is None or kind is int or kind is bool) and (
                name in passthrough
            ):
                out[name] = value
                continue
            if name not in properties:
                if self.additional:
                    out[name] = value
                else:
                    unmapped.append(name if parent is None else f"{parent}.{name}")
                continue
            sub = properties[name]
            if name in self.untyped:
                is_list = isinstance(value, list) and is_uniform_list(sub)
                is_object = (
                    not is_list
                    and isinstance(value, dict)
                    and is_object_type(sub)
                    and "properties" in sub
                )
            else:
                is_list = isinstance(value, list) and name in self.lists
                is_object = not is_list and isinstance(value, dict) and name in self.objects
            if is_list:
                path = name if parent is None else f"{parent}.{name}"
                out[name] = self._conform_list(value, sub, path, unmapped)
            elif is_object:
                path = name if parent is None else f"{parent}.{name}"
                out[name] = self._child(sub).conform(value, path, unmapped)
            else:
                out[name] = conform_primitive_property(value, sub)
        return out

    def _conform_list(
        self, values: list[t.Any], schema: dict[str, t.Any], path: str, unmapped: list[str]
    ) -> list[t.Any]:
        item_schema = schema["items"]
        if not values:  # the SDK tests the item schema only when there is an item
            return []
        item_is_object = is_object_type(item_schema)
        output: list[t.Any] = []
        for item in values:
            if item_is_object and isinstance(item, dict):
                output.append(self._child(item_schema).conform(item, path, unmapped))
            else:
                output.append(conform_primitive_property(item, item_schema))
        return output


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
        #: Bytes of every message written so far, and of the last STATE line (a backfill
        #: paces its checkpoints by them).
        self.written = 0
        self.last_state_size = 0
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
        self.written += len(line) + 1
        if message.type == SingerMessageType.STATE:
            self.last_state_size = len(line) + 1
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

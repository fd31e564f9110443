"""`_Conformer` (tap_pagerduty/output.py) gives what the SDK's recursive type conformance gives.

`_Conformer` is a compiled copy of `singer_sdk.helpers._typing._conform_record_data_types`
(TYPE_CONFORMANCE_LEVEL RECURSIVE) and claims the same output for every input. These tests
generate inputs with hypothesis (derandomized: the same examples on every run) and compare:

1. every schema the tap ships, as its streams load them, with records that follow the schema
   and records with wrong members (numbers as strings, strings where numbers are expected,
   datetimes, decimals, NaN, huge ints, bytes, odd nested objects and arrays, extra properties,
   unicode): the same output (values, types, key order), the same unmapped properties in the
   same order (the SDK's warning lists them), or the same exception;
2. generated schemas of the shapes an input catalog may hold (type lists, `anyOf`, `{}`,
   objects without `properties`, arrays without `items`, `additionalProperties`);
3. a stream's RECORD messages and warnings with the tap's fast path and with the SDK's own
   `Stream._generate_record_messages`, with every property selected and with some deselected;
4. the records of every stream in the PagerDuty emulator's world.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import logging
import math
import os
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._typing import _conform_record_data_types, _warn_unmapped_properties
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.schema.source import SchemaDirectory
from singer_sdk.streams import Stream

from pagerduty_emulator import Emulator
from tap_pagerduty.output import FastRecordMessages, _Conformer
from tap_pagerduty.schema_files import schema_dir
from tap_pagerduty.tap import TapPagerDuty

RECURSIVE = TypeConformanceLevel.RECURSIVE


def _examples(count: int) -> int:
    """`count` examples under `make test`; `make check`, the fast lane, runs a share of them
    (TEST_EXAMPLES_SCALE, set by the Makefile): generating records of the shipped schemas is
    most of this module's CPU."""
    return max(5, math.ceil(count * float(os.environ.get("TEST_EXAMPLES_SCALE", "1"))))


# Derandomized: the same examples on every run, no example database, no time limit per example.
EQUIVALENCE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=_examples(25),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

# `unknown_fields: drop` is the SDK's own behaviour, the one these tests compare with
# (`keep`, the default, adds the `_extra` column: tests/test_unknown_fields.py).
_CONFIG = {"api_token": "x", "unknown_fields": "drop"}
_TAP = TapPagerDuty(config=_CONFIG, parse_env_config=False, validate_config=False)
STREAM_SCHEMAS = {name: stream.effective_schema for name, stream in _TAP.streams.items()}


def test_every_shipped_schema_is_a_stream_schema() -> None:
    """The schemas compared below are all of `schemas/`, as the streams load them."""
    shipped = {path.name.removesuffix(".json") for path in schema_dir().iterdir()}
    assert shipped == set(STREAM_SCHEMAS)
    source = SchemaDirectory(schema_dir())
    for name, schema in STREAM_SCHEMAS.items():
        assert schema == source.fetch_schema(name), name


# -- values --------------------------------------------------------------------------------------

UTC = datetime.timezone.utc
_offsets = st.builds(
    datetime.timezone,
    st.timedeltas(min_value=datetime.timedelta(hours=-23), max_value=datetime.timedelta(hours=23)),
)
_datetimes = st.datetimes(timezones=st.none() | st.just(UTC) | _offsets)
_iso_strings = st.one_of(
    _datetimes.map(lambda moment: moment.isoformat()),
    st.datetimes().map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")),
)
_big_ints = st.integers(min_value=2**53, max_value=2**200) | st.integers(
    min_value=-(2**200), max_value=-(2**53)
)
_text = st.text(max_size=12)  # any unicode, surrogates included
_keys = st.text(max_size=6) | st.sampled_from(["id", "type", "summary", "self", "html_url"])

# Values that belong to no schema in particular: what a wrong member may be.
_odd_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    _big_ints,
    st.floats(),  # NaN and infinities included
    st.decimals(),  # NaN, sNaN and infinities included
    _text,
    st.integers().map(str),
    st.floats(allow_nan=False).map(repr),
    _iso_strings,
    _datetimes,
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.binary(max_size=3),
    st.uuids(),
)
_junk = st.recursive(
    _odd_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=6,
)

_Strategy = st.SearchStrategy[t.Any]


class Values:
    """Strategies for values of a schema: well-typed only, or with wrong members mixed in;
    objects with any subset of their properties, or with all of them (`full`)."""

    def __init__(self, wrong: bool, full: bool = False) -> None:
        self.wrong = wrong
        self.full = full
        self._cache: dict[int, _Strategy] = {}

    def value(self, schema: t.Any) -> _Strategy:
        cached = self._cache.get(id(schema))
        if cached is None:
            cached = self._typed(schema)
            if self.wrong:
                cached = st.one_of(cached, _junk)
            self._cache[id(schema)] = cached
        return cached

    def record(self, schema: dict[str, t.Any]) -> _Strategy:
        """An object of `schema`: any subset of its properties, plus extra ones when wrong."""
        properties = schema.get("properties")
        members = (
            {name: self.value(sub) for name, sub in properties.items()}
            if isinstance(properties, dict)
            else {}
        )
        known = (
            st.fixed_dictionaries(members)
            if self.full
            else st.fixed_dictionaries({}, optional=members)
        )
        if not self.wrong:
            return known
        extra = st.dictionaries(_keys, _junk, max_size=2)
        return st.tuples(known, extra, st.booleans()).map(
            lambda parts: {**parts[1], **parts[0]} if parts[2] else {**parts[0], **parts[1]}
        )

    def _typed(self, schema: t.Any) -> _Strategy:
        if not isinstance(schema, dict):
            return _junk
        if "anyOf" in schema:
            return st.one_of([self._typed(option) for option in schema["anyOf"]])
        types = schema.get("type")
        if types is None:
            return _junk
        options = [
            self._of_type(name, schema) for name in ([types] if isinstance(types, str) else types)
        ]
        return st.one_of(options) if options else _junk

    def _of_type(self, name: str, schema: dict[str, t.Any]) -> _Strategy:
        if name == "null":
            return st.none()
        if name == "boolean":
            return st.booleans()
        if name == "integer":
            return st.integers() | _big_ints
        if name == "number":
            return (
                st.floats(allow_nan=False, allow_infinity=False)
                | st.integers()
                | st.decimals(allow_nan=False, allow_infinity=False)
            )
        if name == "string":
            if schema.get("format") in {"date-time", "date", "time"}:
                return _iso_strings | st.dates().map(str) | st.times().map(str)
            return _text
        if name == "object":
            if "properties" in schema:
                return self.record(schema)
            return st.dictionaries(_keys, _junk, max_size=3)
        if name == "array":
            items = schema.get("items")
            return st.lists(self.value(items) if isinstance(items, dict) else _junk, max_size=3)
        return _junk


WELL_TYPED = Values(wrong=False)
MIXED = Values(wrong=True)
FULL_WELL_TYPED = Values(wrong=False, full=True)
FULL_MIXED = Values(wrong=True, full=True)


# -- comparison ----------------------------------------------------------------------------------


def _sdk(record: dict[str, t.Any], schema: dict[str, t.Any]) -> tuple[t.Any, ...]:
    try:
        output, unmapped = _conform_record_data_types(record, schema, RECURSIVE, None)
    except Exception as error:
        return ("raised", type(error), error.args)
    return ("ok", output, unmapped)


def _fast(
    record: dict[str, t.Any], schema: dict[str, t.Any], conformer: _Conformer | None = None
) -> tuple[t.Any, ...]:
    unmapped: list[str] = []
    try:
        conformer = conformer or _Conformer(schema)
        output = conformer.conform(record, None, unmapped)
    except Exception as error:
        return ("raised", type(error), error.args)
    return ("ok", output, unmapped)


def _same(left: t.Any, right: t.Any) -> bool:
    """Equal as written: same types, same key order, NaN equal to NaN (`1 == 1.0 == True`
    would hide a changed type)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[key], right[key]) for key in left)
    if isinstance(left, (list, tuple)):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, float):
        return (math.isnan(left) and math.isnan(right)) or (
            left == right and math.copysign(1, left) == math.copysign(1, right)
        )
    if isinstance(left, decimal.Decimal):
        return str(left) == str(right)
    return bool(left == right)


def _assert_equivalent(
    record: dict[str, t.Any], schema: dict[str, t.Any], conformer: _Conformer | None = None
) -> None:
    before = copy.deepcopy(record)
    expected = _sdk(copy.deepcopy(record), schema)
    actual = _fast(record, schema, conformer)
    assert _same(actual, expected), f"\n_Conformer: {actual!r}\nSDK:        {expected!r}"
    assert _same(record, before), "_Conformer changed its input"


# -- 1. every shipped schema ---------------------------------------------------------------------

# One conformer per schema, reused across examples as a stream reuses it across records.
_CONFORMERS = {name: _Conformer(schema) for name, schema in STREAM_SCHEMAS.items()}


@pytest.mark.parametrize("name", sorted(STREAM_SCHEMAS))
@EQUIVALENCE
@given(data=st.data())
def test_shipped_schema_records_conform_as_with_the_sdk(name: str, data: st.DataObject) -> None:
    schema = STREAM_SCHEMAS[name]
    values = data.draw(
        st.sampled_from([WELL_TYPED, MIXED, FULL_WELL_TYPED, FULL_MIXED]), label="values"
    )
    record = data.draw(values.record(schema), label="record")
    _assert_equivalent(record, schema, _CONFORMERS[name])


@pytest.mark.parametrize("name", sorted(STREAM_SCHEMAS))
def test_shipped_schema_wrong_type_in_every_property(name: str) -> None:
    """Each top-level property in turn holds each odd value (examples independent of
    hypothesis' choice of keys)."""
    schema = STREAM_SCHEMAS[name]
    odd = [
        "12",
        "1.5",
        "",
        "é✓",
        12,
        2**70,
        -1.5,
        float("nan"),
        float("inf"),
        decimal.Decimal("1.10"),
        decimal.Decimal("NaN"),
        True,
        False,
        None,
        datetime.datetime(2026, 1, 2, 3, 4, 5),
        datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime.date(2026, 1, 2),
        datetime.time(3, 4),
        datetime.timedelta(seconds=90),
        b"\x00",
        b"\x01\x02",
        {},
        {"id": 1, "unknown": "x", "type": None},
        [],
        [None, "a", 1, {"x": 1}, [1]],
        [{}],
    ]
    for value in odd:
        record = {prop: value for prop in schema["properties"]}
        record["not_in_schema"] = value
        _assert_equivalent(record, schema, _CONFORMERS[name])


def test_emulator_records_conform_as_with_the_sdk() -> None:
    """Realistic records: every stream's records in the PagerDuty emulator's world."""
    world = Emulator(seed=3, incidents=60, days=30, now="2026-11-01T00:00:00Z")
    compared = 0
    for name, schema in STREAM_SCHEMAS.items():
        window = {"since": "2026-11-01T00:00:00Z", "until": "2026-11-08T00:00:00Z"}
        records = world.truth(name, **window) if name == "oncalls" else world.truth(name)
        for record in records:
            _assert_equivalent(record, schema, _CONFORMERS[name])
        compared += len(records)
    assert compared > 1000


# -- 2. schemas an input catalog may hold --------------------------------------------------------

_TYPE_NAMES = ["string", "integer", "number", "boolean", "null", "object", "array"]
_type_spec = st.sampled_from(_TYPE_NAMES) | st.lists(
    st.sampled_from(_TYPE_NAMES), min_size=1, max_size=3, unique=True
)
_leaf_schemas: _Strategy = st.one_of(
    st.fixed_dictionaries(
        {"type": _type_spec},
        optional={"format": st.sampled_from(["date-time", "date", "time", "email"])},
    ),
    st.just({}),
    st.just({"description": "no type"}),
    st.lists(st.sampled_from(_TYPE_NAMES), min_size=1, max_size=3).map(
        lambda names: {"anyOf": [{"type": name} for name in names]}
    ),
)
_property_names = st.sampled_from(["a", "b", "c", "id", "é"])


def _composite_schemas(inner: _Strategy) -> _Strategy:
    objects = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["object", ["object", "null"], ["object", "string", "null"]]),
            "properties": st.dictionaries(_property_names, inner, max_size=4),
        },
        optional={"additionalProperties": st.booleans()},
    )
    arrays = st.fixed_dictionaries(
        {"type": st.sampled_from(["array", ["array", "null"], ["array", "integer", "null"]])},
        optional={"items": inner | st.just({"type": ["object", "null"]})},
    )
    any_of_object = objects.map(lambda schema: {"anyOf": [schema, {"type": "null"}]})
    return st.one_of(objects, arrays, any_of_object)


_catalog_schemas = st.fixed_dictionaries(
    {
        "type": st.just("object"),
        "properties": st.dictionaries(
            _property_names, st.recursive(_leaf_schemas, _composite_schemas, max_leaves=8)
        ),
    },
    optional={"additionalProperties": st.booleans()},
)


@settings(EQUIVALENCE, max_examples=_examples(250))
@given(data=st.data())
def test_catalog_shaped_schema_records_conform_as_with_the_sdk(data: st.DataObject) -> None:
    schema = data.draw(_catalog_schemas, label="schema")
    record = data.draw(Values(wrong=True).record(schema), label="record")
    _assert_equivalent(record, schema)


def test_examples_the_generated_schemas_must_cover() -> None:
    """Shapes where a compiled conformer can go wrong, each pinned down once."""
    no_properties_items = {"type": "array", "items": {"type": ["object", "null"]}}
    untyped = {"description": "no type"}
    cases: list[tuple[dict[str, t.Any], dict[str, t.Any]]] = [
        # a list of objects whose item schema has no properties (services.json's
        # email_parsers[].match_predicate.children[].children[]): the SDK gives {} for an
        # empty item and fails on any other
        ({"type": "object", "properties": {"a": no_properties_items}}, {"a": [{}, None]}),
        ({"type": "object", "properties": {"a": no_properties_items}}, {"a": [{"x": 1}]}),
        # properties with no type: the SDK only fails when a list arrives
        ({"type": "object", "properties": {"a": {}}}, {"a": "x"}),
        ({"type": "object", "properties": {"a": {}}}, {"a": [1]}),
        ({"type": "object", "properties": {"a": untyped}}, {"a": {"b": 1}}),
        ({"type": "object", "properties": {"a": untyped}}, {"a": [1]}),
        ({"type": "object", "properties": {"a": untyped}}, {"b": [1]}),
    ]
    for schema, record in cases:
        _assert_equivalent(record, schema)


@pytest.mark.parametrize("innermost", [{}, {"type": "regex", "matcher": "x", "part": "body"}])
def test_innermost_email_parser_predicate_as_with_the_sdk(innermost: dict[str, t.Any]) -> None:
    """The third level of `match_predicate.children` has an object schema without properties:
    the SDK keeps an empty object and fails (KeyError) on any other; so must `_Conformer`."""
    record = {
        "id": "P1",
        "email_parsers": [{"match_predicate": {"children": [{"children": [innermost]}]}}],
    }
    schema = STREAM_SCHEMAS["service_integrations"]
    _assert_equivalent(record, schema, _CONFORMERS["service_integrations"])


# -- 3. a stream's messages and warnings ---------------------------------------------------------


def _messages_and_warnings(
    stream: Stream, method: t.Callable[..., t.Any], record: dict[str, t.Any]
) -> tuple[list[t.Any], list[str]]:
    _warn_unmapped_properties.cache_clear()  # else the SDK warns once per set of names
    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, entry: logging.LogRecord) -> None:
            warnings.append(entry.getMessage())

    handler = Collect(logging.WARNING)
    stream.logger.addHandler(handler)
    messages: list[tuple[t.Any, ...]]
    try:
        messages = [(message.stream, message.record) for message in method(stream, record)]
    except Exception as error:
        messages = [("raised", type(error), error.args)]
    finally:
        stream.logger.removeHandler(handler)
    return messages, warnings


def _tap_deselecting(properties: dict[str, set[str]]) -> TapPagerDuty:
    """A tap run with a catalog that deselects some top-level properties of some streams."""
    catalog = copy.deepcopy(_TAP.catalog_dict)
    for entry in catalog["streams"]:
        names = properties.get(entry["tap_stream_id"], set())
        for meta in entry["metadata"]:
            if meta["breadcrumb"][-1:] and meta["breadcrumb"][-1] in names:
                meta["metadata"]["selected"] = False
    return TapPagerDuty(
        config=_CONFIG, catalog=catalog, parse_env_config=False, validate_config=False
    )


_DESELECTING = _tap_deselecting({"incidents": {"description", "service"}, "users": {"teams"}})


@pytest.mark.parametrize(
    ("tap", "name"),
    [
        (_TAP, "incidents"),
        (_TAP, "services"),
        (_TAP, "log_entries"),
        (_DESELECTING, "incidents"),
        (_DESELECTING, "users"),
    ],
    ids=["incidents", "services", "log_entries", "incidents-deselected", "users-deselected"],
)
@settings(EQUIVALENCE, max_examples=_examples(15))
@given(data=st.data())
def test_stream_messages_and_warnings_match_the_sdk(
    tap: TapPagerDuty, name: str, data: st.DataObject
) -> None:
    stream = tap.streams[name]
    assert isinstance(stream, FastRecordMessages)
    assert all(stream.mask.values()) is (tap is _TAP)
    record = data.draw(MIXED.record(stream.effective_schema), label="record")
    expected = _messages_and_warnings(
        stream, Stream._generate_record_messages, copy.deepcopy(record)
    )
    actual = _messages_and_warnings(stream, FastRecordMessages._generate_record_messages, record)
    assert _same(actual, expected), f"\nfast: {actual!r}\nSDK:  {expected!r}"

"""Where the tap meets singer-sdk beyond its public, overridable API, in one place.

Two lists, both checked by `tests/test_sdk_seams.py`:

- `SEAMS`: every private SDK name the tap uses, and every SDK method it overrides although the
  SDK marks it private or `@final` (in `StreamSeams` and `TapSeams`). singer-sdk 0.54 offers
  no public hook for a few things the tap must do; each is used here and nowhere else, under
  a public name the rest of the tap calls or overrides. The test checks that the installed
  SDK still has each one with the same parameters, and, by a real sync with each override
  instrumented, that the SDK still calls the tap's overrides (one SCHEMA per stream, RECORD
  messages through the faster path, bookmarks at window ends): an upgrade that reshapes or
  bypasses one fails the test naming the seam, instead of breaking a sync.
- `UNUSED_REST_HOOKS`: streams are SDK `Stream`s, not `RESTStream`s, because every request
  goes through the tap's engine (`engine.py`). A stream class that defines one of
  `RESTStream`'s hooks, as the SDK's docs teach, would change nothing; it fails when the
  class is created, with one line saying what to override instead.

Replaced by public interfaces (no longer used): `Stream._tap` (streams keep the tap they are
built with), `Tap._streams` (the stream order is set by `TapPagerDuty.streams`, which overrides
the SDK's public `Tap.streams` property), `Stream._write_state_message` and
`state_manager.is_flushed` (`Tap.state_writer`), `singer_sdk.helpers._util.utc_now`
(`datetime.now(timezone.utc)`), `RESTStream._request` (the engine sends, checks and meters
requests itself, see `engine.py`) and `PluginBase._validate_config` (the SDK validates
settings against the schema; `TapPagerDuty` turns its errors into one line).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from singer_sdk import Tap
from singer_sdk.helpers import _catalog, _typing
from singer_sdk.streams.core import Stream

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator

    import singer_sdk.singerlib as singer
    from singer_sdk.helpers.types import Context, Record


@dataclass(frozen=True)
class Seam:
    """One private (or `@final`) SDK name the tap relies on."""

    owner: t.Any  # the SDK class or module that defines it
    name: str
    params: tuple[str, ...]  # its parameter names, in order (checked against the SDK)
    why: str
    #: Whether the tap overrides it (in `StreamSeams` or `TapSeams`) and relies on the SDK
    #: calling the override; else the tap calls the SDK's own.
    overridden: bool = False


SEAMS = (
    Seam(
        Stream,
        "sync",
        ("self", "context"),
        "stop every other request of the run when a stream's sync fails, so the error line "
        "comes last (no public hook sees a stream's sync fail); the SDK marks `sync` @final, "
        "so the override only wraps it (`StreamSeams.around_sync`, client.py)",
        overridden=True,
    ),
    Seam(
        Tap,
        "sync_all",
        ("self",),
        "say the run's summary line once every stream is done (no public hook runs then); "
        "the SDK marks `sync_all` @final, so the override only wraps it "
        "(`TapSeams.around_sync_all`, tap.py)",
        overridden=True,
    ),
    Seam(
        Stream,
        "_generate_record_messages",
        ("self", "record"),
        "emit RECORD messages through the tap's faster conformer (output.FastRecordMessages); "
        "the SDK has no public hook between a record and its message",
        overridden=True,
    ),
    Seam(
        Stream,
        "_write_schema_message",
        ("self",),
        "write a child stream's SCHEMA once per run: the SDK repeats it before every parent "
        "record's children, and targets such as target-duckdb flush on each SCHEMA",
        overridden=True,
    ),
    Seam(
        Stream,
        "_increment_stream_state",
        ("self", "latest_record", "context"),
        "keep bookmarks at window ends: the SDK moves them on every record, which would skip "
        "the rest of a window after a killed run",
        overridden=True,
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


#: `RESTStream`'s hooks (every name `_HTTPStream` and `RESTStream` add to `Stream`, read from
#: singer-sdk 0.54.9), by what a stream does instead. None of them is ever called: requests
#: go through the engine. `tests/test_sdk_seams.py` checks the list against the installed SDK.
_INSTEAD: dict[str, tuple[str, ...]] = {
    "name the endpoint in `path` and call `self.fetch(path, params)`; the host comes from "
    "the `api_url` / `region` settings": ("url_base", "get_url", "_url_encode"),
    "put query parameters in the class's `extra_params` (every request) or pass them to "
    "`self.fetch(path, params)`": (
        "get_url_params",
        "get_http_request",
        "prepare_request",
        "_prepare_request",
        "build_prepared_request",
    ),
    "pass a read-only query's body to `self.fetch(path, body=...)` (the tap sends GET, and "
    "POST only for analytics queries)": (
        "http_method",
        "prepare_request_payload",
        "payload_as_json",
    ),
    "headers, credentials, sessions and timeouts are the engine's (`Accept`, the `user_agent`, "
    "`api_token` / OAuth and `request_timeout` settings; engine.py)": (
        "http_headers",
        "user_agent",
        "authenticator",
        "requests_session",
        "allow_redirects",
        "timeout",
    ),
    "retries, waits and error lines are the engine's (the `max_retries` setting, "
    "`errors.RETRY_STATUSES`, `Engine._check`)": (
        "request_decorator",
        "_request",
        "backoff_wait_generator",
        "backoff_max_tries",
        "backoff_jitter",
        "backoff_handler",
        "backoff_runtime",
        "extra_retry_statuses",
        "validate_response",
        "response_error_message",
    ),
    "override `get_records` and page with `classic_pages`, `window_pages` or `cursor_pages` "
    "(client.py); the key of the record list is `records_key`": (
        "get_new_paginator",
        "next_page_token_jsonpath",
        "_page_size",
        "request_records",
        "parse_response",
        "records_jsonpath",
    ),
    "the engine writes the SDK's request metrics itself (`Engine._write_request_metric`)": (
        "calculate_sync_cost",
        "update_sync_costs",
        "get_http_request_counter",
        "_write_request_duration_log",
        "_LOG_REQUEST_METRICS",
        "_LOG_REQUEST_METRIC_URLS",
    ),
}
UNUSED_REST_HOOKS: dict[str, str] = {
    hook: instead for instead, hooks in _INSTEAD.items() for hook in hooks
}


def refuse_unused_rest_hooks(cls: type) -> None:
    """Fail when `cls` defines a `RESTStream` hook: one line naming it and what to do."""
    defined = sorted(UNUSED_REST_HOOKS.keys() & vars(cls).keys())
    if defined:
        hook = defined[0]
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} defines `{hook}`, a singer-sdk RESTStream "
            f"hook that tap-pagerduty never calls (every request goes through engine.py): "
            f"{UNUSED_REST_HOOKS[hook]}"
        )


class StreamSeams(Stream):
    """The SDK's private and `@final` stream methods the tap overrides, each forwarded to a
    public method of the same meaning whose default is the SDK's own behaviour; the tap's
    streams override the public ones (and no `RESTStream` hook, see `UNUSED_REST_HOOKS`)."""

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        refuse_unused_rest_hooks(cls)

    # -- overrides of private or final SDK methods: the only ones in the tap ------------------

    def sync(self, context: Context | None = None) -> None:  # type: ignore[misc]
        self.around_sync(lambda: Stream.sync(self, context))

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

    def around_sync(self, sync: Callable[[], None]) -> None:
        """Run the SDK's sync of this stream (`sync()`); override to act when it fails."""
        sync()

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


class TapSeams(Tap):
    """The SDK's `@final` tap method the tap overrides, forwarded to a public hook whose
    default is the SDK's own behaviour; `TapPagerDuty` overrides the hook."""

    def sync_all(self) -> None:  # type: ignore[misc]
        self.around_sync_all(lambda: Tap.sync_all(self))

    def around_sync_all(self, sync_all: Callable[[], None]) -> None:
        """Run the SDK's sync of every stream (`sync_all()`); override to act around it."""
        sync_all()

"""The base stream: auth, headers, the throttled retrying request, errors and paging.

Every request of every stream goes through `PagerDutyStream.fetch`, which takes a throttle
token per attempt (retries included), retries what PagerDuty says is transient, and turns
every other error into one line that names the stream, the request path and PagerDuty's
own message. The paging helpers at the bottom are the only places that loop over pages.
"""

from __future__ import annotations

import contextlib
import random
import threading
import typing as t
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError, Future
from email.utils import parsedate_to_datetime
from urllib.parse import urlparse

import backoff
import msgspec
import requests
import singer_sdk.singerlib as singer
from singer_sdk import RESTStream, SchemaDirectory, StreamSchema
from singer_sdk.authenticators import APIKeyAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._typing import (
    _conform_primitive_property,
    _is_exclusive_boolean_type,
    _warn_unmapped_properties,
    conform_record_data_types,
    is_object_type,
    is_uniform_list,
)
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams.rest import HTTPRequest

from tap_pagerduty.schema_files import schema_dir
from tap_pagerduty.windows import OFFSET_CAP, Window

if t.TYPE_CHECKING:
    from datetime import datetime

    from singer_sdk.helpers.types import Context

    from tap_pagerduty.settings import Settings
    from tap_pagerduty.tap import TapPagerDuty

ACCEPT = "application/vnd.pagerduty+json;version=2"
RETRY_STATUSES = {408, 429}
_T = t.TypeVar("_T")

HINTS = {
    400: "PagerDuty rejected the request's arguments",
    401: "check 'api_token' / 'oauth_token': PagerDuty did not accept the token",
    402: "the PagerDuty account's plan lacks this feature",
    403: "the token lacks the permission or OAuth scope for this endpoint",
    404: "the resource does not exist or the token cannot see it",
}


class PagerDutyAPIError(FatalAPIError):
    """A non-retriable answer from PagerDuty; the message is one line for the user."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RateLimitedError(RetriableAPIError):
    """429: retried after `wait` seconds (PagerDuty's `ratelimit-reset`), or with the usual
    exponential backoff when the answer carries no header (`wait` is None)."""

    def __init__(self, message: str, response: requests.Response, wait: float | None) -> None:
        super().__init__(message, response)
        self.wait = wait


class PagerDutyStream(RESTStream[int]):
    """Base for every PagerDuty stream."""

    schema = StreamSchema(SchemaDirectory(schema_dir()))
    primary_keys: t.ClassVar[tuple[str, ...]] = ("id",)
    #: Key of the record list in the response body; defaults to the stream name.
    records_key: t.ClassVar[str | None] = None
    #: Query parameters every request of the stream carries (includes, filters).
    extra_params: t.ClassVar[dict[str, t.Any]] = {}
    #: Optional streams are skipped with a warning on 402/403 (plan feature or scope missing).
    optional: t.ClassVar[bool] = False

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions = threading.local()
        self._send = self.request_decorator(self._attempt)  # type: ignore[arg-type]

    # -- configuration -------------------------------------------------------------------

    @property
    def tap(self) -> TapPagerDuty:
        return t.cast("TapPagerDuty", self._tap)

    @property
    def settings(self) -> Settings:
        return self.tap.settings

    @property
    def url_base(self) -> str:
        return self.settings.base_url

    @property
    def authenticator(self) -> APIKeyAuthenticator:
        return APIKeyAuthenticator(key="Authorization", value=self.settings.authorization)

    @property
    def http_headers(self) -> dict[str, str]:
        return {"Accept": ACCEPT, "User-Agent": self.settings.user_agent}

    @property
    def timeout(self) -> int:
        return int(self.settings.request_timeout)

    @property
    def requests_session(self) -> requests.Session:
        # One session per thread: the SDK sets `session.auth` on every request it prepares.
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = requests.Session()
            self._sessions.session = session
        return session

    @property
    def key(self) -> str:
        return self.records_key or self.name

    def skip_if_unavailable(self, items: Iterator[_T]) -> Iterator[_T]:
        """Optional streams need a plan feature or scope: skip them on a first 402/403."""
        first = True
        try:
            for item in items:
                first = False
                yield item
        except PagerDutyAPIError as error:
            if not (self.optional and first and error.status in (402, 403)):
                raise
            self.logger.warning("Skipping stream '%s': %s", self.name, error)

    def emit(self, records: Iterable[dict[str, t.Any]]) -> Iterator[dict[str, t.Any]]:
        """Hand records to the SDK; parents override this to prepare their children."""
        yield from records

    # -- record messages (performance) ------------------------------------------------------

    def _generate_record_messages(
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
            record = conformer.conform(record, None, unmapped)
            if unmapped:
                _warn_unmapped_properties(self.name, tuple(unmapped), self.logger)
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
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )

    def _has_deselected(self) -> bool:
        """Whether the selection mask deselects anything (else popping removes nothing)."""
        mask = self.mask
        cached = self.__dict__.get("_deselected")
        if cached is None or cached[0] is not mask:
            cached = self.__dict__["_deselected"] = (mask, not all(mask.values()))
        return bool(cached[1])

    # -- one request: throttle, retry, validate, parse ------------------------------------

    def fetch(
        self,
        path: str,
        params: dict[str, t.Any] | None = None,
        *,
        body: dict[str, t.Any] | None = None,
        context: Context | None = None,
    ) -> dict[str, t.Any]:
        """Send one GET (or the read-only analytics POST) and return the parsed body.

        A stream's first page may already have been requested while earlier streams ran
        (`TapPagerDuty.prefetch_after`): then its answer is used instead of a new request.
        """
        ahead = self.tap.take_prefetched(self, path, params, body)
        if ahead is not None:
            payload = ahead.result()
        else:
            payload = self._fetch_now(path, params, body=body, context=context)
        self.tap.prefetch_after(self)
        return payload

    def fetch_ahead(self, path: str, params: dict[str, t.Any]) -> dict[str, t.Any]:
        """`fetch` on a worker thread for a stream that has not started yet. Nothing is sent
        once the main thread has ended (a run that failed exits without its prefetches)."""
        if not threading.main_thread().is_alive():
            raise CancelledError
        return self._fetch_now(path, params)

    def _fetch_now(
        self,
        path: str,
        params: dict[str, t.Any] | None = None,
        *,
        body: dict[str, t.Any] | None = None,
        context: Context | None = None,
    ) -> dict[str, t.Any]:
        request = HTTPRequest(
            url=f"{self.url_base}{path}",
            method="POST" if body is not None else "GET",
            headers=self.http_headers,
            params={**self.extra_params, **(params or {})},
            safe_query_chars="[]:",
        )
        prepared = self.build_prepared_request(
            method=request.method,
            url=request.url,
            params=request.encode_params(),
            headers=request.headers,
            json=body,
        )
        return t.cast("dict[str, t.Any]", self._send(prepared, context))

    def _attempt(
        self, prepared: requests.PreparedRequest, context: Context | None
    ) -> dict[str, t.Any]:
        with self.tap.throttle.request_slot():
            response = self._request(prepared, context)
        try:
            payload = _decode_json(response)
        except ValueError:
            raise RetriableAPIError(
                f"{self.name}: truncated or non-JSON body from {self._path(response)}", response
            ) from None
        if not isinstance(payload, dict):
            raise PagerDutyAPIError(
                f"{self.name}: unexpected response body from {self._path(response)}", 200
            )
        return payload

    def validate_response(self, response: requests.Response) -> None:
        self.tap.clock.observe(response.headers.get("Date"))
        status = response.status_code
        if status == 429:
            wait = _rate_limit_wait(response)
            if wait is not None:
                self.tap.throttle.pause(wait)  # every thread waits, not just this one
            raise RateLimitedError(self._describe(response), response, wait)
        if status in RETRY_STATUSES or status >= 500:
            raise RetriableAPIError(self._describe(response), response)
        if status >= 400:
            raise PagerDutyAPIError(self._describe(response), status)

    def _describe(self, response: requests.Response) -> str:
        """One line: stream, method, path (never the token), status, PagerDuty's message."""
        status = response.status_code
        line = (
            f"{self.name}: {response.request.method} {self._path(response)} "
            f"failed with HTTP {status}"
        )
        detail = _error_detail(response)
        if detail:
            line += f": {detail}"
        if status in HINTS:
            line += f" ({HINTS[status]})"
        return line

    @staticmethod
    def _path(response: requests.Response) -> str:
        return urlparse(response.url).path or "/"

    # -- retries ---------------------------------------------------------------------------

    def backoff_max_tries(self) -> int:
        return self.settings.max_retries + 1

    def backoff_wait_generator(self) -> t.Generator[float, t.Any, None]:
        """Exponential waits, except a 429 waits what PagerDuty's `ratelimit-reset` says."""

        def waits() -> t.Generator[float, t.Any, None]:
            expo = backoff.expo(base=2, factor=0.5, max_value=30)
            next(expo)  # prime: the first value of backoff.expo is None
            exc = yield 0.0  # backoff primes the generator with send(None)
            while True:
                if isinstance(exc, RateLimitedError) and exc.wait is not None:
                    exc = yield exc.wait
                else:
                    exc = yield next(expo)

        return waits()

    def backoff_jitter(self, value: float) -> float:
        return value + random.uniform(0, min(1.0, value / 2 + 0.1))

    def backoff_handler(self, details: t.Any) -> None:
        exc = details.get("exception")
        self.logger.warning(
            "%s: retry %d in %.1fs after: %s",
            self.name,
            details.get("tries", 0),
            details.get("wait", 0.0),
            _short(exc),
        )

    # -- paging ------------------------------------------------------------------------------

    def classic_pages(
        self, path: str, params: dict[str, t.Any], context: Context | None = None
    ) -> Iterator[list[dict[str, t.Any]]]:
        """All pages of one classic (offset/limit/more) listing, in order (main thread only).

        The first page asks for `total`, so the remaining pages are known and fetched
        concurrently (up to `max_concurrency` in flight); pages come back in order.
        """
        limit = self.settings.page_size
        first = self.fetch(path, {**params, "limit": limit, "offset": 0, "total": "true"})
        total = first.get("total")
        if isinstance(total, int) and total > OFFSET_CAP:
            self.logger.warning(
                "%s: %s holds %d records; PagerDuty pages only through the first %d",
                self.name,
                path,
                total,
                OFFSET_CAP,
            )
        yield from self._rest_of_window(path, params, first, limit)

    def sequential_pages(
        self,
        path: str,
        params: dict[str, t.Any],
        limit: int,
        offset: int = 0,
        key: str | None = None,
    ) -> Iterator[list[dict[str, t.Any]]]:
        """Pages one after another, following `more`; safe to call from a worker thread."""
        while offset + limit <= OFFSET_CAP:
            page = self.fetch(path, {**params, "limit": limit, "offset": offset})
            records = page.get(key or self.key) or []
            yield records
            if not page.get("more") or not records:
                return
            offset += len(records)

    def window_pages(
        self,
        path: str,
        params: dict[str, t.Any],
        windows: Iterable[Window],
        *,
        key: str | None = None,
        lookahead: int = 3,
    ) -> Iterator[tuple[Window, list[dict[str, t.Any]] | None]]:
        """Pages of consecutive time windows, in window order.

        Yields `(window, records)` for each page and `(window, None)` once a window is
        complete, so the caller can checkpoint. The first pages of the next `lookahead`
        windows are requested ahead; a window holding more records than the offset cap
        is split into smaller windows before any of its records are read.
        """
        limit = self.settings.page_size
        upcoming = iter(windows)
        pending: deque[tuple[Window, Future[dict[str, t.Any]]]] = deque()

        def first_page(window: Window) -> Future[dict[str, t.Any]]:
            query = {**params, **window.params(), "limit": limit, "offset": 0, "total": "true"}
            return self.tap.submit(self.fetch, path, query)

        try:
            while True:
                while len(pending) < lookahead:
                    window = next(upcoming, None)
                    if window is None:
                        break
                    pending.append((window, first_page(window)))
                if not pending:
                    return
                window, future = pending.popleft()
                first = future.result()
                total = first.get("total")
                if isinstance(total, int) and total + limit > OFFSET_CAP and window.can_split():
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
                for records in self._rest_of_window(path, window_params, first, limit, key):
                    yield window, records
                yield window, None
        finally:  # closed early (an error, or a killed run): drop what is queued
            cancel([future for _, future in pending])

    def _rest_of_window(
        self,
        path: str,
        params: dict[str, t.Any],
        first: dict[str, t.Any],
        limit: int,
        key: str | None = None,
    ) -> Iterator[list[dict[str, t.Any]]]:
        key = key or self.key
        records = first.get(key) or []
        yield records
        if not first.get("more"):
            return
        total = first.get("total")
        if not isinstance(total, int):
            yield from self.sequential_pages(path, params, limit, len(records), key)
            return
        offsets = range(limit, min(total, OFFSET_CAP - limit + 1), limit)
        futures = [
            self.tap.submit(self.fetch, path, {**params, "limit": limit, "offset": o})
            for o in offsets
        ]
        last = first
        try:
            for future in futures:
                last = future.result()
                yield last.get(key) or []
        finally:
            cancel(futures)
        if last.get("more") and futures:
            yield from self.sequential_pages(path, params, limit, offsets[-1] + limit, key)

    def cursor_pages(self, path: str, params: dict[str, t.Any]) -> Iterator[list[dict[str, t.Any]]]:
        """Pages of a cursor-paged listing (`cursor` / `next_cursor`)."""
        cursor: str | None = None
        for _ in range(1_000_000):  # bounded: a cursor that never ends is a server bug
            query = {**params, "limit": self.settings.page_size}
            if cursor:
                query["cursor"] = cursor
            page = self.fetch(path, query)
            yield page.get(self.key) or []
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def server_now(self) -> datetime:
        """PagerDuty's current time (from the `Date` header), one probe if none seen yet."""
        return self.tap.clock.now(probe=lambda: self._probe_clock())

    def _probe_clock(self) -> None:
        # Any answer carries a Date header; its status does not matter here.
        with contextlib.suppress(PagerDutyAPIError):
            self.fetch("/abilities")


class _Conformer:
    """The SDK's recursive type conformance (`singer_sdk.helpers._typing`,
    `_conform_record_data_types`) for one object schema, with every schema test done once.

    Same output for every input: properties missing from the schema are dropped (or kept
    with `additionalProperties`) and reported in `unmapped` in the SDK's order, uniform
    lists and objects with properties are conformed recursively into new containers, and
    every other value goes through the SDK's own `_conform_primitive_property`, except
    str/int/bool/None under a schema that is not exclusively boolean, which that function
    returns unchanged.
    """

    def __init__(self, schema: dict[str, t.Any]) -> None:
        self.schema = schema
        self.properties: dict[str, t.Any] = schema["properties"]
        self.additional = bool(schema.get("additionalProperties"))
        typed = {name: sub for name, sub in self.properties.items() if isinstance(sub, dict)}
        self.passthrough = {
            name for name, sub in typed.items() if not _is_exclusive_boolean_type(sub)
        }
        self.lists = {name for name, sub in typed.items() if is_uniform_list(sub)}
        self.objects = {
            name for name, sub in typed.items() if is_object_type(sub) and "properties" in sub
        }
        # Anything else (a non-dict subschema) takes the SDK's own tests at run time.
        self.untyped = set(self.properties) - set(typed)
        self._children: dict[int, _Conformer] = {}

    def _child(self, schema: dict[str, t.Any]) -> _Conformer:
        child = self._children.get(id(schema))
        if child is None:
            child = self._children[id(schema)] = _Conformer(schema)
        return child

    def conform(
        self, record: dict[str, t.Any], parent: str | None, unmapped: list[str]
    ) -> dict[str, t.Any]:
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
                out[name] = _conform_primitive_property(value, sub)
        return out

    def _conform_list(
        self, values: list[t.Any], schema: dict[str, t.Any], path: str, unmapped: list[str]
    ) -> list[t.Any]:
        item_schema = schema["items"]
        item_is_object = is_object_type(item_schema)
        output: list[t.Any] = []
        for item in values:
            if item_is_object and isinstance(item, dict):
                output.append(self._child(item_schema).conform(item, path, unmapped))
            else:
                output.append(_conform_primitive_property(item, item_schema))
        return output


_json_decoder = msgspec.json.Decoder()


def _decode_json(response: requests.Response) -> t.Any:
    """`response.json()`, parsed by msgspec (several times faster) when it can: anything
    msgspec refuses (not UTF-8, NaN, 1e400, lone surrogates) goes to `response.json()`."""
    try:
        return _json_decoder.decode(response.content)
    except ValueError:  # msgspec.DecodeError and ValidationError are ValueErrors
        return response.json()


def _rate_limit_wait(response: requests.Response) -> float | None:
    """Seconds until PagerDuty's rate-limit window resets, if it says so."""
    try:
        return max(0.0, float(response.headers["ratelimit-reset"]))
    except (KeyError, ValueError):
        return None


def _error_detail(response: requests.Response) -> str:
    """PagerDuty's `error.message` and `error.errors`, when the body is its error JSON."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return ""
    if not isinstance(error, dict):
        return str(error)[:300]
    parts = [str(error.get("message") or "").strip()]
    errors = error.get("errors")
    if isinstance(errors, list):
        parts.extend(str(e) for e in errors)
    elif isinstance(errors, dict):
        parts.extend(f"{k}: {v}" for k, v in errors.items())
    if error.get("code") is not None:
        parts.append(f"code {error['code']}")
    return "; ".join(p for p in parts if p)[:500]


def _short(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


def parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def cancel(futures: Iterable[Future[t.Any]]) -> None:
    """Cancel requests that were queued but are no longer wanted."""
    for future in futures:
        future.cancel()

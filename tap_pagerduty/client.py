"""The base stream: auth, headers, the throttled retrying request, errors and paging.

Every request of every stream goes through `PagerDutyStream.fetch`, which takes a throttle
token per attempt (retries included), retries what PagerDuty says is transient, and turns
every other error into one line that names the stream, the request path and PagerDuty's
own message. The paging helpers at the bottom walk PagerDuty's two paging styles (classic
offset/limit/total and cursor); the analytics query's own paging is in streams/history.py.
"""

from __future__ import annotations

import itertools
import random
import ssl
import threading
import typing as t
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError, Future
from urllib.parse import urlparse

import backoff
import msgspec
import requests
from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.authenticators import APIKeyAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError, SyncLifecycleSignal
from singer_sdk.streams.rest import HTTPRequest

from tap_pagerduty import oauth, redact
from tap_pagerduty.availability import UNAVAILABLE_STATUSES, is_optional
from tap_pagerduty.output import FastRecordMessages
from tap_pagerduty.prefetch import Request
from tap_pagerduty.schema_files import schema_dir
from tap_pagerduty.windows import OFFSET_CAP, Window

if t.TYPE_CHECKING:
    from datetime import datetime

    from singer_sdk.helpers.types import Context

    from tap_pagerduty.settings import Settings
    from tap_pagerduty.tap import TapPagerDuty

ACCEPT = "application/vnd.pagerduty+json;version=2"
RETRY_STATUSES = {408, 429}
# A refused connection is retried this many times in all: a server restarting comes back in
# seconds, while a wrong port or a stopped proxy never does.
REFUSED_TRIES = 3
# What the backoff decorator retries (the SDK's `request_decorator`): after the last retry
# the request fails with "gave up after N retries" and the last cause.
RETRIED_ERRORS = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_T = t.TypeVar("_T")

HINTS = {
    400: "PagerDuty rejected the request's arguments",
    401: "check 'api_token' / 'oauth_token': PagerDuty did not accept the token",
    402: "the PagerDuty account's plan lacks this feature",
    403: "the token lacks the permission or OAuth scope for this endpoint",
    404: "the resource does not exist or the token cannot see it",
    410: "PagerDuty has retired this endpoint",
}


class PagerDutyAPIError(FatalAPIError):
    """A non-retriable answer from PagerDuty; the message is one line for the user."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RequestFailedError(PagerDutyAPIError):
    """A request that got no answer and will not get one: the cause cannot heal (TLS
    mismatch, connection refused, a header the HTTP library refuses) or the retries ran out."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 0)


class PagingError(PagerDutyAPIError):
    """PagerDuty's paging contradicts itself (a page repeating the previous one, `more` past
    `total`, a cursor that does not move): following it would loop or emit duplicates."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 200)


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
        if keys and keys <= self.previous:
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


class RateLimitedError(RetriableAPIError):
    """429: retried after `wait` seconds (PagerDuty's `ratelimit-reset`), or with the usual
    exponential backoff when the answer carries no header (`wait` is None)."""

    def __init__(self, message: str, response: requests.Response, wait: float | None) -> None:
        super().__init__(message, response)
        self.wait = wait


class PagerDutyStream(FastRecordMessages):
    """Base for every PagerDuty stream."""

    schema = StreamSchema(SchemaDirectory(schema_dir()))
    primary_keys: t.ClassVar[tuple[str, ...]] = ("id",)
    #: Key of the record list in the response body; defaults to the stream name.
    records_key: t.ClassVar[str | None] = None
    #: Query parameters every request of the stream carries (includes, filters).
    extra_params: t.ClassVar[dict[str, t.Any]] = {}

    def __init__(self, tap: TapPagerDuty, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(tap, *args, **kwargs)
        self._pagerduty_tap = tap
        self._answered = False  # whether PagerDuty has answered one request of this stream
        self._sessions = threading.local()
        self._tries = threading.local()  # attempts of the request this thread is sending
        self._send = self.request_decorator(self._attempt)

    # -- configuration -------------------------------------------------------------------

    @property
    def tap(self) -> TapPagerDuty:
        return self._pagerduty_tap

    @property
    def settings(self) -> Settings:
        return self.tap.settings

    @property
    def url_base(self) -> str:
        return self.settings.base_url

    @property
    def authenticator(self) -> APIKeyAuthenticator:
        return APIKeyAuthenticator(key="Authorization", value=oauth.authorization(self))

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
        """`items`, or nothing and one warning when this stream is optional (see
        `availability`) and its first request is refused as unavailable (402/403/404/410).
        A refusal after PagerDuty has answered the stream once fails the run as usual: the
        stream exists, so the refusal is not about availability."""
        try:
            yield from items
        except PagerDutyAPIError as error:
            if not (
                is_optional(self.name)
                and not self._answered
                and error.status in UNAVAILABLE_STATUSES
            ):
                raise
            self.logger.warning("Skipping optional stream '%s': %s", self.name, error)

    def emit(self, records: Iterable[dict[str, t.Any]]) -> Iterator[dict[str, t.Any]]:
        """Hand records to the SDK; parents override this to prepare their children."""
        yield from records

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

        The request may already have been sent while earlier streams ran (a declared
        look-ahead request, see `prefetch.py`): then its answer is used.
        """
        self.tap.prefetch.plan(self, clock_known=False)
        ahead = self.tap.prefetch.take(self, path, params, body)
        if ahead is not None:
            payload = ahead.result()
        else:
            payload = self._fetch_now(path, params, body=body, context=context)
        self._answered = True
        self.tap.prefetch.plan(self, clock_known=True)
        return payload

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

    def fetch_ahead(
        self, path: str, params: dict[str, t.Any], body: dict[str, t.Any] | None = None
    ) -> dict[str, t.Any]:
        """`fetch` on a worker thread for a stream that has not started yet. Nothing is sent
        once the main thread has ended (a run that failed exits without its prefetches)."""
        if not threading.main_thread().is_alive():
            raise CancelledError
        payload = self._fetch_now(path, params, body=body)
        self.tap.prefetch.expand(self, path, params, payload)
        return payload

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
        self._tries.count = 0
        try:
            return t.cast("dict[str, t.Any]", self._send(prepared, context))
        except RETRIED_ERRORS as error:  # the backoff decorator gave up
            if isinstance(error, RetriableAPIError):  # already names stream, path and status
                cause = str(error)
            else:
                cause = f"{self.name}: {request.method} {path} failed: {_cause(error)}"
            raise RequestFailedError(
                f"{redact.scrub(cause)} (gave up after {self.settings.max_retries} retries)"
            ) from error

    def _attempt(
        self, prepared: requests.PreparedRequest, context: Context | None
    ) -> dict[str, t.Any]:
        oauth.before_request(self)  # an OAuth app token is fetched outside the request slot
        self._tries.count += 1
        with self.tap.throttle.request_slot():
            response = self._send_once(prepared, context)
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

    def _send_once(
        self, prepared: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        """Send one attempt; errors that cannot heal are not retried but end the run with
        their real cause (and never a header value)."""
        where = f"{self.name}: {prepared.method} {urlparse(prepared.url or '').path or '/'}"
        try:
            return self.send_prepared(prepared, context)
        except requests.exceptions.SSLError as error:
            raise RequestFailedError(
                f"{where}: TLS failed ({_cause(error)}): check that 'api_url' uses https only "
                "for a server that speaks TLS, and that its certificate is trusted"
            ) from None
        except requests.exceptions.ConnectionError as error:
            if _refused(error) and self._tries.count >= REFUSED_TRIES:
                raise RequestFailedError(
                    f"{where}: connection refused ({self._tries.count} tries): nothing listens "
                    "at 'api_url' / the region's host and port; check the URL and any proxy"
                ) from None
            raise
        except ValueError as error:  # a header or URL the HTTP library refuses: never sent
            raise RequestFailedError(
                f"{where}: the request could not be sent ({type(error).__name__}: "
                f"{redact.describe(error)}): check the settings for stray characters"
            ) from None

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        self.tap.clock.observe(response.headers.get("Date"), status)
        if status == 429:
            wait = _rate_limit_wait(response)
            if wait is not None:
                self.tap.throttle.pause(wait)  # every thread waits, not just this one
            raise RateLimitedError(self._describe(response), response, wait)
        renew = status == 401 and oauth.retry_after_401(self, response)  # expired app token
        if status in RETRY_STATUSES or status >= 500 or renew:
            raise RetriableAPIError(self._describe(response), response)
        if status >= 400:
            error = PagerDutyAPIError(self._describe(response), status)
            if status == 401:  # the token is refused: no other request can succeed either
                self.tap.stop(error)
            raise error

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
            line += f" ({oauth.hint(self, status, HINTS[status])})"
        return line

    @staticmethod
    def _path(response: requests.Response) -> str:
        return urlparse(response.url).path or "/"

    # -- retries ---------------------------------------------------------------------------

    def request_decorator(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """The SDK's retry decorator without backoff's own log lines: `backoff_handler` logs
        one line per retry, and only while the run goes on (see `TapPagerDuty.stop`)."""
        decorator: t.Callable[..., t.Any] = backoff.on_exception(
            self.backoff_wait_generator,
            RETRIED_ERRORS,
            max_tries=self.backoff_max_tries,
            on_backoff=self.backoff_handler,
            jitter=self.backoff_jitter,
            logger=None,
        )
        return decorator(func)

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
        with self.tap.stop_lock:  # once the run has stopped, its error line is the last
            if self.tap.throttle.stopped:
                return
            self.logger.warning(
                "%s: retry %d in %.1fs after: %s",
                self.name,
                details.get("tries", 0),
                details.get("wait", 0.0),
                _short(exc),
            )

    # The SDK marks `sync` final; this only wraps it (no public hook sees a stream's sync
    # fail on the main thread while the worker threads of other streams still send).
    def sync(self, context: Context | None = None) -> None:  # type: ignore[misc]
        """The SDK's sync; an error ending it stops every other request of the run first
        (queued ones cancelled, those in flight awaited), so the error line comes last."""
        try:
            super().sync(context)
        except SyncLifecycleSignal:  # the SDK's own control flow (a record limit, an abort)
            raise
        except Exception as error:
            fatal = self.tap.stop(error)
            self.tap.throttle.wait_idle(self.settings.request_timeout + 5)
            if fatal is error:
                raise
            raise fatal from None

    # -- paging ------------------------------------------------------------------------------

    def first_page_query(self, params: dict[str, t.Any]) -> dict[str, t.Any]:
        """The query of a classic listing's first page: it asks for `total`, so that the
        other pages are known at once."""
        return {**params, "limit": self.settings.page_size, "offset": 0, "total": "true"}

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
        pending: deque[tuple[Window, Future[dict[str, t.Any]]]] = deque()

        def first_page(window: Window) -> Future[dict[str, t.Any]]:
            query = self.first_page_query({**params, **window.params()})
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
                remaining = self._remaining_pages(
                    path, window_params, first, limit, key, pages_ahead=pages_ahead
                )
                for records in remaining:
                    yield window, records
                yield window, None
        finally:  # closed early (an error, or a killed run): drop what is queued
            cancel([future for _, future in pending])

    def _remaining_pages(
        self,
        path: str,
        params: dict[str, t.Any],
        first: dict[str, t.Any],
        limit: int,
        key: str | None = None,
        *,
        pages_ahead: int | None = None,
    ) -> Iterator[list[dict[str, t.Any]]]:
        """The pages after `first`, requested concurrently: all at once, or at most
        `pages_ahead` beyond the one being read (a stream whose pages are slow to consume,
        because of their children, then loses little if it is killed). Each page is
        checked by one `PageGuard` before its records are handed on."""
        key = key or self.key
        guard = PageGuard(self.name, path)
        records = first.get(key) or []
        total = first.get("total")
        guard.check_page(records, offset=0, more=bool(first.get("more")), total=total)
        yield records
        queries = self.later_page_queries(params, first)
        if queries is None:  # no `total`: follow `more`
            yield from self.sequential_pages(path, params, limit, len(records), key, guard=guard)
            return
        window = len(queries) if pages_ahead is None else pages_ahead + 1
        waiting = iter(queries)
        offsets = iter([query["offset"] for query in queries])
        futures: deque[Future[dict[str, t.Any]]] = deque(
            self.tap.submit(self.fetch, path, query) for query in itertools.islice(waiting, window)
        )
        last = first
        try:
            while futures:
                last = futures.popleft().result()
                upcoming = next(waiting, None)
                if upcoming is not None:
                    futures.append(self.tap.submit(self.fetch, path, upcoming))
                page = last.get(key) or []
                guard.check_page(page, offset=next(offsets), more=bool(last.get("more")))
                yield page
        finally:
            cancel(futures)
        if not queries:
            return
        if isinstance(total, int) and total > OFFSET_CAP:
            self._warn_offset_cap(path, OFFSET_CAP, total)
        elif last.get("more"):  # the listing grew while it was read
            offset = queries[-1]["offset"] + limit
            yield from self.sequential_pages(
                path, params, limit, offset, key, guard=guard, total=True
            )

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
        offset cap); None when the answer has no `total`."""
        if not first.get("more"):
            return []
        total = first.get("total")
        if not isinstance(total, int):
            return None
        limit = self.settings.page_size
        offsets = range(limit, min(total, OFFSET_CAP - limit + 1), limit)
        return [{**params, "limit": limit, "offset": o} for o in offsets]

    def cursor_pages(self, path: str, params: dict[str, t.Any]) -> Iterator[list[dict[str, t.Any]]]:
        """Pages of a cursor-paged listing (`cursor` / `next_cursor`)."""
        guard = PageGuard(self.name, path)
        cursor: str | None = None
        for _ in range(1_000_000):  # bounded; a server that loops is caught by the guard
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

    def server_now(self) -> datetime:
        """PagerDuty's current time (from the `Date` header), one probe if none seen yet."""
        return self.tap.clock.now(probe=lambda: self._probe_clock())

    def _probe_clock(self) -> None:
        # Only a successful answer sets the clock; after a refusal (an answer all the same)
        # the local clock is used. No answer at all is an error like any other.
        try:
            self.fetch("/abilities")
        except RequestFailedError:
            raise
        except PagerDutyAPIError:
            pass


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
    if not isinstance(exc, RetriableAPIError):
        return _cause(exc)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and what it wraps: requests wraps urllib3's errors, which wrap the OS's."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        inner += [a for a in current.args if isinstance(a, BaseException)]
        pending.extend(e for e in inner if isinstance(e, BaseException))


def _refused(error: BaseException) -> bool:
    return any(
        isinstance(e, ConnectionRefusedError) or "Connection refused" in str(e)
        for e in _causes(error)
    )


def _cause(error: BaseException) -> str:
    """The innermost useful message of a transport error, in one line (no urllib3 noise
    such as "Max retries exceeded", which is urllib3's own retry count, not ours)."""
    for inner in _causes(error):
        if isinstance(inner, ssl.SSLError):
            return f"SSLError: {redact.describe(inner)}"
        if isinstance(inner, ConnectionRefusedError) or "Connection refused" in str(inner):
            return "Connection refused"
    last = list(_causes(error))[-1]
    text = redact.describe(last)
    if "Failed to establish a new connection: " in text:
        text = text.split("Failed to establish a new connection: ", 1)[1]
    return f"{type(last).__name__}: {text}"[:300]


def cancel(futures: Iterable[Future[t.Any]]) -> None:
    """Cancel requests that were queued but are no longer wanted."""
    for future in futures:
        future.cancel()

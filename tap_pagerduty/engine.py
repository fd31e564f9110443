"""The HTTP engine: everything that happens to a request between a stream and the wire.

The tap creates one `Engine` per run; every stream holds it and calls `engine.fetch`. A
request walks this file top to bottom:

1. **Look-ahead** (`fetch`): if this exact request was sent ahead, while an earlier stream
   ran, its answer is taken instead (see `prefetch.py`; streams declare those requests).
2. **Build** (`_build`): base URL from the region or `api_url`, the stream's fixed query
   (`extra_params`) plus the call's, `[]` and `:` left readable, `Accept` for API v2, the
   user agent; a JSON body makes it the read-only analytics POST.
3. **Retry loop** (`_retrying`, a `backoff` decorator around `_attempt`): retries 408, 429,
   5xx, timeouts, dropped connections and truncated bodies up to `max_retries` times, with
   exponential waits, except that a 429 waits what PagerDuty's `ratelimit-reset` says.
4. **Attempt** (`_attempt`): the OAuth app token is obtained or renewed first, outside any
   slot; then the attempt takes a throttle slot (`throttle.py`: at most `requests_per_second`
   started in any second, at most `max_concurrency` in flight, every attempt counted), sets
   `Authorization`, and sends on this thread's own `requests.Session` with the timeout.
   Errors that cannot heal (TLS mismatch, a header the HTTP library refuses, a connection
   refused three times) end the run with their real cause instead of being retried.
5. **Check** (`_check`): PagerDuty's clock is read from the `Date` of 2xx answers
   (`clock.py`); a 429 holds every thread; a 401 stops the whole run; any other 4xx becomes
   one line naming the stream, the path, PagerDuty's message and what to check (`errors.py`).
6. **Decode** (`_attempt`): the JSON body, parsed with msgspec; a truncated body is retried.

Worker threads (`submit`) only fetch and parse. Messages and state stay on the main thread,
with the SDK. After a fatal error (`stop`), no request starts any more, in any thread.
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
import threading
import typing as t
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlparse

import backoff
import msgspec
import requests
from singer_sdk import metrics
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.streams.rest import HTTPRequest

from tap_pagerduty import oauth, redact
from tap_pagerduty.clock import ServerClock
from tap_pagerduty.errors import (
    RETRY_STATUSES,
    PagerDutyAPIError,
    RateLimitedError,
    RequestFailedError,
    rate_limit_wait,
)
from tap_pagerduty.prefetch import LookAhead
from tap_pagerduty.throttle import Stopped, Throttle

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
    from datetime import datetime

    from singer_sdk.helpers.types import Context
    from singer_sdk.streams import Stream

    from tap_pagerduty.client import PagerDutyStream
    from tap_pagerduty.settings import Settings

ACCEPT = "application/vnd.pagerduty+json;version=2"
# A refused connection is tried this many times in all: a server restarting comes back in
# seconds, while a wrong port or a stopped proxy never does.
REFUSED_TRIES = 3
# A host name that does not resolve is tried this many times in all (one retry, for a resolver
# hiccup): a wrong `region`/`api_url` or a machine without network does not heal in minutes.
UNRESOLVED_TRIES = 2
# What the retry loop retries; after the last retry the request fails with "gave up after N
# retries" and the last cause.
RETRIED_ERRORS = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
HINTS = {
    400: "PagerDuty rejected the request's arguments",
    401: "check 'api_token' / 'oauth_token': PagerDuty did not accept the token",
    402: "the PagerDuty account's plan lacks this feature",
    403: "the token lacks the permission or OAuth scope for this endpoint",
    404: "the resource does not exist or the token cannot see it",
    410: "PagerDuty has retired this endpoint",
}
_T = t.TypeVar("_T")


@dataclass
class Outgoing:
    """One request on its way: built once, sent once per attempt."""

    stream: str
    endpoint: str  # for the request metric: the stream's path template
    prepared: requests.PreparedRequest
    path: str = ""  # the API path asked for (below `api_url`), for the OAuth hint
    context: Context | None = None
    tries: int = 0

    @property
    def where(self) -> str:
        """`stream: METHOD /path`, for messages (never the query, never a header)."""
        return (
            f"{self.stream}: {self.prepared.method} {urlparse(self.prepared.url or '').path or '/'}"
        )


class Engine:
    """Throttle, worker pool, per-thread sessions, PagerDuty's clock and look-ahead, shared by
    every stream and thread of one run. `streams` gives the run's streams in sync order."""

    def __init__(
        self,
        settings: Settings,
        logger: logging.Logger,
        streams: Callable[[], Mapping[str, Stream]],
    ) -> None:
        self.settings = settings
        self.logger = logger
        self.streams = streams
        self.throttle = Throttle(settings.requests_per_second, settings.max_concurrency)
        self._clock = ServerClock(logger)
        self._lookahead = LookAhead(self)
        self._app_token = (
            oauth.AppToken(settings.extra.oauth, self) if settings.extra.oauth else None
        )
        #: Held while a thread decides to log, so that nothing follows the final error line.
        self._stop_lock = threading.Lock()
        self._fatal: BaseException | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._local = threading.local()  # this thread's session
        self._metrics = metrics.get_metrics_logger()
        self._retrying = self.retrying(self._attempt)

    # -- the public surface ------------------------------------------------------------------

    def fetch(
        self,
        stream: PagerDutyStream,
        path: str,
        params: dict[str, t.Any] | None = None,
        *,
        body: dict[str, t.Any] | None = None,
        context: Context | None = None,
    ) -> dict[str, t.Any]:
        """Send one GET (or the read-only analytics POST) for `stream`; the parsed body.

        The first call of the run also queues the declared first requests of later streams
        (look-ahead); a request already answered ahead is not sent again."""
        self._lookahead.plan(stream, clock_known=False)
        ahead = self._lookahead.take(stream, path, params, body)
        if ahead is not None:
            payload = ahead.result()
        else:
            payload = self._send(stream, path, params, body, context)
        self._lookahead.plan(stream, clock_known=True)
        return payload

    def fetch_ahead(
        self,
        stream: PagerDutyStream,
        path: str,
        params: dict[str, t.Any],
        body: dict[str, t.Any] | None = None,
    ) -> dict[str, t.Any]:
        """`fetch` on a worker thread for a stream that has not started yet. Nothing is sent
        once the main thread has ended (a run that failed exits without its look-ahead)."""
        if not threading.main_thread().is_alive():
            raise CancelledError
        payload = self._send(stream, path, params, body)
        self._lookahead.expand(stream, path, params, payload)
        return payload

    def submit(self, fn: Callable[..., _T], *args: t.Any) -> Future[_T]:
        """Run `fn` on a worker thread (at most `max_concurrency`). Workers fetch and parse
        only; they never write messages or touch state."""
        if self.throttle.stopped:
            stopped: Future[_T] = Future()
            stopped.set_exception(Stopped())
            return stopped
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.max_concurrency, thread_name_prefix="pagerduty-http"
                )
        return self._pool.submit(fn, *args)

    def server_now(self, stream: PagerDutyStream) -> datetime:
        """PagerDuty's current time (from the `Date` header); one request if none seen yet.
        A date setting later than it ends the run here, before any bookmark is written."""
        now = self._clock.now(probe=lambda: self._probe_clock(stream))
        self.settings.check_dates(now)
        return now

    def session(self) -> requests.Session:
        """This thread's session (connections are reused per thread, never shared)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def stop(self, error: BaseException) -> BaseException:
        """End the run after a fatal error (any thread): no further request is sent, queued
        ones are cancelled. Returns the run's first fatal error, the one to report (errors
        of other threads after it are its echoes: Stopped, cancelled futures)."""
        with self._stop_lock:
            if self._fatal is None:
                self._fatal = error
            self.throttle.stop()
            fatal = self._fatal
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        return fatal

    def wait_idle(self) -> None:
        """Wait for the requests in flight to end (after `stop`), so the error line is last."""
        self.throttle.wait_idle(self.settings.request_timeout + 5)

    def retrying(self, attempt: Callable[..., _T]) -> Callable[..., _T]:
        """`attempt` retried on transient errors (see `RETRIED_ERRORS`): `max_retries` times,
        exponential waits with jitter, a 429 waiting `ratelimit-reset`. One line per retry,
        and none once the run has stopped."""
        decorator = backoff.on_exception(
            _waits,
            RETRIED_ERRORS,
            max_tries=self.settings.max_retries + 1,
            on_backoff=self._log_retry,
            jitter=_jitter,
            logger=None,
        )
        return t.cast("Callable[..., _T]", decorator(attempt))

    # -- one request ---------------------------------------------------------------------

    def _send(
        self,
        stream: PagerDutyStream,
        path: str,
        params: dict[str, t.Any] | None,
        body: dict[str, t.Any] | None,
        context: Context | None = None,
    ) -> dict[str, t.Any]:
        outgoing = self._build(stream, path, params, body, context)
        try:
            return self._retrying(outgoing)
        except RETRIED_ERRORS as error:  # the retry loop gave up
            if isinstance(error, RetriableAPIError):  # already names stream, path and status
                cause = str(error)
            else:
                cause = f"{outgoing.where} failed: {_cause(error)}"
            raise RequestFailedError(
                f"{redact.scrub(cause)} (gave up after {self.settings.max_retries} retries)"
            ) from error

    def _build(
        self,
        stream: PagerDutyStream,
        path: str,
        params: dict[str, t.Any] | None,
        body: dict[str, t.Any] | None,
        context: Context | None,
    ) -> Outgoing:
        # The SDK's request description encodes the query: lists repeat their key, None is
        # left out, and `[]` and `:` stay readable (PagerDuty's own examples, times such as
        # `10:00:00Z`).
        described = HTTPRequest(
            url=f"{self.settings.base_url}{path}",
            method="POST" if body is not None else "GET",
            params={**stream.extra_params, **(params or {})},
            headers={"Accept": ACCEPT, "User-Agent": self.settings.user_agent},
            safe_query_chars="[]:",
        )
        request = requests.Request(
            described.method,
            described.url,
            params=described.encode_params(),
            headers=described.headers,
            json=body,
        )
        template = getattr(stream, "path", None)
        endpoint = template if isinstance(template, str) else path
        prepared = self.session().prepare_request(request)
        return Outgoing(stream.name, endpoint, prepared, path=path, context=context)

    def _attempt(self, outgoing: Outgoing) -> dict[str, t.Any]:
        if self._app_token is not None:  # fetched or renewed outside the request slot
            self._app_token.ensure()
        outgoing.tries += 1
        with self.throttle.request_slot():
            outgoing.prepared.headers["Authorization"] = self._authorization()
            response = self._transmit(outgoing)
            self._check(outgoing, response)  # in the slot: a 429 pauses before it is freed
        try:
            payload = _decode_json(response)
        except ValueError:
            raise RetriableAPIError(
                f"{outgoing.stream}: truncated or non-JSON body from {_path(response)}", response
            ) from None
        if not isinstance(payload, dict):
            raise PagerDutyAPIError(
                f"{outgoing.stream}: unexpected response body from {_path(response)}", 200
            )
        return payload

    def _authorization(self) -> str:
        if self._app_token is not None:
            return self._app_token.header()
        return self.settings.authorization

    def _transmit(self, outgoing: Outgoing) -> requests.Response:
        """Put one attempt on the wire. Errors that cannot heal are not retried but end the
        run with their real cause (and never a header value)."""
        where = outgoing.where
        try:
            response = self.session().send(outgoing.prepared, timeout=self.settings.request_timeout)
        except requests.exceptions.SSLError as error:
            raise RequestFailedError(
                f"{where}: TLS failed ({_cause(error)}): check that 'api_url' uses https only "
                "for a server that speaks TLS, and that its certificate is trusted"
            ) from None
        except requests.exceptions.ConnectionError as error:
            if _unresolved(error) and outgoing.tries >= UNRESOLVED_TRIES:
                raise RequestFailedError(
                    f"{where}: the host {urlparse(outgoing.prepared.url or '').hostname} could "
                    f"not be resolved ({outgoing.tries} tries, {_cause(error)}): check 'region' "
                    "or 'api_url', and this machine's network and DNS"
                ) from None
            if _refused(error) and outgoing.tries >= REFUSED_TRIES:
                raise RequestFailedError(
                    f"{where}: connection refused ({outgoing.tries} tries): nothing listens "
                    "at 'api_url' / the region's host and port; check the URL and any proxy"
                ) from None
            raise
        except ValueError as error:  # a header or URL the HTTP library refuses: never sent
            raise RequestFailedError(
                f"{where}: the request could not be sent ({type(error).__name__}: "
                f"{redact.describe(error)}): check the settings for stray characters"
            ) from None
        self._write_request_metric(outgoing, response)
        return response

    def _check(self, outgoing: Outgoing, response: requests.Response) -> None:
        """Raise for anything but a 2xx/3xx answer: retriable, rate-limited or fatal."""
        status = response.status_code
        self._clock.observe(response.headers.get("Date"), status)
        if status == 429:
            wait = rate_limit_wait(response)
            if wait is not None:
                self.throttle.pause(wait)  # every thread waits, not just this one
            raise RateLimitedError(self._describe(outgoing, response), response, wait)
        renew = (  # an app token that expired early: renew it and retry
            status == 401
            and self._app_token is not None
            and self._app_token.expire(str(outgoing.prepared.headers.get("Authorization", "")))
        )
        if status in RETRY_STATUSES or status >= 500 or renew:
            raise RetriableAPIError(self._describe(outgoing, response), response)
        if status >= 400:
            error = PagerDutyAPIError(self._describe(outgoing, response), status)
            if status == 401:  # the token is refused: no other request can succeed either
                self.stop(error)
            raise error

    def _describe(self, outgoing: Outgoing, response: requests.Response) -> str:
        """One line: stream, method, path (never the token), status, PagerDuty's message."""
        status = response.status_code
        line = f"{outgoing.where} failed with HTTP {status}"
        detail = _error_detail(response)
        if detail:
            line += f": {detail}"
        if status in HINTS:
            request = f"{outgoing.prepared.method} {outgoing.path}"
            hint = oauth.hint(self.settings, outgoing.stream, request, status, HINTS[status])
            line += f" ({hint})"
        return line

    def _write_request_metric(self, outgoing: Outgoing, response: requests.Response) -> None:
        """The SDK's `http_request_duration` metric, as its own request path writes it."""
        tags: dict[str, t.Any] = {
            metrics.Tag.STREAM: outgoing.stream,
            metrics.Tag.ENDPOINT: outgoing.endpoint,
            metrics.Tag.HTTP_STATUS_CODE: response.status_code,
            metrics.Tag.STATUS: (
                metrics.Status.SUCCEEDED if response.status_code < 400 else metrics.Status.FAILED
            ),
        }
        if outgoing.context:
            tags[metrics.Tag.CONTEXT] = outgoing.context
        point = metrics.Point(
            "timer",
            metric=metrics.Metric.HTTP_REQUEST_DURATION,
            value=response.elapsed.total_seconds(),
            tags=tags,
        )
        metrics.log(self._metrics, point=point)

    def _log_retry(self, details: t.Any) -> None:
        exc = details.get("exception")
        args = details.get("args") or ()
        stream = args[0].stream if args and isinstance(args[0], Outgoing) else "OAuth"
        with self._stop_lock:  # once the run has stopped, its error line is the last
            if self.throttle.stopped:
                return
            self.logger.warning(
                "%s: retry %d in %.1fs after: %s",
                stream,
                details.get("tries", 0),
                details.get("wait", 0.0),
                _short(exc),
            )

    def _probe_clock(self, stream: PagerDutyStream) -> None:
        # Only a successful answer sets the clock; after a refusal (an answer all the same)
        # the local clock is used. No answer at all is an error like any other.
        try:
            self.fetch(stream, oauth.CLOCK_PROBE.split(" ", 1)[1])
        except RequestFailedError:
            raise
        except PagerDutyAPIError:
            pass


# -- helpers ---------------------------------------------------------------------------------


def _waits() -> Generator[float, t.Any, None]:
    """Exponential waits (0.5 s doubling, at most 30 s), except that a 429 waits what
    PagerDuty's `ratelimit-reset` says. backoff sends each exception into the generator."""
    expo = backoff.expo(base=2, factor=0.5, max_value=30)
    next(expo)  # prime: the first value of backoff.expo is None
    exc = yield 0.0  # backoff primes the generator with send(None)
    while True:
        if isinstance(exc, RateLimitedError) and exc.wait is not None:
            exc = yield exc.wait
        else:
            exc = yield next(expo)


def _jitter(value: float) -> float:
    return value + random.uniform(0, min(1.0, value / 2 + 0.1))


_json_decoder = msgspec.json.Decoder()


def _decode_json(response: requests.Response) -> t.Any:
    """`response.json()`, parsed by msgspec (several times faster) when it can: anything
    msgspec refuses (not UTF-8, NaN, 1e400, lone surrogates) goes to `response.json()`."""
    try:
        return _json_decoder.decode(response.content)
    except ValueError:  # msgspec.DecodeError and ValidationError are ValueErrors
        return response.json()


def _path(response: requests.Response) -> str:
    return urlparse(response.url).path or "/"


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


def _unresolved(error: BaseException) -> bool:
    """The host name did not resolve (DNS), as opposed to a host that did not answer."""
    return any(isinstance(e, socket.gaierror) for e in _causes(error))


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

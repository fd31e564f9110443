"""tap-pagerduty: the tap class (settings, shared HTTP resources, stream list)."""

from __future__ import annotations

import copy
import io
import threading
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property

from tap_pagerduty import redact
from tap_pagerduty.clock import ServerClock
from tap_pagerduty.output import FastSingerWriter
from tap_pagerduty.prefetch import LookAhead
from tap_pagerduty.sdk_seams import TapSeams
from tap_pagerduty.settings import CONFIG_SCHEMA, Settings, SettingsError, unknown_settings
from tap_pagerduty.state import check_bookmarks, read_state_text
from tap_pagerduty.streams import STATE_TIME_KEYS, STREAM_TYPES
from tap_pagerduty.throttle import Stopped, Throttle

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

_T = t.TypeVar("_T")


class TapPagerDuty(TapSeams):
    """Copies a whole PagerDuty account (REST API v2): configuration, incidents and their
    history, on-calls, notifications, audit trail and analytics."""

    name = "tap-pagerduty"
    #: The PyPI distribution (not `tap-pagerduty`, an unrelated tap): `--about` reads the
    #: version from its metadata, so the wheel and `--about` report the same one.
    package_name = "pagerduty-singer-tap"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = FastSingerWriter

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        #: Held while a worker decides to log, so that nothing follows the final error line.
        self.stop_lock = threading.Lock()
        self._fatal: BaseException | None = None
        super().__init__(*args, **kwargs)

    def validate_settings(self, *, raise_errors: bool = True) -> list[str]:
        """The settings' own checks, with one-line errors (see `settings.Settings`)."""
        try:
            Settings.from_config(self.config)
        except SettingsError as error:
            if raise_errors:
                raise
            return [str(error)]
        return []

    @classmethod
    def invoke(cls, *, state: t.IO[str] | None = None, **kwargs: t.Any) -> None:
        """The SDK's run, with the `--state` file checked first (one line naming the file)."""
        if state is not None:
            state = io.StringIO(read_state_text(state))
        super().invoke(state=state, **kwargs)

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Refuse bookmarks that are not objects or whose times do not parse, before any
        request, instead of failing mid-run or silently starting the stream over."""
        check_bookmarks(state, STATE_TIME_KEYS)
        super().load_state(state)

    @cached_property
    def settings(self) -> Settings:
        settings = Settings.from_config(self.config)
        redact.register(settings.secrets())
        unknown = unknown_settings(self.config, self.known_settings())
        if unknown:
            self.logger.warning(
                "Ignoring unknown setting(s) %s: tap-pagerduty does not read them "
                "(a typo? see `tap-pagerduty --about` for the settings)",
                ", ".join(repr(name) for name in unknown),
            )
        return settings

    @classmethod
    def known_settings(cls) -> set[str]:
        """The tap's settings and those the SDK adds (stream maps, flattening, batch)."""
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        return set(schema["properties"])

    @cached_property
    def throttle(self) -> Throttle:
        """One throttle for every stream and thread of this run."""
        return Throttle(self.settings.requests_per_second, self.settings.max_concurrency)

    @cached_property
    def clock(self) -> ServerClock:
        return ServerClock(self.logger)

    @cached_property
    def _pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(
            max_workers=self.settings.max_concurrency, thread_name_prefix="pagerduty-http"
        )

    def submit(self, fn: t.Callable[..., _T], *args: t.Any) -> Future[_T]:
        """Run `fn` on a worker thread. Workers fetch and parse only; they never write
        messages or touch state, which stay on the main thread."""
        if self.throttle.stopped:
            stopped: Future[_T] = Future()
            stopped.set_exception(Stopped())
            return stopped
        return self._pool.submit(fn, *args)

    # -- stopping after a fatal error --------------------------------------------------------

    def stop(self, error: BaseException) -> BaseException:
        """End the run after a fatal error (any thread): no further request is sent, queued
        ones are cancelled. Returns the run's first fatal error, the one to report (errors
        of other threads after it are its echoes: Stopped, cancelled futures)."""
        with self.stop_lock:
            if self._fatal is None:
                self._fatal = error
            self.throttle.stop()
            fatal = self._fatal
        if "_pool" in self.__dict__:
            self._pool.shutdown(wait=False, cancel_futures=True)
        return fatal

    # -- first pages of upcoming streams ------------------------------------------------------

    @cached_property
    def prefetch(self) -> LookAhead:
        """First requests of upcoming streams, sent while earlier streams run, so that
        starting a stream does not leave the request slots idle."""
        return LookAhead(self)

    def discover_streams(self) -> list[Stream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    @property
    def streams(self) -> dict[str, Stream]:
        """Streams in the order of STREAM_TYPES (the SDK sorts them by name): configuration
        first, whose answers also tell us PagerDuty's clock. Every SDK use of the streams
        goes through this property, so the run follows this order."""
        by_name = super().streams
        ordered = self.__dict__.get("_ordered_streams")
        if ordered is None or ordered[0] is not by_name or len(ordered[1]) != len(by_name):
            order: dict[type, int] = {kind: i for i, kind in enumerate(STREAM_TYPES)}
            in_order = dict(sorted(by_name.items(), key=lambda item: order[type(item[1])]))
            ordered = self.__dict__["_ordered_streams"] = (by_name, in_order)
        return t.cast("dict[str, Stream]", ordered[1])

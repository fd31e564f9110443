"""tap-pagerduty: the tap class (settings, shared HTTP resources, stream list)."""

from __future__ import annotations

import typing as t
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property

from tap_pagerduty.clock import ServerClock
from tap_pagerduty.output import FastSingerWriter
from tap_pagerduty.prefetch import LookAhead
from tap_pagerduty.sdk_seams import TapSeams
from tap_pagerduty.settings import CONFIG_SCHEMA, Settings, SettingsError
from tap_pagerduty.streams import STREAM_TYPES
from tap_pagerduty.throttle import Throttle

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

    def validate_settings(self, *, raise_errors: bool = True) -> list[str]:
        """The settings' own checks, with one-line errors (see `settings.Settings`)."""
        try:
            Settings.from_config(self.config)
        except SettingsError as error:
            if raise_errors:
                raise
            return [str(error)]
        return []

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_config(self.config)

    @cached_property
    def throttle(self) -> Throttle:
        """One throttle for every stream and thread of this run."""
        return Throttle(self.settings.requests_per_second, self.settings.max_concurrency)

    @cached_property
    def clock(self) -> ServerClock:
        return ServerClock()

    @cached_property
    def _pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(
            max_workers=self.settings.max_concurrency, thread_name_prefix="pagerduty-http"
        )

    def submit(self, fn: t.Callable[..., _T], *args: t.Any) -> Future[_T]:
        """Run `fn` on a worker thread. Workers fetch and parse only; they never write
        messages or touch state, which stay on the main thread."""
        return self._pool.submit(fn, *args)

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

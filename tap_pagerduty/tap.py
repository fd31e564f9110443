"""tap-pagerduty: the tap class (settings, state checks, the run's HTTP engine, stream list)."""

from __future__ import annotations

import copy
import io
import os
import typing as t
from functools import cached_property

from singer_sdk.exceptions import ConfigValidationError

from tap_pagerduty import redact
from tap_pagerduty.engine import Engine
from tap_pagerduty.output import FastSingerWriter
from tap_pagerduty.run import Run, check_needs, sync_order
from tap_pagerduty.run_report import RunReport
from tap_pagerduty.sdk_seams import TapSeams
from tap_pagerduty.settings import (
    CONFIG_SCHEMA,
    Settings,
    SettingsError,
    environment_number_error,
    numbers_from_text,
    schema_error_line,
    unknown_settings,
)
from tap_pagerduty.state import check_state, read_state_text
from tap_pagerduty.streams import STATE_TYPES, STREAM_TYPES

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from singer_sdk.streams import Stream

    from tap_pagerduty.client import PagerDutyStream

#: What the SDK puts before a setting's name to read it from the environment.
ENV_PREFIX = "TAP_PAGERDUTY_"


class TapPagerDuty(TapSeams):
    """Singer tap for a whole PagerDuty account: configuration, incidents, on-calls, analytics."""

    name = "tap-pagerduty"
    #: The PyPI distribution (not `tap-pagerduty`, an unrelated tap): `--about` reads the
    #: version from its metadata, so the wheel and `--about` report the same one.
    package_name = "pagerduty-singer-tap"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = FastSingerWriter

    def __init__(self, *args: t.Any, validate_config: bool = True, **kwargs: t.Any) -> None:
        """The SDK validates the config against `CONFIG_SCHEMA` while the tap is built (numbers
        given as text first become numbers, see `numbers_from_text`); its errors become one
        `SettingsError` line, and the rules a schema cannot say (see
        `settings.Settings`) are checked right after, still before any request."""
        self._in_sync_order = False  # see `streams`
        if isinstance(kwargs.get("config"), dict):
            kwargs["config"] = numbers_from_text(kwargs["config"])
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as error:
            raise SettingsError(schema_error_line(self.config, error.errors)) from None
        except ValueError:  # the SDK's `int()` of a whole-number environment variable
            schema = copy.deepcopy(self.config_jsonschema)
            self.append_builtin_config(schema)
            line = environment_number_error(schema, os.environ, ENV_PREFIX)
            if not kwargs.get("parse_env_config") or line is None:
                raise
            raise SettingsError(line) from None
        if validate_config:
            self.settings  # noqa: B018 - validates, and registers the secrets to mask

    @classmethod
    def invoke(cls, *, state: t.IO[str] | None = None, **kwargs: t.Any) -> None:
        """The SDK's run, with the `--state` file checked first (one line naming the file)."""
        if state is not None:
            state = io.StringIO(read_state_text(state))
        super().invoke(state=state, **kwargs)

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Refuse a state whose bookmarks do not parse as declared (see state.py), before
        any request, instead of failing mid-run or silently starting the stream over."""
        check_state(state, STATE_TYPES)
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
    def engine(self) -> Engine:
        """The run's HTTP engine (throttle, workers, sessions, clock, look-ahead): every
        request of every stream goes through it, see `engine.py`."""
        return Engine(self.settings, self.logger, streams=lambda: self.streams)

    @cached_property
    def run(self) -> Run:
        """This sync: the settings, the engine and the results streams share (`run.py`)."""
        return Run(self.settings, self.engine, streams=lambda: self.streams)

    @cached_property
    def run_report(self) -> RunReport:
        """What this run worked around (parents gone, listings re-read), said at its end."""
        return RunReport()

    def around_sync_all(self, sync_all: Callable[[], None]) -> None:
        """The SDK's sync (`sdk_seams.TapSeams.sync_all`), once the streams' declared needs
        are met (`run.check_needs`, before any request), then the run's summary line (only
        when it worked around something)."""
        check_needs(t.cast("dict[str, PagerDutyStream]", self.streams).values())
        sync_all()
        self.run_report.log(self.logger)

    def discover_streams(self) -> list[Stream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    @property
    def streams(self) -> dict[str, Stream]:
        """The streams in the order they sync (the SDK sorts them by name): that of
        STREAM_TYPES, configuration first, whose answers also tell us PagerDuty's clock,
        moved so that every stream producing a result syncs before the streams reading it
        (`run.sync_order`; a result nobody produces fails here, in one line). The SDK's own
        mapping is put in that order once, so every use of it follows the order."""
        streams = super().streams
        if not self._in_sync_order:
            order = {kind: index for index, kind in enumerate(STREAM_TYPES)}
            found = t.cast("list[PagerDutyStream]", list(streams.values()))
            found.sort(key=lambda stream: order.get(type(stream), len(order)))
            ordered = sync_order(found)
            streams.clear()
            streams.update((stream.name, stream) for stream in ordered)
            self._in_sync_order = True
        return streams

"""The orchestration's own few requests (PagerDuty's clock, incident counts, late notes),
sent the tap's way: through the engine of a tap built in-process with the account's config.

So they share everything a tap run has (`tap_pagerduty/engine.py`): the throttle at the run's
`requests_per_second`, retries of 5xx and timeouts, the pause PagerDuty's `ratelimit-reset`
asks for after a 429, and one-line errors naming the path. Nothing is selected: the engine's
look-ahead sends nothing of its own.
"""

from __future__ import annotations

import json
import typing as t
from datetime import datetime

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_pagerduty.settings import SettingsError

if t.TYPE_CHECKING:
    from tap_pagerduty.client import PagerDutyStream

# Requests of the orchestration are made in the name of this stream (its errors name it).
STREAM = "incidents"
# What can go wrong with one request after the engine's retries, as one line.
REQUEST_ERRORS = (FatalAPIError, RetriableAPIError, SettingsError)


class TapRequests:
    """GETs through the tap's engine, for one account and key."""

    def __init__(self, config: dict[str, t.Any]) -> None:
        from tap_pagerduty.tap import TapPagerDuty

        tap = TapPagerDuty(config=config, parse_env_config=False, validate_config=True)
        # Parents deselected: the look-ahead plans requests for selected parents only.
        for stream in tap.streams.values():
            if stream.parent_stream_type is None:
                stream.selected = False
        self._streams = t.cast("dict[str, PagerDutyStream]", tap.streams)
        self._stream = self._streams[STREAM]

    def get(self, path: str, params: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        return self._stream.fetch(path, params)

    def record_lines(self, stream: str, records: t.Iterable[dict[str, t.Any]]) -> t.Iterator[str]:
        """RECORD messages of `stream` as the tap writes them: its conformance to the schema
        and its stream maps (a `__else__: null` map or a hashed field applies here too)."""
        for record in records:
            for message in self._streams[stream].record_messages(record):
                yield json.dumps(message.to_dict(), default=str)

    def now(self) -> datetime:
        """PagerDuty's clock (the `Date` of an answer), one request at most."""
        return self._stream.server_now()

"""The state a run starts from, checked before any request.

A state file that cannot be read, is not JSON or not an object, or holds a bookmark that is
not a time would otherwise end in a traceback mid-run, or be read as "no bookmark" and start
the stream over. Each problem is one line naming the file or the stream.
"""

from __future__ import annotations

import json
import typing as t

from tap_pagerduty.windows import parse_time

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


class StateError(Exception):
    """The state is unusable; the message is one line meant for the user."""


FIX = "fix or remove the state file (without it, the streams start again from anchor_date)"


def read_state_text(handle: t.IO[str]) -> str:
    """The text of a `--state` file, checked to be a JSON object."""
    name = getattr(handle, "name", "--state")
    try:
        text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise StateError(f"State file {name!r} cannot be read ({error}): {FIX}.") from None
    if not text.strip():
        raise StateError(f"State file {name!r} is empty: {FIX}.")
    try:
        value = json.loads(text)
    except ValueError as error:
        raise StateError(f"State file {name!r} is not JSON ({error}): {FIX}.") from None
    if not isinstance(value, dict):
        raise StateError(
            f"State file {name!r} holds {_kind(value)}, not a JSON object with 'bookmarks': {FIX}."
        )
    return text


def check_bookmarks(state: t.Any, time_keys: Mapping[str, Iterable[str]]) -> None:
    """Every bookmark of the streams in `time_keys` is an object whose time keys parse (a
    dotted key names a time inside an object of the bookmark)."""
    if not isinstance(state, dict):
        raise StateError(f"The state holds {_kind(state)}, not a JSON object: {FIX}.")
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise StateError(f"The state's 'bookmarks' is {_kind(bookmarks)}, not an object: {FIX}.")
    for stream, bookmark in bookmarks.items():
        if not isinstance(bookmark, dict):
            raise StateError(
                f"The bookmark of stream '{stream}' is {_kind(bookmark)}, not an object: {FIX}."
            )
        for key in time_keys.get(stream, ()):
            value = _at(bookmark, key, stream)
            if value is None:
                continue
            try:
                parse_time(value)
            except (TypeError, ValueError, AttributeError):
                raise StateError(
                    f"The bookmark of stream '{stream}' has {key} {value!r}, which is not an "
                    f"ISO 8601 time: {FIX}."
                ) from None


def _at(bookmark: dict[str, t.Any], key: str, stream: str) -> t.Any:
    """The value at `key` in a bookmark; a dotted key ("silent_from.open") walks objects."""
    value: t.Any = bookmark
    walked: list[str] = []
    for part in key.split("."):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise StateError(
                f"The bookmark of stream '{stream}' has {'.'.join(walked)} {_kind(value)}, "
                f"not an object: {FIX}."
            )
        walked.append(part)
        value = value.get(part)
    return value


def _kind(value: t.Any) -> str:
    kinds = {list: "a list", str: "a string", type(None): "null", bool: "true/false"}
    return kinds.get(type(value), "a number" if isinstance(value, int | float) else "a value")

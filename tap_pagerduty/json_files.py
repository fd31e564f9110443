"""The user's JSON files (`--config`, `--state`): read and checked to hold an object, or one
line naming the file and what is wrong with it, before anything else happens."""

from __future__ import annotations

import decimal
import json
import typing as t


def kind_of(value: object) -> str:
    """What a JSON value is, in words for an error line ("a list", "a number", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float | decimal.Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def check_object_text(
    text: str, what: str, *, expected: str, fix: str, error: type[Exception]
) -> dict[str, t.Any]:
    """The JSON object in `text`, the content of `what` (e.g. "Config file 'c.json'");
    `error` with one line ending in `fix` when the text is empty, not JSON, or not
    `expected` (the wording of a JSON object for this file)."""
    if not text.strip():
        raise error(f"{what} is empty: {fix}.")
    try:
        value = json.loads(text)
    except ValueError as problem:
        raise error(f"{what} is not JSON ({problem}): {fix}.") from None
    if not isinstance(value, dict):
        raise error(f"{what} holds {kind_of(value)}, not {expected}: {fix}.")
    return value

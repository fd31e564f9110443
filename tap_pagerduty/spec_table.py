"""What PagerDuty's OpenAPI spec says about each operation the tap sends: the OAuth scope it
requires (`x-pd-requires-scope`) and the query parameters it declares.

The table (`spec_table.json`, next to this file) is derived from a fetched copy of the spec
by `scripts/spec_tables.py`, which records the spec's commit; the spec itself is never
committed (its licence forbids copying it). Streams name their operations with their own
path templates ("GET /users/{user_id}/notification_rules"); `find` matches them, and
concrete request paths, to the spec's templates ("GET /users/{id}/notification_rules").
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass
from functools import cache
from importlib import resources

TABLE_FILE = "spec_table.json"
_PLACEHOLDER = re.compile(r"^\{[^}]*\}$")


@dataclass(frozen=True)
class Operation:
    """One operation of PagerDuty's REST API, as the spec declares it."""

    method: str
    template: str
    scope: str | None
    query: frozenset[str]

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


@cache
def _table() -> dict[str, t.Any]:
    text = resources.files("tap_pagerduty").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    return t.cast("dict[str, t.Any]", json.loads(text))


@cache
def operations() -> tuple[Operation, ...]:
    return tuple(
        Operation(
            method=name.split(" ", 1)[0],
            template=name.split(" ", 1)[1],
            scope=entry.get("scope"),
            query=frozenset(entry.get("query") or ()),
        )
        for name, entry in _table()["operations"].items()
    )


def spec_commit() -> str:
    """The commit of PagerDuty/api-schema the table was derived from."""
    return str(_table()["spec"]["commit"])


def find(operation: str) -> Operation | None:
    """The spec's operation for "METHOD /path", where the path is a template (any
    placeholder names) or a concrete request path. Literal segments win over placeholders:
    `/incidents/types` is the listing of types, not the incident with id "types"."""
    method, _, path = operation.partition(" ")
    return _find(method.upper(), path.rstrip("/") or "/")


@cache
def _find(method: str, path: str) -> Operation | None:
    segments = path.strip("/").split("/")
    best: tuple[int, Operation] | None = None
    for candidate in operations():
        if candidate.method != method:
            continue
        literal = _literal_matches(segments, candidate.template.strip("/").split("/"))
        if literal is not None and (best is None or literal > best[0]):
            best = (literal, candidate)
    return best[1] if best else None


def _literal_matches(segments: list[str], template: list[str]) -> int | None:
    """How many literal segments of `template` the path's segments match (None: no match).
    A placeholder in the path matches only a placeholder in the template."""
    if len(segments) != len(template):
        return None
    literal = 0
    for part, expected in zip(segments, template, strict=True):
        if _PLACEHOLDER.match(expected):
            continue
        if part != expected:
            return None
        literal += 1
    return literal


def scope_of(operation: str) -> str | None:
    """The OAuth scope the spec requires for "METHOD /path" (None: unknown to the table)."""
    found = find(operation)
    return found.scope if found else None

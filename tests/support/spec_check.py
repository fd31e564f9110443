"""Check requests an emulator logged against the table derived from PagerDuty's spec."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from tap_pagerduty import spec_table

IDENTITY = "/oauth/token"  # the identity service, not the REST API


def request_log(emulator: Any) -> list[tuple[str, str, str]]:
    """(method, path, query) of every REST request the emulator saw."""
    return [
        (method, path, query)
        for _t, method, path, query, _status in emulator.stats(log=True)["log"]
        if path != IDENTITY
    ]


def undeclared(log: list[tuple[str, str, str]]) -> list[str]:
    """Requests the spec does not declare: an unknown operation, or a query parameter the
    operation does not take. Empty when every request is as the spec declares it."""
    problems: set[str] = set()
    for method, path, query in log:
        operation = spec_table.find(f"{method} {path}")
        if operation is None:
            problems.add(f"{method} {path}: not an operation of the table")
            continue
        for name, _value in parse_qsl(query, keep_blank_values=True):
            if name not in operation.query:
                problems.add(f"{operation.name}: parameter {name!r} is not declared")
    return sorted(problems)


def scopes_used(log: list[tuple[str, str, str]]) -> set[str]:
    """The scopes the spec requires for the requests in `log`."""
    found = (spec_table.find(f"{method} {path}") for method, path, _query in log)
    return {operation.scope for operation in found if operation and operation.scope}

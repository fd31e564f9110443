"""What can go wrong with a request, as the types the rest of the tap catches.

Every message is one line meant for the user: it names the stream and the request path (never
a header value) and says what to check. `engine.py` raises them; `cli.py` prints them.
"""

from __future__ import annotations

import typing as t

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

if t.TYPE_CHECKING:
    import requests

#: Statuses retried besides 5xx: request timeout and rate limit.
RETRY_STATUSES = {408, 429}


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


class RateLimitedError(RetriableAPIError):
    """429: retried after `wait` seconds (PagerDuty's `ratelimit-reset`), or with the usual
    exponential backoff when the answer carries no header (`wait` is None)."""

    def __init__(self, message: str, response: requests.Response, wait: float | None) -> None:
        super().__init__(message, response)
        self.wait = wait


def rate_limit_wait(response: requests.Response) -> float | None:
    """Seconds until PagerDuty's rate-limit window resets, if it says so."""
    try:
        return max(0.0, float(response.headers["ratelimit-reset"]))
    except (KeyError, ValueError):
        return None

"""Scoped OAuth with client credentials: app tokens from PagerDuty's identity service.

The token is requested (`grant_type=client_credentials`) for `as_account-<region>.<subdomain>`
and exactly the scopes of the requests the selected streams send (each stream declares its
operations; the spec's scope of each is in `spec_table`), before the first API request. It
is renewed before it expires, outside any request slot, and again whenever PagerDuty answers
401 anyway.
The token request is throttled and retried like every other request. Neither the client
secret nor a token is ever logged or written: errors name the setting to check instead.
"""

from __future__ import annotations

import threading
import time
import typing as t
from urllib.parse import urlparse

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_pagerduty import redact, spec_table
from tap_pagerduty.errors import (
    RETRY_STATUSES,
    PagerDutyAPIError,
    RateLimitedError,
    rate_limit_wait,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.streams import Stream

    from tap_pagerduty.client import PagerDutyStream
    from tap_pagerduty.engine import Engine
    from tap_pagerduty.extra_settings import OAuthSettings
    from tap_pagerduty.settings import Settings

# Where the ids of an analytics id filter are listed.
FILTER_LISTINGS = {"service_ids": "/services", "team_ids": "/teams"}
# Renew this long before expiry (PagerDuty's tokens live a day; at most a fifth of the life).
RENEW_MARGIN = 600.0
# The request the engine sends when it needs PagerDuty's clock before any other answer.
CLOCK_PROBE = "GET /abilities"


def scoped(settings: Settings) -> bool:
    """Whether the credential is scoped (OAuth client credentials or a bearer token): then
    analytics queries need an id filter and a refused request may be a missing scope."""
    return settings.extra.oauth is not None or settings.authorization.startswith("Bearer ")


def analytics_filter(kind: str, settings: Settings) -> str | None:
    """The id filter ("service_ids" or "team_ids") an analytics query sends, or None.

    PagerDuty refuses unfiltered analytics queries from OAuth and user-level tokens. `kind`
    is the filter the endpoint takes when it has a choice ("service_ids"; "team_ids" for
    responder metrics, which take no service filter). `auto` sends every service id with
    OAuth (every incident has a service, not every one a team) and nothing with an API key.
    """
    setting = settings.extra.analytics_filter
    if setting not in ("team_ids", "service_ids") and not (setting == "auto" and scoped(settings)):
        return None
    if kind == "team_ids":
        return "team_ids"
    return kind if setting == "auto" else setting


def filter_listings(kind: str, settings: Settings | None) -> set[str]:
    """The listings an analytics query taking `kind` reads for its id filter with `settings`
    (None: with any settings)."""
    if settings is None:
        kinds = {"team_ids"} if kind == "team_ids" else set(FILTER_LISTINGS)
    else:
        wanted = analytics_filter(kind, settings)
        kinds = {wanted} if wanted else set()
    return {FILTER_LISTINGS[k] for k in kinds}


def scopes_for(operations: Iterable[str]) -> set[str]:
    """The scopes PagerDuty's spec requires for `operations` ("METHOD /path/{template}")."""
    found = (spec_table.scope_of(operation) for operation in operations)
    return {scope for scope in found if scope}


def selected_scopes(streams: Iterable[Stream], settings: Settings) -> list[str]:
    """The scopes of every request the selected streams send: their own, those of the
    listings they read to filter or decide, their parents' (the SDK syncs the parent of a
    selected child), and the clock probe's."""
    operations = {CLOCK_PROBE}
    for stream in streams:
        if stream.selected:
            operations |= t.cast("PagerDutyStream", stream).operations(settings)
    return sorted(scopes_for(operations))


def hint(settings: Settings, stream_name: str, request: str, status: int, usual: str) -> str:
    """What to check after an error `status` of `request` ("METHOD /path"), for the
    credentials in use: under OAuth a 403 names the exact scope that request needs (from
    the spec), and a 401 the client credential settings; an unfiltered analytics query
    refused (400) with an API key names `analytics_filter` (a user-level key needs it)."""
    client_credentials = settings.extra.oauth is not None
    if status == 401 and client_credentials:
        return (
            "PagerDuty refused the app token even after renewing it: check "
            "'oauth_client_id', 'oauth_client_secret' and 'oauth_subdomain'"
        )
    unfiltered = analytics_filter("service_ids", settings) is None
    if status == 400 and request.startswith("POST /analytics/") and unfiltered:
        return (
            f"{usual}; OAuth and user-level API keys must filter analytics queries: set "
            "'analytics_filter' to 'service_ids' (or 'team_ids')"
        )
    if status != 403 or not scoped(settings):
        return usual
    operation = spec_table.find(request)  # named as in PagerDuty's reference
    scope = operation.scope if operation else "unknown"
    where = operation.name if operation else request
    return (
        f"{usual}; stream '{stream_name}' needs OAuth scope {scope!r} for {where}: grant it "
        "to the app (and list it in 'oauth_scopes' if set), or deselect the stream"
    )


class AppToken:
    """One app token for all threads of a run; renewed by whichever thread finds it due."""

    def __init__(self, settings: OAuthSettings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.lock = threading.Lock()
        self.value: str | None = None
        self.renew_at = 0.0

    def header(self) -> str:
        # Never fetches: it runs inside a request slot (see `ensure`).
        return f"Bearer {self.value}" if self.value else "Bearer"

    def ensure(self) -> None:
        """Obtain or renew the token now if it is due (before a request takes its slot)."""
        if time.monotonic() < self.renew_at:
            return
        with self.lock:
            if time.monotonic() >= self.renew_at:
                self._fetch()

    def expire(self, sent_header: str) -> bool:
        """PagerDuty refused the token in `sent_header`: renew it (if it is still the current
        one) and retry. Each request retries at most `max_retries` times, and credentials the
        identity service refuses end the run, so this cannot loop."""
        with self.lock:
            if not sent_header.startswith("Bearer "):
                return False
            if sent_header == f"Bearer {self.value}":
                self.renew_at = 0.0  # the next `ensure` renews it; others keep sending it
            return True

    def _fetch(self) -> None:
        oauth = self.settings
        scopes = list(
            oauth.scopes or selected_scopes(self.engine.streams().values(), self.engine.settings)
        )
        account = f"as_account-{oauth.region}.{oauth.subdomain}"
        request = requests.Request(
            "POST",
            oauth.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": oauth.client_id,
                "client_secret": oauth.client_secret,
                "scope": " ".join([account, *scopes]),
            },
            headers={
                "Accept": "application/json",
                "User-Agent": self.engine.settings.user_agent,
            },
        ).prepare()
        send = self.engine.retrying(self._attempt)
        started = time.monotonic()
        payload = send(request, scopes)
        lifetime = float(payload.get("expires_in") or 3600)
        self.value = str(payload["access_token"])
        redact.register([self.value])  # masked in every log line from now on
        self.renew_at = started + lifetime - min(RENEW_MARGIN, lifetime / 5)
        self.engine.logger.info(
            "OAuth: app token for %s obtained (scopes: %s), valid %.0f s",
            account,
            payload.get("scope") or " ".join(scopes),
            lifetime,
        )

    def _attempt(self, request: requests.PreparedRequest, scopes: list[str]) -> dict[str, t.Any]:
        engine = self.engine
        with engine.throttle.request_slot():
            response = engine.session().send(request, timeout=engine.settings.request_timeout)
        where = f"POST {urlparse(self.settings.token_url).netloc}/oauth/token"
        status = response.status_code
        line = f"OAuth token request ({where}) failed with HTTP {status}"
        if status == 429:
            wait = rate_limit_wait(response)
            if wait is not None:
                engine.throttle.pause(wait)
            raise RateLimitedError(line, response, wait)
        if status in RETRY_STATUSES or status >= 500:
            raise RetriableAPIError(line, response)
        try:
            payload = response.json()
        except ValueError:
            if status >= 400:
                payload = {}
            else:
                raise RetriableAPIError(f"{line}: truncated or non-JSON body", response) from None
        if status >= 400 or not isinstance(payload, dict) or not payload.get("access_token"):
            raise PagerDutyAPIError(self._refusal(line, payload, scopes), status)
        return payload

    def _refusal(self, line: str, payload: t.Any, scopes: list[str]) -> str:
        detail = ""
        if isinstance(payload, dict):
            detail = " ".join(
                str(payload.get(k) or "") for k in ("error", "error_description")
            ).strip()
        detail = detail.replace(self.settings.client_secret, "***")[:300]
        return (
            f"{line}{': ' + detail if detail else ''} (check 'oauth_client_id', "
            "'oauth_client_secret' and 'oauth_subdomain'; the app must hold every requested "
            f"scope: {' '.join(scopes)})"
        )

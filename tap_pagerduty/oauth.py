"""Scoped OAuth with client credentials: app tokens from PagerDuty's identity service.

The token is requested (`grant_type=client_credentials`) for `as_account-<region>.<subdomain>`
and the read scopes of the selected streams, before the first API request. It is renewed
before it expires, outside any request slot, and again whenever PagerDuty answers 401 anyway.
The token request is throttled and retried like every other request. Neither the client
secret nor a token is ever logged or written: errors name the setting to check instead.
"""

from __future__ import annotations

import threading
import time
import typing as t
import weakref
from urllib.parse import urlparse

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_pagerduty import client, redact

if t.TYPE_CHECKING:
    from tap_pagerduty.client import PagerDutyStream
    from tap_pagerduty.extra_settings import OAuthSettings
    from tap_pagerduty.tap import TapPagerDuty

# Scopes each stream needs (`x-pd-requires-scope` of the endpoints it reads, in PagerDuty's
# OpenAPI spec). PagerDuty requires `analytics.write` for its read-only analytics queries.
STREAM_SCOPES: dict[str, tuple[str, ...]] = {
    "users": ("users.read", "users:contact_methods.read"),
    "user_contact_methods": ("users:contact_methods.read",),
    "user_notification_rules": ("users:contact_methods.read",),
    "teams": ("teams.read",),
    "team_members": ("teams.read",),
    "services": ("services.read",),
    "service_integrations": ("services.read",),
    "service_custom_field_values": ("services.read", "custom_fields.read"),
    "escalation_policies": ("escalation_policies.read",),
    "schedules": ("schedules.read",),
    "schedule_overrides": ("schedules.read",),
    "schedule_users": ("users.read",),
    "priorities": ("priorities.read",),
    "tags": ("tags.read",),
    "business_services": ("services.read",),
    "vendors": ("vendors.read",),
    "oncalls": ("oncalls.read",),
    "maintenance_windows": ("services.read",),
    "abilities": ("abilities.read",),
    "extensions": ("extensions.read",),
    "addons": ("addons.read",),
    "webhook_subscriptions": ("webhook_subscriptions.read",),
    "incident_workflows": ("incident_workflows.read",),
    "event_orchestrations": ("event_orchestrations.read",),
    "rulesets": ("event_rules.read",),
    "status_dashboards": ("status_dashboards.read",),
    "incident_types": ("incident_types.read",),
    "incident_custom_fields": ("custom_fields.read",),
    "service_custom_fields": ("custom_fields.read",),
    "licenses": ("licenses.read",),
    "license_allocations": ("licenses.read",),
    "incidents": ("incidents.read",),
    "incident_alerts": ("incidents.read",),
    "incident_notes": ("incidents.read",),
    "incident_custom_field_values": (
        "incidents.read",
        "incident_types.read",
        "custom_fields.read",
    ),
    "log_entries": ("incidents.read",),
    "notifications": ("users:notifications.read",),
    "audit_records": ("audit_records.read",),
    "change_events": ("change_events.read",),
    "analytics_incidents": ("analytics.write",),
}
ANALYTICS_SCOPE = ("analytics.write",)
# Renew this long before expiry (PagerDuty's tokens live a day; at most a fifth of the life).
RENEW_MARGIN = 600.0

_tokens: weakref.WeakKeyDictionary[TapPagerDuty, AppToken] = weakref.WeakKeyDictionary()
_tokens_lock = threading.Lock()


def scopes_of(stream_name: str) -> tuple[str, ...]:
    if stream_name.startswith("analytics_"):
        return ANALYTICS_SCOPE
    return STREAM_SCOPES.get(stream_name, ())


def app_token(tap: TapPagerDuty) -> AppToken | None:
    """The run's app token, when the settings use client credentials."""
    oauth = tap.settings.extra.oauth
    if oauth is None:
        return None
    with _tokens_lock:
        token = _tokens.get(tap)
        if token is None:
            token = _tokens[tap] = AppToken(oauth)
        return token


def authorization(stream: PagerDutyStream) -> str:
    """The Authorization header for the next request of `stream`."""
    token = app_token(stream.tap)
    return stream.settings.authorization if token is None else token.header()


def before_request(stream: PagerDutyStream) -> None:
    """Obtain or renew the app token now, before the request takes its slot."""
    token = app_token(stream.tap)
    if token is not None:
        token.ensure(stream)


def retry_after_401(stream: PagerDutyStream, response: requests.Response) -> bool:
    """A 401 for an app token that should still be valid: renew it and retry."""
    token = app_token(stream.tap)
    sent = response.request.headers.get("Authorization") if response.request else None
    return token is not None and token.expire(str(sent or ""))


def hint(stream: PagerDutyStream, status: int, usual: str) -> str:
    """What to check after an error `status`, for the credentials in use: under OAuth a 403
    names the scope the stream needs, and a 401 the client credential settings."""
    settings = stream.settings
    client_credentials = settings.extra.oauth is not None
    if status == 401 and client_credentials:
        return (
            "PagerDuty refused the app token even after renewing it: check "
            "'oauth_client_id', 'oauth_client_secret' and 'oauth_subdomain'"
        )
    if status != 403 or not (client_credentials or settings.authorization.startswith("Bearer ")):
        return usual
    scopes = " ".join(scopes_of(stream.name)) or "unknown"
    return (
        f"{usual}; stream '{stream.name}' needs OAuth scope {scopes!r}: grant it to the app "
        "(and list it in 'oauth_scopes' if set), or deselect the stream"
    )


def selected_scopes(tap: TapPagerDuty) -> list[str]:
    """Read scopes covering every selected stream."""
    scopes = {"abilities.read"}  # the server-clock probe
    for stream in tap.streams.values():
        if stream.selected:
            scopes.update(scopes_of(stream.name))
    return sorted(scopes)


class AppToken:
    """One app token for all threads; renewed by whichever thread finds it due."""

    def __init__(self, settings: OAuthSettings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.value: str | None = None
        self.renew_at = 0.0

    def header(self) -> str:
        # Never fetches: it runs inside a request slot (see `before_request`).
        return f"Bearer {self.value}" if self.value else "Bearer"

    def ensure(self, stream: PagerDutyStream) -> None:
        if time.monotonic() < self.renew_at:
            return
        with self.lock:
            if time.monotonic() >= self.renew_at:
                self._fetch(stream)

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

    def _fetch(self, stream: PagerDutyStream) -> None:
        oauth = self.settings
        scopes = list(oauth.scopes or selected_scopes(stream.tap))
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
            headers={"Accept": "application/json", "User-Agent": stream.settings.user_agent},
        ).prepare()
        attempt = t.cast("t.Any", lambda: self._attempt(stream, request, scopes))
        send = t.cast("t.Callable[[], dict[str, t.Any]]", stream.request_decorator(attempt))
        started = time.monotonic()
        payload = send()
        lifetime = float(payload.get("expires_in") or 3600)
        self.value = str(payload["access_token"])
        redact.register([self.value])  # masked in every log line from now on
        self.renew_at = started + lifetime - min(RENEW_MARGIN, lifetime / 5)
        stream.logger.info(
            "OAuth: app token for %s obtained (scopes: %s), valid %.0f s",
            account,
            payload.get("scope") or " ".join(scopes),
            lifetime,
        )

    def _attempt(
        self, stream: PagerDutyStream, request: requests.PreparedRequest, scopes: list[str]
    ) -> dict[str, t.Any]:
        with stream.tap.throttle.request_slot():
            response = stream.requests_session.send(request, timeout=stream.timeout)
        where = f"POST {urlparse(self.settings.token_url).netloc}/oauth/token"
        status = response.status_code
        line = f"OAuth token request ({where}) failed with HTTP {status}"
        if status == 429:
            wait = client._rate_limit_wait(response)
            if wait is not None:
                stream.tap.throttle.pause(wait)
            raise client.RateLimitedError(line, response, wait)
        if status in client.RETRY_STATUSES or status >= 500:
            raise RetriableAPIError(line, response)
        try:
            payload = response.json()
        except ValueError:
            if status >= 400:
                payload = {}
            else:
                raise RetriableAPIError(f"{line}: truncated or non-JSON body", response) from None
        if status >= 400 or not isinstance(payload, dict) or not payload.get("access_token"):
            raise client.PagerDutyAPIError(self._refusal(line, payload, scopes), status)
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

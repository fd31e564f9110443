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
from urllib.parse import urlparse

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_pagerduty import redact
from tap_pagerduty.errors import (
    RETRY_STATUSES,
    PagerDutyAPIError,
    RateLimitedError,
    rate_limit_wait,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.streams import Stream

    from tap_pagerduty.engine import Engine
    from tap_pagerduty.extra_settings import OAuthSettings
    from tap_pagerduty.settings import Settings

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


def scopes_of(stream_name: str) -> tuple[str, ...]:
    if stream_name.startswith("analytics_"):
        return ANALYTICS_SCOPE
    return STREAM_SCOPES.get(stream_name, ())


def hint(settings: Settings, stream_name: str, status: int, usual: str) -> str:
    """What to check after an error `status`, for the credentials in use: under OAuth a 403
    names the scope the stream needs, and a 401 the client credential settings."""
    client_credentials = settings.extra.oauth is not None
    if status == 401 and client_credentials:
        return (
            "PagerDuty refused the app token even after renewing it: check "
            "'oauth_client_id', 'oauth_client_secret' and 'oauth_subdomain'"
        )
    if status != 403 or not (client_credentials or settings.authorization.startswith("Bearer ")):
        return usual
    scopes = " ".join(scopes_of(stream_name)) or "unknown"
    return (
        f"{usual}; stream '{stream_name}' needs OAuth scope {scopes!r}: grant it to the app "
        "(and list it in 'oauth_scopes' if set), or deselect the stream"
    )


def selected_scopes(streams: Iterable[Stream]) -> list[str]:
    """Read scopes covering every selected stream."""
    scopes = {"abilities.read"}  # the server-clock probe
    for stream in streams:
        if stream.selected:
            scopes.update(scopes_of(stream.name))
    return sorted(scopes)


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
        scopes = list(oauth.scopes or selected_scopes(self.engine.streams().values()))
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

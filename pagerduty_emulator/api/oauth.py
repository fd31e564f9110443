"""Scoped OAuth apps (client credentials): the token endpoint, token checks, scopes from the
spec table, and the team or service filter analytics demands of app tokens."""

from __future__ import annotations

import json
import secrets
import threading
import time
from urllib.parse import parse_qs

from tap_pagerduty import spec_table

from ..render import dumpb
from .extras_base import ExtrasBase

TOKEN_PATH = "/oauth/token"


class OAuthApps(ExtrasBase):
    """A part of `Extras` (see the module's docstring)."""

    def _start_oauth(self) -> None:
        # OAuth: client id -> (secret, scopes the app was granted); issued tokens.
        self.oauth_clients: dict[str, tuple[str, set[str]]] = {}
        self.oauth_account = "as_account-us.emulator"
        self.oauth_ttl = 3600.0
        #: If set, the lifetime the token answer claims (a token that dies earlier than said).
        self.oauth_claimed_ttl: float | None = None
        self.oauth_tokens: dict[str, tuple[float, set[str]]] = {}
        self.oauth_issued = 0
        self.oauth_lock = threading.Lock()
        #: API keys (among the emulator's `tokens`) that act as user-level keys: sent as
        #: `Token token=` like an account key, but analytics queries must be filtered.
        self.user_level_tokens: set[str] = set()

    def add_oauth_client(self, client_id: str, secret: str, scopes, ttl: float = 3600.0) -> None:
        """Register a scoped OAuth app granted `scopes`; its tokens live `ttl` wall seconds."""
        self.oauth_clients[client_id] = (secret, set(scopes))
        self.oauth_ttl = ttl

    def h_token(self, body: bytes) -> tuple[int, bytes]:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return 400, dumpb({"error": "unsupported_grant_type"})
        client = self.oauth_clients.get(form.get("client_id", ""))
        if client is None or not secrets.compare_digest(client[0], form.get("client_secret", "")):
            return 401, dumpb({"error": "invalid_client"})
        scopes = form.get("scope", "").split()
        accounts = [s for s in scopes if s.startswith("as_account-")]
        wanted = {s for s in scopes if not s.startswith("as_account-")}
        if accounts != [self.oauth_account] or not wanted <= client[1]:
            return 400, dumpb({"error": "invalid_scope", "error_description": "Invalid scope"})
        token = "pdus+_" + secrets.token_urlsafe(24)
        with self.oauth_lock:
            self.oauth_tokens[token] = (time.monotonic() + self.oauth_ttl, wanted)
            self.oauth_issued += 1
        answer = {
            "access_token": token,
            "token_type": "bearer",
            "scope": " ".join([self.oauth_account, *sorted(wanted)]),
            "expires_in": self.oauth_claimed_ttl or self.oauth_ttl,
        }
        return 200, dumpb(answer)

    def token_valid(self, token: str) -> bool:
        with self.oauth_lock:
            entry = self.oauth_tokens.get(token)
        return entry is not None and time.monotonic() < entry[0]

    def missing_scope(self, token: str, method: str, path: str) -> str | None:
        """The scope an app token lacks for `method path` (None: allowed, or not an app
        token), as PagerDuty's spec requires it: from the tap's table derived from the spec
        (`tap_pagerduty/spec_table.json`). An operation the table does not know is refused."""
        with self.oauth_lock:
            entry = self.oauth_tokens.get(token)
        if entry is None:
            return None
        scope = spec_table.scope_of(f"{method} {path}")
        if scope is None:
            return f"(unknown: {method} {path} is not in the spec table)"
        return None if scope in entry[1] else scope

    def analytics_unfiltered(self, token: str | None, path: str, body: bytes) -> bool:
        """OAuth tokens and user-level keys must filter analytics by team_ids or service_ids
        (PagerDuty's rule)."""
        if not path.startswith("/analytics/") or token is None:
            return False
        with self.oauth_lock:
            if token not in self.oauth_tokens and token not in self.user_level_tokens:
                return False
        try:
            flt = json.loads(body or b"{}").get("filters") or {}
        except (ValueError, AttributeError):
            return False
        return not (flt.get("team_ids") or flt.get("service_ids"))

"""Settings of the custom-field, override, license and metrics streams and of scoped OAuth.

Kept apart from `settings.py` so that each concern has one place; `Settings.extra` holds the
validated values. Every rule fails with one line naming the setting and what to do.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlparse

from singer_sdk import typing as th

if t.TYPE_CHECKING:
    from collections.abc import Callable

# PagerDuty's identity service issues app tokens (client credentials flow). The US address is
# documented; the EU one follows the API's own `api.eu.` naming.
IDENTITY_URLS = {
    "us": "https://identity.pagerduty.com/oauth/token",
    "eu": "https://identity.eu.pagerduty.com/oauth/token",
}
DEFAULT_OVERRIDES_DAYS_AHEAD = 90
METRICS_UNITS = ("day", "week", "month")
UNKNOWN_FIELDS = ("keep", "drop")
MAX_VALUES_REREAD_DAYS = 180

EXTRA_PROPERTIES: dict[str, t.Any] = th.PropertiesList(
    th.Property(
        "oauth_client_id",
        th.StringType,
        title="OAuth client id",
        description="Client id of a scoped OAuth app (client credentials). Set it with "
        "`oauth_client_secret` and `oauth_subdomain`, instead of `api_token`.",
    ),
    th.Property(
        "oauth_client_secret",
        th.StringType,
        secret=True,
        title="OAuth client secret",
        description="Client secret of the scoped OAuth app. Never logged.",
    ),
    th.Property(
        "oauth_subdomain",
        th.StringType,
        title="Account subdomain",
        description="The PagerDuty account's subdomain (`acme` for acme.pagerduty.com); the "
        "token is requested for `as_account-<region>.<subdomain>`.",
    ),
    th.Property(
        "oauth_scopes",
        th.StringType,
        title="OAuth scopes",
        description="Space-separated scopes to request. Default: exactly those PagerDuty's "
        "spec requires for the requests the selected streams send (their own, their parents', "
        "the listings read for analytics filters and custom field definitions).",
    ),
    th.Property(
        "oauth_token_url",
        th.StringType,
        title="OAuth token URL",
        description="Token endpoint of PagerDuty's identity service; follows `region` by "
        "default. Must be HTTPS unless the host is loopback.",
    ),
    th.Property(
        "overrides_start_date",
        th.DateTimeType,
        description="Where the `schedule_overrides` and `schedule_users` window starts. "
        "Default: `anchor_date`.",
    ),
    th.Property(
        "overrides_days_ahead",
        th.IntegerType,
        default=DEFAULT_OVERRIDES_DAYS_AHEAD,
        description="How many days after now the `schedule_overrides` and `schedule_users` "
        "window ends, 0 to 365.",
    ),
    th.Property(
        "metrics_unit",
        th.StringType,
        default="day",
        allowed_values=list(METRICS_UNITS),
        description="Aggregation unit of the `analytics_metrics_*` streams: day, week or month.",
    ),
    th.Property(
        "analytics_filter",
        th.StringType,
        default="auto",
        allowed_values=["auto", "none", "team_ids", "service_ids"],
        description="Filter sent with analytics queries. PagerDuty requires `team_ids` or "
        "`service_ids` for OAuth and user-level tokens. `auto`: with OAuth, every service id "
        "(read from /services; responder metrics, which take no service filter, every team "
        "id from /teams); with an API key, none. Set `team_ids` or `service_ids` for a "
        "user-level API key.",
    ),
    th.Property(
        "notes_log_end",
        th.StringType,
        default="now",
        allowed_values=["now", "end_date"],
        description="With an `end_date`, how far the first sync reads the log to find the "
        "incidents that have notes. `now` (default): a note added after `end_date` to an "
        "incident of the range is read too. `end_date`: for a backfill cut into time slices "
        "whose hand-over reads those later notes once (orchestration/), so that each slice "
        "reads the log of its own range only.",
    ),
    th.Property(
        "custom_field_values_reread_days",
        th.IntegerType,
        default=0,
        description="Re-read, on every incremental run, the custom field values of incidents "
        "created in the last N days (0 to 180), for value edits that neither move an "
        "incident's `updated_at` nor write a log entry (PagerDuty does not document how an "
        "edit is recorded). Cost per run: one request per 100 such incidents, plus one per "
        "incident whose type has fields. 0: off (such edits are not caught; the run says so).",
    ),
    th.Property(
        "unknown_fields",
        th.StringType,
        default="keep",
        allowed_values=list(UNKNOWN_FIELDS),
        description="Fields PagerDuty sends that a stream's schema does not list (PagerDuty "
        "adds fields over time). `keep`: in one JSON object column per record, `_extra`, in "
        "the record's own shape (only the unlisted parts). `drop`: left out, with the SDK's "
        "warning naming them.",
    ),
).to_dict()["properties"]


@dataclass(frozen=True)
class OAuthSettings:
    """Client credentials of a scoped OAuth app; `scopes` None means "from the streams"."""

    client_id: str
    client_secret: str
    subdomain: str
    region: str
    scopes: tuple[str, ...] | None
    token_url: str

    def __repr__(self) -> str:  # never show the secret, not even in a traceback
        return f"OAuthSettings(client_id={self.client_id!r}, subdomain={self.subdomain!r})"


@dataclass(frozen=True)
class ExtraSettings:
    oauth: OAuthSettings | None
    overrides_start: datetime
    overrides_days_ahead: int
    metrics_unit: str
    analytics_filter: str
    notes_log_end: str = "now"
    unknown_fields: str = "keep"
    values_reread_days: int = 0

    @classmethod
    def from_config(
        cls,
        config: t.Mapping[str, t.Any],
        *,
        anchor: datetime,
        error: type[Exception],
        parse_date: Callable[[t.Mapping[str, t.Any], str], datetime | None],
        check_url: Callable[[str, str], str],
    ) -> ExtraSettings:
        days = config.get("overrides_days_ahead")
        days = DEFAULT_OVERRIDES_DAYS_AHEAD if days is None else days
        try:
            days = int(str(days))
        except ValueError:
            days = -1
        if not 0 <= days <= 365:
            raise error(
                f"Setting 'overrides_days_ahead' is {config.get('overrides_days_ahead')!r}: "
                "use a whole number from 0 to 365."
            )
        unit = config.get("metrics_unit") or "day"
        if unit not in METRICS_UNITS:
            raise error(f"Setting 'metrics_unit' is {unit!r}: use day, week or month.")
        analytics_filter = config.get("analytics_filter") or "auto"
        if analytics_filter not in ("auto", "none", "team_ids", "service_ids"):
            raise error(
                f"Setting 'analytics_filter' is {analytics_filter!r}: "
                "use auto, none, team_ids or service_ids."
            )
        notes_log_end = config.get("notes_log_end") or "now"
        if notes_log_end not in ("now", "end_date"):
            raise error(f"Setting 'notes_log_end' is {notes_log_end!r}: use now or end_date.")
        unknown = config.get("unknown_fields") or "keep"
        if unknown not in UNKNOWN_FIELDS:
            raise error(f"Setting 'unknown_fields' is {unknown!r}: use keep or drop.")
        reread = config.get("custom_field_values_reread_days")
        try:
            reread = int(str(0 if reread is None else reread))
        except ValueError:
            reread = -1
        if not 0 <= reread <= MAX_VALUES_REREAD_DAYS:
            raise error(
                "Setting 'custom_field_values_reread_days' is "
                f"{config.get('custom_field_values_reread_days')!r}: use a whole number from 0 "
                f"to {MAX_VALUES_REREAD_DAYS}."
            )
        return cls(
            unknown_fields=unknown,
            values_reread_days=reread,
            oauth=_oauth(config, error, check_url),
            overrides_start=parse_date(config, "overrides_start_date") or anchor,
            overrides_days_ahead=days,
            metrics_unit=unit,
            analytics_filter=analytics_filter,
            notes_log_end=notes_log_end,
        )

    def overrides_end(self, now: datetime) -> datetime:
        return now + timedelta(days=self.overrides_days_ahead)


def uses_client_credentials(config: t.Mapping[str, t.Any]) -> bool:
    return bool(config.get("oauth_client_id") or config.get("oauth_client_secret"))


def _oauth(
    config: t.Mapping[str, t.Any],
    error: type[Exception],
    check_url: Callable[[str, str], str],
) -> OAuthSettings | None:
    if not uses_client_credentials(config):
        return None
    for other in ("api_token", "oauth_token"):
        if (config.get(other) or "").strip():
            raise error(
                f"Settings '{other}' and 'oauth_client_id' are both set: "
                "keep only one way to authenticate."
            )
    values = {}
    for name in ("oauth_client_id", "oauth_client_secret", "oauth_subdomain"):
        values[name] = str(config.get(name) or "").strip()
        if not values[name]:
            raise error(
                f"Setting '{name}' is missing: OAuth client credentials need "
                "'oauth_client_id', 'oauth_client_secret' and 'oauth_subdomain'."
            )
    subdomain = values["oauth_subdomain"].removesuffix(".pagerduty.com")
    if not subdomain.replace("-", "").isalnum():
        raise error(
            f"Setting 'oauth_subdomain' ({values['oauth_subdomain']!r}) is not a subdomain: "
            "use e.g. 'acme' for acme.pagerduty.com."
        )
    region = config.get("region") or "us"
    raw_scopes = str(config.get("oauth_scopes") or "").replace(",", " ").split()
    token_url = config.get("oauth_token_url")
    if token_url:
        parsed = urlparse(str(token_url))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise error(
                f"Setting 'oauth_token_url' ({token_url!r}) is not a URL: "
                "use e.g. https://identity.pagerduty.com/oauth/token."
            )
        token_url = check_url("oauth_token_url", str(token_url))
    return OAuthSettings(
        client_id=values["oauth_client_id"],
        client_secret=values["oauth_client_secret"],
        subdomain=subdomain,
        region=str(region),
        scopes=tuple(s for s in raw_scopes if not s.startswith("as_account-")) or None,
        token_url=str(token_url or IDENTITY_URLS.get(str(region), IDENTITY_URLS["us"])),
    )

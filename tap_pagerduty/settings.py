"""The tap's settings: the config JSON schema and its validation into a typed object.

Every rule lives here. The schema carries what JSON Schema can say (types, bounds, allowed
values, printable header text), and the SDK validates the config against it when the tap is
built. `Settings.from_config` says the same rules in the tap's words and adds those a schema
cannot say (dates not in the future, one credential, https for remote hosts). Either way a
wrong setting fails with one line that names it and says what to do, before any request.
"""

from __future__ import annotations

import contextlib
import decimal
import ipaddress
import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

from singer_sdk import typing as th

from tap_pagerduty.extra_settings import EXTRA_PROPERTIES, ExtraSettings, uses_client_credentials
from tap_pagerduty.json_files import check_object_text, kind_of
from tap_pagerduty.windows import iso_z, parse_time

REGION_URLS = {
    "us": "https://api.pagerduty.com",
    "eu": "https://api.eu.pagerduty.com",
}

DEFAULT_REQUESTS_PER_SECOND = 5.0
DEFAULT_MAX_CONCURRENCY = 3
DEFAULT_PAGE_SIZE = 100
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 8
DEFAULT_ONCALL_DAYS = 90
DEFAULT_USER_AGENT = "tap-pagerduty"
DEFAULT_ANALYTICS_LAG_HOURS = 24
# Look-back rescan of incident creation windows when analytics is not available.
DEFAULT_RECONCILE_DAYS_WITHOUT_ANALYTICS = 7


#: The numeric settings: lowest, highest, whole numbers only. The JSON schema (what `--about`
#: and Meltano show) and the checks in `Settings.from_config` both read them here.
BOUNDS: dict[str, tuple[float, float, bool]] = {
    "requests_per_second": (0.01, 1000, False),
    "max_concurrency": (1, 16, True),
    "page_size": (1, 100, True),
    "request_timeout": (1, 600, False),
    "max_retries": (0, 50, True),
    "oncall_days": (1, 90, True),
    "analytics_lag_hours": (0, 72, False),
    "reconcile_days": (0, 180, True),
}


#: Text sent in an HTTP header: printable ASCII only (no line break can inject a header).
HEADER_TEXT = r"^[ -~]*$"


def _bounded(name: str) -> th.JSONTypeHelper[t.Any]:
    low, high, whole = BOUNDS[name]
    # Typed `t.Any`: the SDK annotates NumberType's bounds as int, though JSON allows 0.01.
    kind: t.Any = th.IntegerType if whole else th.NumberType
    return t.cast("th.JSONTypeHelper[t.Any]", kind(minimum=low, maximum=high))


class SettingsError(Exception):
    """A setting is missing or wrong; the message is one line meant for the user."""


def check_config_file(path: str) -> None:
    """A `--config` file is readable and holds a JSON object; SettingsError naming it if not
    (the SDK would end in a traceback)."""
    fix = "give the path of a JSON file holding an object of settings"
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise SettingsError(f"Config file {path!r} does not exist: {fix}.") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise SettingsError(f"Config file {path!r} cannot be read ({reason}): {fix}.") from None
    what = f"Config file {path!r}"
    check_object_text(text, what, expected="an object", fix=fix, error=SettingsError)


CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "api_token",
        th.StringType(pattern=HEADER_TEXT),
        secret=True,
        title="API token",
        description="PagerDuty REST API key, sent as `Token token=…`. Set this or `oauth_token`.",
    ),
    th.Property(
        "oauth_token",
        th.StringType(pattern=HEADER_TEXT),
        secret=True,
        title="OAuth token",
        description="OAuth access token, sent as `Bearer …`. Set this or `api_token`.",
    ),
    th.Property(
        "region",
        th.StringType,
        default="us",
        allowed_values=list(REGION_URLS),
        description="PagerDuty service region: `us` (api.pagerduty.com) or `eu` "
        "(api.eu.pagerduty.com).",
    ),
    th.Property(
        "api_url",
        th.StringType(pattern=r"^https?://[^\s]+$"),
        description="Base URL that overrides `region` (for proxies and the local emulator). "
        "Must be HTTPS unless the host is loopback.",
    ),
    th.Property(
        "anchor_date",
        th.DateTimeType,
        description="Where incremental streams start on a first sync (ISO 8601, not in the "
        "future). Default: one year before now.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        description="Alias of `anchor_date` (the usual Singer name). Set one of the two.",
    ),
    th.Property(
        "end_date",
        th.DateTimeType,
        description="Optional end of the synced range, for backfills (ISO 8601, not in the "
        "future). Default: now.",
    ),
    th.Property(
        "requests_per_second",
        _bounded("requests_per_second"),
        default=DEFAULT_REQUESTS_PER_SECOND,
        description="Most requests sent in any second, shared by all streams and threads. "
        "PagerDuty allows 960 per minute per token.",
    ),
    th.Property(
        "max_concurrency",
        _bounded("max_concurrency"),
        default=DEFAULT_MAX_CONCURRENCY,
        description="Most requests in flight at once.",
    ),
    th.Property(
        "page_size",
        _bounded("page_size"),
        default=DEFAULT_PAGE_SIZE,
        description="Records per page (`limit`), 1 to 100.",
    ),
    th.Property(
        "request_timeout",
        _bounded("request_timeout"),
        default=DEFAULT_REQUEST_TIMEOUT,
        description="Seconds to wait for a response before retrying.",
    ),
    th.Property(
        "max_retries",
        _bounded("max_retries"),
        default=DEFAULT_MAX_RETRIES,
        description="Retries of a failed request (429, 408, 5xx, timeouts, dropped connections, "
        "truncated bodies) before the sync fails. A refused connection is tried 3 times in all; "
        "TLS errors are not retried.",
    ),
    th.Property(
        "oncall_days",
        _bounded("oncall_days"),
        default=DEFAULT_ONCALL_DAYS,
        description="How many days ahead the `oncalls` stream reads, 1 to 90.",
    ),
    th.Property(
        "analytics_lag_hours",
        _bounded("analytics_lag_hours"),
        default=DEFAULT_ANALYTICS_LAG_HOURS,
        description="How late PagerDuty's analytics API may show an incident change, 0 to 72. "
        "The incidents stream re-asks analytics this far back on every run, so changes that "
        "write no log entry (priority, title, note edits) are never lost.",
    ),
    th.Property(
        "reconcile_days",
        _bounded("reconcile_days"),
        description="Re-read incidents created in the last N days on every run (0 to 180) and "
        "emit those whose `updated_at` moved. Default: 7 when the token has no analytics "
        "access, else 0 (analytics already reports those changes).",
    ),
    th.Property(
        "user_agent",
        th.StringType(pattern=HEADER_TEXT),
        description="User-Agent header sent with every request (printable ASCII). Like the "
        "token, it is masked as `***` in logs and errors.",
    ),
).to_dict()
CONFIG_SCHEMA["properties"].update(EXTRA_PROPERTIES)
# Decimal settings also take text that reads as a number: with `--config ENV` the SDK parses
# whole numbers from the environment but leaves decimals as text. Text is turned into a
# number before validation where the tap can (`numbers_from_text`); what comes from the
# environment is bounded by `Settings.from_config`, with the same `BOUNDS`.
NUMBER_TEXT = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
for _name, (_low, _high, _whole) in BOUNDS.items():
    if not _whole:
        CONFIG_SCHEMA["properties"][_name].update(
            type=["number", "string", "null"], pattern=NUMBER_TEXT
        )


@dataclass(frozen=True)
class Settings:
    """Validated settings, with defaults applied."""

    base_url: str
    authorization: str
    anchor_date: datetime
    end_date: datetime | None
    requests_per_second: float
    max_concurrency: int
    page_size: int
    request_timeout: float
    max_retries: int
    oncall_days: int
    user_agent: str
    analytics_lag: timedelta
    reconcile_days: int | None
    extra: ExtraSettings

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any], *, now: datetime | None = None) -> Settings:
        """Validate `config`; raise SettingsError naming the first wrong setting."""
        now = now or datetime.now(timezone.utc)
        anchor = _anchor_date(config, now) or now - timedelta(days=365)
        end = _date(config, "end_date", now)
        if end is not None and end <= anchor:
            raise SettingsError(
                f"Setting 'end_date' ({iso_z(end)}) is not after 'anchor_date' ({iso_z(anchor)}): "
                "set an end_date later than the anchor_date, or remove it."
            )
        return cls(
            base_url=_base_url(config),
            authorization=_authorization(config),
            anchor_date=anchor,
            end_date=end,
            requests_per_second=_number(config, "requests_per_second"),
            max_concurrency=int(_number(config, "max_concurrency")),
            page_size=int(_number(config, "page_size")),
            request_timeout=_number(config, "request_timeout"),
            max_retries=int(_number(config, "max_retries")),
            oncall_days=int(_number(config, "oncall_days")),
            user_agent=_header_text(config, "user_agent") or DEFAULT_USER_AGENT,
            analytics_lag=timedelta(hours=_number(config, "analytics_lag_hours")),
            reconcile_days=(
                None
                if config.get("reconcile_days") is None
                else int(_number(config, "reconcile_days"))
            ),
            extra=ExtraSettings.from_config(
                config,
                anchor=anchor,
                error=SettingsError,
                parse_date=lambda config, name: _date(config, name, now),
                check_url=_checked_url,
            ),
        )

    def check_dates(self, pagerduty_now: datetime) -> None:
        """No date setting later than PagerDuty's clock (checked against the machine's
        clock when read, here against PagerDuty's as soon as it is known): windows end at
        PagerDuty's now, so a later anchor would bookmark an empty window and everything
        before the corrected date would be skipped for good."""
        if self.anchor_date > pagerduty_now:
            raise SettingsError(
                f"Setting 'anchor_date' ({iso_z(self.anchor_date)}) is later than "
                f"PagerDuty's clock ({iso_z(pagerduty_now)}): set a date in the past, or "
                "remove it."
            )

    def secrets(self) -> list[str]:
        """Header values that must never be printed: the credential and a custom user agent."""
        credential = self.authorization
        for scheme in ("Token token=", "Bearer "):
            credential = credential.removeprefix(scheme)
        values = [self.authorization, credential]
        if self.user_agent != DEFAULT_USER_AGENT:
            values.append(self.user_agent)
        if self.extra.oauth is not None:  # app tokens are registered as they come (oauth.py)
            values.append(self.extra.oauth.client_secret)
        return values


def numbers_from_text(config: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """`config` with numeric settings given as text or Decimal turned into JSON numbers.

    Meltano hands decimal settings over as text (they are `kind: string` in meltano.yml:
    Meltano renders a float as "Decimal('5.0')"), and JSON config files are read with
    Decimals, which JSON Schema does not count as integers. Values that are not numbers are
    left as they are, for the schema to refuse."""
    normalized = dict(config)
    for name, schema in CONFIG_SCHEMA["properties"].items():
        kinds = set(schema.get("type") or [])
        value = config.get(name)
        number = _as_number(value) if kinds & {"number", "integer"} else None
        if number is not None and not isinstance(value, int | float):
            normalized[name] = int(number) if number.is_integer() else number
    return normalized


def environment_number_error(
    schema: t.Mapping[str, t.Any], environ: t.Mapping[str, str], prefix: str
) -> str | None:
    """The line for a whole-number setting whose environment variable is not a whole number
    (with `--config ENV` the SDK converts them with `int()`, which fails without a name)."""
    for name, prop in schema.get("properties", {}).items():
        variable = prefix + name.upper().replace("-", "_")
        if "integer" not in (prop.get("type") or []) or variable not in environ:
            continue
        try:
            int(environ[variable])
        except ValueError:
            return (
                f"Setting '{name}' (environment variable {variable}={environ[variable]!r}) "
                "must be a whole number."
            )
    return None


def schema_error_line(config: t.Mapping[str, t.Any], sdk_errors: t.Sequence[str]) -> str:
    """One line for the SDK's schema validation errors (a list of JSON Schema messages).

    The tap's own check of the same config words it best: it names the setting, its range
    or allowed values and what to write instead, and never prints a secret. When only the
    schema objects (a built-in SDK setting, say), the SDK's first message is used, with the
    values of secret settings left out."""
    try:
        Settings.from_config(config)
    except SettingsError as error:
        return str(error)
    first = sdk_errors[0] if sdk_errors else "the configuration does not match its schema"
    named = [name for name in CONFIG_SCHEMA["properties"] if f"config[{name!r}]" in first]
    setting = named[0] if named else None
    if setting is None:
        return f"Settings do not match the tap's schema: {first} (see `tap-pagerduty --about`)."
    value = config.get(setting)
    if CONFIG_SCHEMA["properties"][setting].get("secret"):
        first = first.replace(repr(value), "the value")
    return f"Setting '{setting}' is invalid: {first} (see `tap-pagerduty --about`)."


def _as_number(value: t.Any) -> float | None:
    """A number, or text or a Decimal that reads as one (env vars pass text, JSON files
    Decimals); None for anything else, true/false included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str | decimal.Decimal):
        with contextlib.suppress(ValueError, decimal.InvalidOperation):
            return float(value)
    return None


def unknown_settings(config: t.Mapping[str, t.Any], known: t.Iterable[str]) -> list[str]:
    """Keys of `config` that no setting reads (a typo, or another tap's setting)."""
    return sorted(set(config) - set(known))


def _authorization(config: t.Mapping[str, t.Any]) -> str:
    if uses_client_credentials(config):
        return ""  # a token from the identity service, fetched when needed (oauth.py)
    api_token = _header_text(config, "api_token")
    oauth_token = _header_text(config, "oauth_token")
    if api_token and oauth_token:
        raise SettingsError(
            "Settings 'api_token' and 'oauth_token' are both set: keep only one of them."
        )
    if api_token:
        return f"Token token={api_token}"
    if oauth_token:
        return f"Bearer {oauth_token}"
    raise SettingsError(
        "Setting 'api_token' is missing: set your PagerDuty REST API key "
        "(or 'oauth_token' for an OAuth access token)."
    )


def _base_url(config: t.Mapping[str, t.Any]) -> str:
    region = _text(config, "region") or "us"
    if region not in REGION_URLS:
        raise SettingsError(
            f"Setting 'region' is {region!r}: use 'us' or 'eu' (or set 'api_url' for a proxy)."
        )
    api_url = _text(config, "api_url")
    if not api_url:
        return REGION_URLS[region]
    if not api_url.isprintable() or " " in api_url:
        raise SettingsError(
            "Setting 'api_url' contains a space, a line break or another control character: "
            "use a plain URL such as https://api.pagerduty.com."
        )
    parsed = urlparse(api_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SettingsError(
            f"Setting 'api_url' ({api_url!r}) is not a URL: use e.g. https://api.pagerduty.com."
        )
    return _checked_url("api_url", str(api_url)).rstrip("/")


def _checked_url(name: str, url: str) -> str:
    host = urlparse(url).hostname or ""
    if urlparse(url).scheme == "http" and not _is_loopback(host):
        raise SettingsError(
            f"Setting '{name}' uses plain http for remote host {host!r}: "
            "use https (plain http is allowed only for localhost)."
        )
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _text(config: t.Mapping[str, t.Any], name: str) -> str | None:
    """A setting that must be text, or None when unset or empty."""
    value = config.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        # The value itself is not shown: it may be a token.
        raise SettingsError(
            f"Setting '{name}' must be text, not {kind_of(value)}: write it as a quoted string."
        )
    return value


def _header_text(config: t.Mapping[str, t.Any], name: str) -> str | None:
    """A setting sent as an HTTP header value: printable ASCII only, never shown."""
    value = (_text(config, name) or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isprintable()):
        raise SettingsError(
            f"Setting '{name}' contains a line break, a control or a non-ASCII character, "
            "which cannot be sent in an HTTP header: set it again without that character."
        )
    return value


def _anchor_date(config: t.Mapping[str, t.Any], now: datetime) -> datetime | None:
    """`anchor_date`, or `start_date`, its usual Singer name."""
    anchor = _date(config, "anchor_date", now)
    alias = _date(config, "start_date", now)
    if anchor is not None and alias is not None and anchor != alias:
        raise SettingsError(
            f"Settings 'anchor_date' ({iso_z(anchor)}) and 'start_date' ({iso_z(alias)}) differ: "
            "'start_date' is another name for 'anchor_date', keep only one of them."
        )
    return anchor or alias


def _date(config: t.Mapping[str, t.Any], name: str, now: datetime) -> datetime | None:
    value = config.get(name)
    if value is None:
        return None
    if isinstance(value, str) and not value.strip():
        # Not the default in disguise: an empty date is a template or variable left unset.
        raise SettingsError(
            f"Setting '{name}' is empty: set an ISO 8601 date (e.g. 2024-01-01), or remove it."
        )
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = parse_time(value)
        except ValueError:
            raise SettingsError(
                f"Setting '{name}' ({value!r}) is not an ISO 8601 date: "
                "use e.g. 2024-01-01 or 2024-01-01T00:00:00Z."
            ) from None
    else:
        raise SettingsError(
            f"Setting '{name}' is {kind_of(value)} ({value!r}), not a date: "
            'write it as a quoted ISO 8601 date, e.g. "2024-01-01".'
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    parsed = parsed.astimezone(timezone.utc)
    if parsed > now:
        # Bookmarks would be written at PagerDuty's now, and everything before this date
        # skipped for good once the date is corrected.
        raise SettingsError(
            f"Setting '{name}' ({iso_z(parsed)}) is in the future (now is {iso_z(now)}): "
            "set a date in the past, or remove it."
        )
    return parsed


def _number(config: t.Mapping[str, t.Any], name: str) -> float:
    low, high, integer = BOUNDS[name]
    value = config.get(name)
    if value is None:
        return float(CONFIG_SCHEMA["properties"][name]["default"])  # the schema's default
    kind = "a whole number" if integer else "a number"
    number = _as_number(value)
    if number is None or (integer and not number.is_integer()):
        raise SettingsError(
            f"Setting '{name}' ({value!r}) must be {kind} from {low:g} to {high:g}."
        )
    if not low <= number <= high:
        raise SettingsError(f"Setting '{name}' is {value!r}: use {kind} from {low:g} to {high:g}.")
    return number

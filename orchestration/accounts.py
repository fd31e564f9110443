"""The accounts file: which PagerDuty accounts to sync, with which keys, within which budget.

```yaml
token_budget_rps: 5        # requests/s allowed per API key (PagerDuty: 960/min = 16/s)
runs_per_token: 2          # runs that may share one key at once; each gets budget / runs
accounts:
  - name: us-main
    region: us             # or api_url: https://proxy.example.com
    token_env: [PD_US_MAIN_KEY_1, PD_US_MAIN_KEY_2]
    anchor_date: "2024-01-01T00:00:00Z"
```

Only environment variable *names* are kept here: the keys themselves are read from the
environment when a run starts, and they never reach a log, a tag, a file name or an error.
"""

from __future__ import annotations

import os
import re
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

# PagerDuty allows 960 requests per minute per key.
PAGERDUTY_MAX_RPS = 16.0
DEFAULT_TOKEN_BUDGET_RPS = 5.0
DEFAULT_RUNS_PER_TOKEN = 2
# The incidents_fresh check: the newest incident change at most this old at sync time.
DEFAULT_FRESHNESS_HOURS = 24.0
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AccountsError(Exception):
    """The accounts file or the environment is wrong; the message is one line for the user."""


@dataclass(frozen=True)
class Account:
    name: str
    token_env: tuple[str, ...]
    anchor_date: str | None = None
    region: str | None = None
    api_url: str | None = None
    streams: tuple[str, ...] | None = None
    token_budget_rps: float = DEFAULT_TOKEN_BUDGET_RPS
    runs_per_token: int = DEFAULT_RUNS_PER_TOKEN
    freshness_hours: float = DEFAULT_FRESHNESS_HOURS

    @property
    def over_pagerduty_limit(self) -> bool:
        """A budget above PagerDuty's own limit only makes sense for a proxy or emulator."""
        return self.token_budget_rps > PAGERDUTY_MAX_RPS

    @property
    def run_rps(self) -> float:
        """`requests_per_second` of one run: the key's budget split between the runs that
        may share it, so that they never add up to more than the budget."""
        return self.token_budget_rps / self.runs_per_token

    def token(self, env_name: str) -> str:
        value = os.environ.get(env_name, "").strip()
        if not value:
            raise AccountsError(
                f"Account '{self.name}': environment variable {env_name} is empty or unset: "
                "export the PagerDuty API key there."
            )
        return value

    def tap_config(self, env_name: str, **extra: t.Any) -> dict[str, t.Any]:
        """The tap's config for one run with the key in `env_name`, at this run's share."""
        config: dict[str, t.Any] = {
            "api_token": self.token(env_name),
            "requests_per_second": self.run_rps,
        }
        for setting in ("region", "api_url", "anchor_date"):
            if getattr(self, setting):
                config[setting] = getattr(self, setting)
        config.update(extra)
        return config


def token_pool(env_name: str) -> str:
    """The Dagster concurrency pool (and tag value) of one key, named after its variable.

    The key itself never appears: tags and pools are visible in the UI."""
    return f"pagerduty-key-{env_name.lower().replace('_', '-')}"


def load_accounts(path: str | Path) -> dict[str, Account]:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise AccountsError(f"accounts file {path}: cannot read it ({error.strerror}).") from None
    except yaml.YAMLError as error:
        raise AccountsError(f"accounts file {path}: not valid YAML ({error}).") from None
    if not isinstance(document, dict) or not isinstance(document.get("accounts"), list):
        raise AccountsError(f"accounts file {path}: needs a top-level list 'accounts'.")
    defaults = {
        "token_budget_rps": _budget(document, "top level", DEFAULT_TOKEN_BUDGET_RPS),
        "runs_per_token": _runs(document, "top level", DEFAULT_RUNS_PER_TOKEN),
    }
    accounts: dict[str, Account] = {}
    for entry in document["accounts"]:
        account = _account(entry, defaults, path)
        if account.name in accounts:
            raise AccountsError(f"accounts file {path}: account '{account.name}' appears twice.")
        accounts[account.name] = account
    if not accounts:
        raise AccountsError(f"accounts file {path}: the 'accounts' list is empty.")
    return accounts


def _account(entry: t.Any, defaults: dict[str, t.Any], path: Path) -> Account:
    if not isinstance(entry, dict):
        raise AccountsError(f"accounts file {path}: each account must be a mapping.")
    name = str(entry.get("name") or "")
    where = f"accounts file {path}, account '{name}'"
    if not _NAME.match(name):
        raise AccountsError(f"{where}: 'name' must be 1-63 lowercase letters, digits, '-' or '_'.")
    envs = entry.get("token_env")
    envs = [envs] if isinstance(envs, str) else envs
    if not envs or not all(isinstance(e, str) and _ENV_NAME.match(e) for e in envs):
        raise AccountsError(
            f"{where}: 'token_env' must name the environment variable(s) holding its API keys."
        )
    if len(set(envs)) != len(envs):
        raise AccountsError(f"{where}: 'token_env' lists a variable twice.")
    if entry.get("region") not in (None, "us", "eu"):
        raise AccountsError(f"{where}: 'region' must be 'us' or 'eu' (or set 'api_url').")
    anchor = entry.get("anchor_date")
    if anchor is not None:
        anchor = _iso_date(anchor, where)
    streams = entry.get("streams")
    if streams is not None and not (
        isinstance(streams, list) and all(isinstance(s, str) for s in streams)
    ):
        raise AccountsError(f"{where}: 'streams' must be a list of stream names.")
    return Account(
        name=name,
        token_env=tuple(envs),
        anchor_date=anchor,
        region=entry.get("region"),
        api_url=entry.get("api_url"),
        streams=tuple(streams) if streams is not None else None,
        token_budget_rps=_budget(entry, where, defaults["token_budget_rps"]),
        runs_per_token=_runs(entry, where, defaults["runs_per_token"]),
        freshness_hours=_freshness(entry, where),
    )


def _budget(entry: dict, where: str, default: float) -> float:
    value = entry.get("token_budget_rps", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise AccountsError(f"{where}: 'token_budget_rps' must be a positive number.")
    return float(value)


def _freshness(entry: dict, where: str) -> float:
    value = entry.get("freshness_hours", DEFAULT_FRESHNESS_HOURS)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise AccountsError(f"{where}: 'freshness_hours' must be a positive number of hours.")
    return float(value)


def _runs(entry: dict, where: str, default: int) -> int:
    value = entry.get("runs_per_token", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
        raise AccountsError(f"{where}: 'runs_per_token' must be a whole number from 1 to 16.")
    return value


def _iso_date(value: t.Any, where: str) -> str:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise AccountsError(
                f"{where}: 'anchor_date' ({value!r}) is not an ISO 8601 date, "
                "e.g. 2024-01-01T00:00:00Z."
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

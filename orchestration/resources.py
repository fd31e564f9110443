"""The tap as a Dagster resource: one per account, configured from the accounts file.

The keys stay in the environment: the resource holds the *names* of the variables
(`token_env`) and reads them when a run starts, so they never reach Dagster's run config, the
UI, a log or a file name. Each run gets `token_budget_rps / runs_per_token` as the tap's
`requests_per_second`; Dagster's pools and tag limits keep at most `runs_per_token` runs on
one key at once (see `raw_assets.py`).
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from dagster import ConfigurableResource, Failure

from orchestration.accounts import Account, AccountsError
from orchestration.tap_run import TapRunFailed, TapRunResult, run_tap


class PagerDutyTap(ConfigurableResource):
    """tap-pagerduty for one PagerDuty account."""

    account: str
    token_env: list[str]
    api_url: str | None = None
    region: str | None = None
    anchor_date: str | None = None
    streams: list[str] | None = None
    token_budget_rps: float = 5.0
    runs_per_token: int = 2
    freshness_hours: float = 24.0

    @classmethod
    def for_account(cls, account: Account) -> PagerDutyTap:
        return cls(
            account=account.name,
            token_env=list(account.token_env),
            api_url=account.api_url,
            region=account.region,
            anchor_date=account.anchor_date,
            streams=list(account.streams) if account.streams is not None else None,
            token_budget_rps=account.token_budget_rps,
            runs_per_token=account.runs_per_token,
            freshness_hours=account.freshness_hours,
        )

    def as_account(self) -> Account:
        return Account(
            name=self.account,
            token_env=tuple(self.token_env),
            anchor_date=self.anchor_date,
            region=self.region,
            api_url=self.api_url,
            streams=tuple(self.streams) if self.streams is not None else None,
            token_budget_rps=self.token_budget_rps,
            runs_per_token=self.runs_per_token,
            freshness_hours=self.freshness_hours,
        )

    def config(self, env_name: str, **extra: t.Any) -> dict[str, t.Any]:
        """The tap's config for one run with the key in `env_name`; a missing key is a
        one-line Failure."""
        try:
            return self.as_account().tap_config(env_name, **extra)
        except AccountsError as error:
            raise Failure(str(error)) from None

    def run(
        self,
        config: dict[str, t.Any],
        *,
        state_path: Path,
        output_dir: Path,
        unit: str,
        catalog: dict[str, t.Any] | None,
        log: t.Callable[[str], None],
    ) -> TapRunResult:
        """One tap run, resuming from `state_path`; a failed run is a Failure that the op's
        RetryPolicy retries (the retry resumes from the last STATE)."""
        try:
            return run_tap(
                config,
                state_path=state_path,
                output_dir=output_dir,
                unit=unit,
                catalog=catalog,
                log=log,
            )
        except TapRunFailed as error:
            raise Failure(str(error)) from None

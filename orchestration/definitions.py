"""Dagster definitions: per account, the PagerDuty streams as assets, the dbt models of
analytics/ and the HTML report downstream of them, asset checks, an hourly schedule and a
backfill job.

Load with `make dagster` (the UI on 127.0.0.1 with the example accounts on two emulators) or
`dagster dev -w orchestration/workspace.yaml` from the UI's own venv; see
docs/orchestration.md. Paths come from the
environment: PAGERDUTY_ACCOUNTS_FILE (default orchestration/accounts.example.yaml),
PAGERDUTY_STATE_DIR (default .dagster-pagerduty/state), PAGERDUTY_OUTPUT_DIR (default
output/accounts), PAGERDUTY_WAREHOUSE_DIR (default output/warehouse), PAGERDUTY_REPORTS_DIR
(default output/reports) and PAGERDUTY_WAREHOUSE_URL (unset: a DuckDB file per account in
PAGERDUTY_WAREHOUSE_DIR; `postgresql://user:password@host:port/database`: that database, schemas
`<a>_pagerduty` and `<a>_analytics` per account).

Per account `<a>` (its name with `_` for `-`):

* assets `<a>/pagerduty/<stream>` (raw_assets.py), `<a>/<dbt model>` (analytics.py, dbt
  tests as checks), `<a>/report`; checks `rows_loaded` and `incidents_fresh` (checks.py);
* `pagerduty_hourly_<a>`: the asset job of all of them, scheduled every hour (incremental);
* `pagerduty_backfill_<a>`: the raw assets in backfill mode (time slices over the keys, in
  parallel within each key's budget, then the hand-over to the incremental state).

Runs of one account never overlap (tag `pagerduty/account`, limited to 1 per value in
orchestration/dagster.yaml): the hand-over writes the state the hourly sync reads.
"""

from __future__ import annotations

import os

from dagster import (
    AssetSelection,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
    definitions,
    multiprocess_executor,
)

from orchestration.accounts import Account, load_accounts
from orchestration.checks import build_checks
from orchestration.raw_assets import (
    ACCOUNT_TAG,
    KEY_TAG,
    RETRY_DELAY_SECONDS,
    ROOT,
    Paths,
    account_key,
    account_streams,
    build_raw_assets,
    resource_key,
)
from orchestration.resources import PagerDutyTap

WAREHOUSE_URL_ENV = "PAGERDUTY_WAREHOUSE_URL"


def paths_from_env() -> Paths:
    output = ROOT / "output"
    return Paths(
        accounts_file=os.environ.get(
            "PAGERDUTY_ACCOUNTS_FILE", str(ROOT / "orchestration" / "accounts.example.yaml")
        ),
        state_dir=os.environ.get("PAGERDUTY_STATE_DIR", str(ROOT / ".dagster-pagerduty" / "state")),
        output_dir=os.environ.get("PAGERDUTY_OUTPUT_DIR", str(output / "accounts")),
        warehouse_dir=os.environ.get("PAGERDUTY_WAREHOUSE_DIR", str(output / "warehouse")),
        reports_dir=os.environ.get("PAGERDUTY_REPORTS_DIR", str(output / "reports")),
        warehouse_url=os.environ.get(WAREHOUSE_URL_ENV) or None,
    )


# Steps start as forks of a server that has already imported Dagster, the tap and this
# package (the definitions themselves load on demand, see `defs`), and the instance's storage:
# each step opens the instance first, and importing its SQLite storage (SQLAlchemy, Alembic)
# costs a step 2 s of CPU, 10 s when the four slices of a backfill start at once on 2 cores.
# A module missing from a later Dagster release is skipped by the fork server.
STEP_PRELOAD = [__name__, "dagster._core.storage.sqlite_storage"]


def executor_for(account: Account):
    """Steps in parallel, at most `runs_per_token` at once on one key (tag limits)."""
    return multiprocess_executor.configured(
        {
            "max_concurrent": len(account.token_env) * account.runs_per_token,
            "start_method": {"forkserver": {"preload_modules": STEP_PRELOAD}},
            "tag_concurrency_limits": [
                {
                    "key": KEY_TAG,
                    "value": {"applyLimitPerUniqueValue": True},
                    "limit": account.runs_per_token,
                }
            ],
        }
    )


def backfill_config(account: Account, **plan: object) -> dict:
    """Run config of the backfill job: the plan step in backfill mode, with `plan` settings
    (anchor_date, end_date, partitions, hand_over)."""
    graph, step = f"{account_key(account.name)}__pagerduty", f"{account_key(account.name)}__plan"
    return {"ops": {graph: {"ops": {step: {"config": {"mode": "backfill", **plan}}}}}}


def build_definitions(
    paths: Paths, retry_delay: float = RETRY_DELAY_SECONDS, analytics: bool = True
) -> Definitions:
    """Everything for the accounts of `paths.accounts_file`; without `analytics`, the raw
    assets and their checks only (what a backfill needs)."""
    accounts = load_accounts(paths.accounts_file)
    assets: list = []
    checks: list = []
    jobs: list = []
    schedules: list = []
    resources: dict = {}
    manifest = None
    if analytics:
        from orchestration.analytics import dbt_manifest, dbt_resource

        manifest = dbt_manifest(ROOT / ".dagster-pagerduty" / "dbt-manifest")
        resources["dbt"] = dbt_resource()
    for account in accounts.values():
        paths.warehouse_for(account.name)  # a warehouse setting that cannot work: one line
        streams = account_streams(account)
        raw = build_raw_assets(account, paths, retry_delay)
        assets.append(raw)
        checks.append(build_checks(account, paths, streams))
        resources[resource_key(account.name)] = PagerDutyTap.for_account(account)
        if manifest is not None:
            from orchestration.analytics import build_dbt_assets, build_report_asset

            assets += [build_dbt_assets(account, paths, manifest)]
            assets += [build_report_asset(account, paths)]
        name = account_key(account.name)
        tags = {ACCOUNT_TAG: account.name}
        hourly = define_asset_job(
            f"pagerduty_hourly_{name}",
            selection=AssetSelection.assets(raw).downstream(),
            tags=tags,
            executor_def=executor_for(account),
            description=f"Incremental sync of '{account.name}', then dbt and the report.",
        )
        jobs += [
            hourly,
            define_asset_job(
                f"pagerduty_backfill_{name}",
                # Without the checks: they run with the hourly job that follows.
                selection=AssetSelection.assets(raw).without_checks(),
                tags=tags,
                executor_def=executor_for(account),
                config=backfill_config(account),
                description=f"Backfill of '{account.name}' in time slices over its keys.",
            ),
        ]
        schedules.append(
            ScheduleDefinition(
                name=f"pagerduty_hourly_{name}",
                cron_schedule="0 * * * *",
                job=hourly,
                execution_timezone="UTC",
            )
        )
    return Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        schedules=schedules,
        resources=resources,
    )


def backfill_job_from_files(
    accounts_file: str,
    state_dir: str,
    output_dir: str,
    account: str,
    warehouse_dir: str,
    retry_delay: float = RETRY_DELAY_SECONDS,
):
    """The backfill job of one account, rebuilt from plain arguments: what
    `build_reconstructable_job` needs to run it on the multi-process executor."""
    # The warehouse URL from the environment, not an argument: reconstructable arguments are
    # stored with the run, and the URL holds a password.
    paths = Paths(
        accounts_file,
        state_dir,
        output_dir,
        warehouse_dir=warehouse_dir,
        warehouse_url=os.environ.get(WAREHOUSE_URL_ENV) or None,
    )
    defs = build_definitions(paths, retry_delay, analytics=False)
    return defs.resolve_job_def(f"pagerduty_backfill_{account_key(account)}")


@definitions
def defs() -> Definitions:
    """Loaded by Dagster on demand, not on import (the backfill's steps import this module)."""
    return build_definitions(paths_from_env())

"""Asset checks of the raw PagerDuty assets of one account (dbt's tests are checks too, made
by dagster-dbt from the project's tests).

* `rows_loaded` (each stream): every distinct record the tap wrote in the run is a row loaded
  into the warehouse, and the tap reported no more records than its output holds.
* `incidents_fresh`: the newest `updated_at` in the account's incidents table is not later
  than PagerDuty's clock at sync time, and at most `freshness_hours` before it (an account
  with no incident change for that long fails it: a stuck sync looks the same).
"""

import typing as t
from datetime import timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    multi_asset_check,
)

from orchestration.accounts import Account
from orchestration.backfill import parse
from orchestration.raw_assets import Paths, account_key, raw_key


def build_checks(account: Account, paths: Paths, streams: list[str]):
    specs = [
        AssetCheckSpec(
            "rows_loaded",
            asset=raw_key(account.name, stream),
            description="Every distinct record the tap wrote in the run is a loaded row.",
        )
        for stream in streams
    ]
    if "incidents" in streams:
        specs.append(
            AssetCheckSpec(
                "incidents_fresh",
                asset=raw_key(account.name, "incidents"),
                description="Newest incident change versus PagerDuty's clock at sync time.",
            )
        )

    @multi_asset_check(specs=specs, name=f"{account_key(account.name)}__pagerduty_checks")
    def pagerduty_checks(context: AssetCheckExecutionContext) -> t.Iterator[AssetCheckResult]:
        for stream in streams:
            yield _rows_loaded(context, account, stream)
        if "incidents" in streams:
            yield _incidents_fresh(context, account, paths)

    return pagerduty_checks


def _latest_metadata(context: AssetCheckExecutionContext, key) -> dict[str, t.Any]:
    event = context.instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event else None
    if materialization is None:
        return {}
    return {name: value.value for name, value in materialization.metadata.items()}


def _rows_loaded(context, account: Account, stream: str) -> AssetCheckResult:
    key = raw_key(account.name, stream)
    seen = _latest_metadata(context, key)
    distinct = int(seen.get("distinct_records", -1))
    loaded = int(seen.get("rows_loaded", -2))
    reported = int(seen.get("records_reported", 0))
    written = int(seen.get("records_written", 0))
    return AssetCheckResult(
        check_name="rows_loaded",
        asset_key=key,
        passed=bool(seen) and distinct == loaded and reported <= written,
        metadata={
            "records_reported": reported,
            "records_written": written,
            "distinct_records": distinct,
            "rows_loaded": loaded,
        },
    )


def _incidents_fresh(context, account: Account, paths: Paths) -> AssetCheckResult:
    key = raw_key(account.name, "incidents")
    clock = _latest_metadata(context, key).get("pagerduty_clock")
    newest = paths.warehouse_for(account.name).newest_value("incidents", "updated_at")
    limit = timedelta(hours=account.freshness_hours)
    passed = False
    lag_hours = None
    if clock and newest:
        lag = parse(clock) - parse(newest)
        lag_hours = round(lag.total_seconds() / 3600, 2)
        passed = timedelta(0) <= lag <= limit
    return AssetCheckResult(
        check_name="incidents_fresh",
        asset_key=key,
        passed=passed,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "pagerduty_clock": str(clock),
            "newest_updated_at": str(newest),
            "lag_hours": lag_hours if lag_hours is not None else -1.0,
            "freshness_hours": account.freshness_hours,
        },
    )

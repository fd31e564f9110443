"""Downstream of the raw PagerDuty assets: the dbt project (analytics/) and the HTML report.

dbt runs from its own venv (`.venv-dbt`, made by `make venv`: dbt-core's pins clash with the
project's dev tools). dagster-dbt does not need dbt-core in Dagster's process: it runs the
`dbt` executable it is given (`DbtCliResource(dbt_executable=...)`) and reads the manifest and
the structured logs that executable writes. So Dagster and the code location stay in `.venv`
and only the dbt subprocess uses `.venv-dbt`.

Per account, the dbt models are assets `<account>/<model>` (their tests are asset checks),
downstream of `<account>/pagerduty/<stream>` (the dbt sources), built on the account's own
warehouse (`warehouse.py` loads it): a DuckDB file by default, schemas of a PostgreSQL database
when `PAGERDUTY_WAREHOUSE_URL` is set. The report `<account>/report` reads the marts.
"""

import contextlib
import json
import os
import subprocess
import typing as t
from collections.abc import Iterator, Mapping
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, asset
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.accounts import Account
from orchestration.raw_assets import Paths, account_key, raw_key
from scripts.dbt_build import ANALYTICS, DBT, dbt_env
from scripts.report import REPORT_MARTS


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=str(ANALYTICS), profiles_dir=str(ANALYTICS), dbt_executable=str(DBT)
    )


def dbt_manifest(target_dir: Path) -> Path:
    """analytics/'s manifest, parsed by `dbt parse` when missing or older than the project."""
    manifest = target_dir / "manifest.json"
    sources = [p for p in ANALYTICS.rglob("*") if p.suffix in (".sql", ".yml") and p.is_file()]
    newest = max(p.stat().st_mtime for p in sources)
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return manifest
    target_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            str(DBT),
            "parse",
            "--project-dir",
            str(ANALYTICS),
            "--profiles-dir",
            str(ANALYTICS),
            "--target-path",
            str(target_dir),
            "--log-path",
            str(target_dir / "logs"),
            "--quiet",
        ],
        cwd=ANALYTICS,
        env=dbt_env("duckdb"),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"dbt parse of {ANALYTICS} failed ({DBT}): {tail[0]}")
    return manifest


class AccountTranslator(DagsterDbtTranslator):
    """dbt nodes of one account: models `<account>/<model>`, sources the raw assets."""

    def __init__(self, account: str) -> None:
        super().__init__()
        self.account = account

    def get_asset_spec(self, manifest: Mapping[str, t.Any], unique_id: str, project) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec.replace_attributes(key=raw_key(self.account, props["name"]))
        return spec.replace_attributes(
            key=AssetKey([account_key(self.account), props["name"]]),
            group_name=account_key(self.account),
        )


@contextlib.contextmanager
def account_warehouse(paths: Paths, account: str) -> Iterator[None]:
    """dbt's profile reads its warehouse from the environment: the account's, for one call."""
    settings = paths.warehouse_for(account).dbt_settings()
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_dbt_assets(account: Account, paths: Paths, manifest: Path):
    project = DbtProject(project_dir=ANALYTICS, profiles_dir=ANALYTICS)

    @dbt_assets(
        manifest=manifest,
        project=project,
        name=f"{account_key(account.name)}__dbt",
        dagster_dbt_translator=AccountTranslator(account.name),
    )
    def models(context: AssetExecutionContext, dbt: DbtCliResource):
        args = ["build", "--threads", "4"]
        variables = paths.warehouse_for(account.name).dbt_vars()
        if variables:
            args += ["--vars", json.dumps(variables)]
        with account_warehouse(paths, account.name):
            # Threads: the profile's one thread leaves the second core idle between queries.
            yield from dbt.cli(args, context=context).stream()

    return models


def build_report_asset(account: Account, paths: Paths):
    prefix = account_key(account.name)

    @asset(
        key=AssetKey([prefix, "report"]),
        deps=[AssetKey([prefix, mart]) for mart in REPORT_MARTS],
        group_name=prefix,
        kinds={"html"},
        description=f"The HTML incident report of account '{account.name}', from its marts.",
    )
    def report() -> MaterializeResult:
        out = Path(paths.reports_dir) / f"{account.name}.html"
        paths.warehouse_for(account.name).write_report(out, subtitle=account.name)
        return MaterializeResult(metadata={"path": str(out), "bytes": out.stat().st_size})

    return report

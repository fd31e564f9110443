"""Run the dbt project in analytics/ (`dbt build`: models and their tests) on DuckDB or Postgres.

Used by `make demo` and the tests. dbt's own files (compiled SQL, logs) go to `work`, so a run
leaves the checkout untouched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANALYTICS = ROOT / "analytics"
# `make venv` puts dbt in its own venv (see the `dbt` extra in pyproject.toml); without it,
# the dbt on PATH.
DBT_VENV_BIN = ROOT / ".venv-dbt" / "bin"
DBT = DBT_VENV_BIN / "dbt"
if not DBT.exists():
    DBT = Path(shutil.which("dbt") or DBT)
# `Done. PASS=131 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=156`
DONE = re.compile(r"Done\. (?P<counts>(?:[A-Z-]+=\d+\s*)+)")


@dataclass
class DbtResult:
    returncode: int
    output: str
    log: Path

    @property
    def counts(self) -> dict[str, int]:
        match = DONE.search(self.output)
        if not match:
            return {}
        return {k: int(v) for k, v in (p.split("=") for p in match["counts"].split())}

    @property
    def summary(self) -> str:
        counts = self.counts
        if not counts:
            return f"dbt exited {self.returncode} (see {self.log})"
        return ", ".join(f"{n} {k.lower()}" for k, n in counts.items() if n or k == "PASS")


def dbt_env(target: str, **settings: str) -> dict[str, str]:
    """The environment for analytics/profiles.yml: DBT_TARGET plus its DBT_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env["PATH"] = f"{DBT.parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("VIRTUAL_ENV", None)  # dbt's venv, not the caller's
    env["DBT_TARGET"] = target
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env.update(settings)
    return env


def duckdb_env(path: Path) -> dict[str, str]:
    return dbt_env("duckdb", DBT_DUCKDB_PATH=str(path))


def dbt_build(
    env: dict[str, str], work: Path, variables: dict | None = None, timeout: float = 600
) -> DbtResult:
    """`dbt build` of analytics/ with `env` (see dbt_env); output kept in work/dbt-build.log."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / "dbt-build.log"
    command = [
        str(DBT),
        "build",
        "--project-dir",
        str(ANALYTICS),
        "--profiles-dir",
        str(ANALYTICS),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--no-use-colors",
    ]
    if variables:
        command += ["--vars", json.dumps(variables)]
    done = subprocess.run(
        command,
        cwd=ANALYTICS,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    log.write_text(output, encoding="utf-8")
    return DbtResult(done.returncode, output, log)

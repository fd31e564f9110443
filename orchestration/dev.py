"""`make dagster`: the Dagster UI on 127.0.0.1 with the example accounts on two emulators.

Starts two PagerDuty emulators on the ports of orchestration/accounts.example.yaml, exports
the variables its `token_env` names, and runs `dagster dev` from `.venv-dagster-ui` (the UI's
own venv: dagster-webserver depends on `backoff`, which would shadow the tap's python-backoff
in `.venv`). The UI loads the code location from `.venv` (orchestration/workspace.yaml).
Everything stops with Ctrl-C. `DAGSTER_HOME` is `.dagster-pagerduty` (instance settings from
orchestration/dagster.yaml); outputs, warehouses and reports go to `output/`.

    .venv/bin/python -m orchestration.dev [--port 3000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI = ROOT / ".venv-dagster-ui" / "bin" / "dagster"
HOME = ROOT / ".dagster-pagerduty"
# The example accounts (orchestration/accounts.example.yaml): port, emulator options, keys.
EMULATORS = (
    (8765, ["--seed", "1"], {"PD_US_KEY_1": "key-us-1", "PD_US_KEY_2": "key-us-2"}),
    (8766, ["--seed", "2"], {"PD_EU_KEY": "key-eu"}),
)
HISTORY = ["--incidents", "400", "--days", "365"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.dev", description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="the UI's port (default 3000)")
    options = parser.parse_args(argv)
    if not UI.exists():
        print(f"make dagster: {UI} is missing: run `make dagster` (it builds that venv)")
        return 2
    # Ctrl-C and a plain `kill` both stop everything; the children get Ctrl-C as usual even
    # when this was started in the background (which would have them ignore it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    HOME.mkdir(exist_ok=True)
    shutil.copy(ROOT / "orchestration" / "dagster.yaml", HOME / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(HOME)}
    children: list[subprocess.Popen[t.Any]] = []
    try:
        for port, extra, keys in EMULATORS:
            tokens = [arg for key in keys.values() for arg in ("--token", key)]
            command = [sys.executable, "-m", "pagerduty_emulator", "--port", str(port)]
            children.append(subprocess.Popen([*command, *extra, *HISTORY, *tokens], cwd=ROOT))
            env.update(keys)
        print(f"==> Dagster UI on http://127.0.0.1:{options.port} (Ctrl-C stops everything)")
        ui = [str(UI), "dev", "-w", "orchestration/workspace.yaml", "-h", "127.0.0.1"]
        dagster = subprocess.Popen([*ui, "-p", str(options.port)], cwd=ROOT, env=env)
        children.append(dagster)
        return dagster.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(children)


def _interrupt(signum: int, frame: t.Any) -> None:
    raise KeyboardInterrupt


def _stop(children: list[subprocess.Popen[t.Any]]) -> None:
    """Ctrl-C to each (dagster dev stops its webserver, daemon and code server), then kill
    what is still there after 30 s."""
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    for child in reversed(children):
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":
    sys.exit(main())

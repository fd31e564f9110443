"""`python -m tap_pagerduty ARGS` in a child process, started warm.

Each start of the tap spends about 1.5 s of CPU importing the Singer SDK before it reads its
first argument, and the tests start it more than a hundred times. Here a fork server (the
`forkserver` of multiprocessing, one per test process, itself single-threaded) imports the
tap once; every run is a new process forked from it, with its own pid, exit code, signals,
working directory, environment and standard output and error (files, read back after it
ends). What the child runs is exactly what `python -m tap_pagerduty` runs: `cli.main` on the
arguments. Tests of the installed executable itself (tests/test_packaging.py) still start a
fresh interpreter.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_FORKS = multiprocessing.get_context("forkserver")
_FORKS.set_forkserver_preload(["tap_pagerduty.cli"])


def _main(
    args: list[str],
    cwd: str,
    env: dict[str, str],
    stdout: str,
    stderr: str,
    entry: Callable[[list[str]], None] | None = None,
) -> None:
    """The child: the tap's command line (or `entry`, a module-level function that calls it
    its own way) with its own cwd, environment and output files."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, stdout), (2, stderr)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(handle, fd)
        os.close(handle)
    sys.argv = ["tap-pagerduty", *args]
    from tap_pagerduty.cli import main

    try:
        # Exits with the tap's code (multiprocessing turns SystemExit into it).
        (entry or main)(args)
    finally:
        # A forked child ends with os._exit, which skips what an interpreter's exit runs: the
        # tap's output flush is registered with atexit. CPython's own function runs them.
        atexit._run_exitfuncs()


class TapProcess:
    """A running tap, with the part of `subprocess.Popen` the tests use."""

    def __init__(
        self,
        args: Sequence[str],
        stdout: Path,
        stderr: Path,
        cwd: Path = ROOT,
        env: Mapping[str, str] | None = None,
        entry: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.args = list(args)
        environment = dict(os.environ if env is None else env)
        self._process = _FORKS.Process(
            target=_main,
            args=(self.args, str(cwd), environment, str(stdout), str(stderr), entry),
        )
        self._process.start()
        self.pid = self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        if self._process.exitcode is None and self.pid is not None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def run_cli(
    args: Sequence[str],
    *,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    entry: Callable[[list[str]], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the tap's command line to its end: like `subprocess.run([sys.executable, "-m",
    "tap_pagerduty", *args], capture_output=True, text=True, timeout=timeout)`. `entry`, a
    module-level function (the child imports it by name), runs instead of the command line."""
    with tempfile.TemporaryDirectory(prefix="tap-cli-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        process = TapProcess(args, out, err, cwd=cwd, env=env, entry=entry)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        return subprocess.CompletedProcess(
            list(args), code, out.read_text(errors="replace"), err.read_text(errors="replace")
        )

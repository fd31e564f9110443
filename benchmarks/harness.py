"""Run the real tap process against the emulator (also a real process) and measure it.

Every run here is bounded: the emulator must print its address within a deadline, every tap
run has a wall-clock timeout after which it is killed, and every admin call has a socket
timeout. Peak RSS and CPU of the tap come from `os.wait4` (the tap's own rusage: it starts
no processes), CPU of the emulator from /proc/<pid>/stat before and after the run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "emulator-token"
NOW = "2026-11-01T00:00:00Z"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# This machine's environment sets PYTHONDONTWRITEBYTECODE, so every tap start would compile
# the SDK from source (about 1 s). An installed tap has bytecode: the tap runs with a
# bytecode cache kept outside the source tree.
PYCACHE = Path(tempfile.gettempdir()) / "tap-pagerduty-bench-pycache"


def tap_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a running process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class EmulatorProcess:
    """`python -m pagerduty_emulator` in its own process, so its CPU is measured apart."""

    def __init__(self, *, startup_timeout: float = 120.0, **options: Any) -> None:
        self.options = {"seed": 1, "now": NOW, "rate_limit": 0, **options}
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.banner = ""

    def __enter__(self) -> EmulatorProcess:
        args = [sys.executable, "-m", "pagerduty_emulator", "--port", str(self.port)]
        for key, value in self.options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        self.proc = subprocess.Popen(
            args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        banner: list[str] = []
        reader = threading.Thread(
            target=lambda: banner.append(self.proc.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(self.startup_timeout)
        if not banner or "listening" not in banner[0]:
            self.__exit__()
            raise RuntimeError(f"emulator did not start within {self.startup_timeout:.0f} s")
        self.banner = banner[0].strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def cpu_seconds(self) -> float:
        return _proc_cpu_seconds(self.proc.pid) if self.proc else 0.0

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_admin/{path}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def stats(self, log: bool = False) -> dict[str, Any]:
        return dict(self.admin("GET", "stats?log=1" if log else "stats"))

    def reset_stats(self) -> None:
        self.admin("POST", "reset_stats")

    def configure(self, **options: Any) -> None:
        self.admin("POST", "config", options)

    def advance(self, hours: float) -> None:
        self.admin("POST", f"advance?hours={hours}")


@dataclass
class TapRun:
    records: int = 0
    by_stream: dict[str, int] = field(default_factory=dict)
    last_state: dict[str, Any] | None = None
    wall: float = 0.0
    cpu: float = 0.0
    peak_rss_mb: float = 0.0
    returncode: int = 0
    stderr_tail: str = ""
    # from the emulator
    requests: int = 0
    by_path: dict[str, int] = field(default_factory=dict)
    peak_in_flight: int = 0
    peak_per_second: int = 0
    request_span: float = 0.0  # first to last request arrival at the emulator
    log: list[list[Any]] = field(default_factory=list)
    emulator_cpu: float = 0.0


def catalog_for(streams: list[str]) -> dict[str, Any]:
    from tests.support.tap_runs import catalog_for as build

    catalog = build(streams)
    assert catalog is not None
    return catalog


def run_tap(
    emulator: EmulatorProcess,
    config: dict[str, Any],
    *,
    streams: list[str] | None = None,
    state: dict[str, Any] | None = None,
    timeout: float = 300.0,
    keep_log: bool = False,
    tap_root: Path = ROOT,
) -> TapRun:
    """One tap process, stdout drained to a temporary file, killed after `timeout` s.
    `tap_root`: the source tree whose `tap_pagerduty` runs (another version's, to compare)."""
    emulator.reset_stats()
    with tempfile.TemporaryDirectory(prefix="tap-bench-") as tmp:
        tmpdir = Path(tmp)
        config_path = tmpdir / "config.json"
        config_path.write_text(json.dumps({"api_token": TOKEN, "api_url": emulator.url, **config}))
        args = [sys.executable, "-m", "tap_pagerduty", "--config", str(config_path)]
        if streams is not None:
            (tmpdir / "catalog.json").write_text(json.dumps(catalog_for(streams)))
            args += ["--catalog", str(tmpdir / "catalog.json")]
        if state is not None:
            (tmpdir / "state.json").write_text(json.dumps(state))
            args += ["--state", str(tmpdir / "state.json")]
        out_path = tmpdir / "out.jsonl"
        err_path = tmpdir / "err.log"
        emu_cpu0 = emulator.cpu_seconds()
        start = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            # Stdout is a pipe, as when a target reads it; a thread drains it to a file.
            proc = subprocess.Popen(
                args, cwd=tap_root, stdout=subprocess.PIPE, stderr=err, env=tap_env()
            )
            pipe = proc.stdout
            assert isinstance(pipe, io.BufferedReader)  # read1: what the pipe has, at once

            def drain() -> None:
                while chunk := pipe.read1(1 << 20):
                    out.write(chunk)

            drainer = threading.Thread(target=drain, daemon=True)
            drainer.start()
            killer = threading.Timer(timeout, _kill, (proc.pid,))
            killer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                killer.cancel()
            wall = time.monotonic() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            drainer.join(60)
        emu_cpu = emulator.cpu_seconds() - emu_cpu0
        run = TapRun(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: kilobytes
            returncode=proc.returncode,
            emulator_cpu=emu_cpu,
        )
        run.stderr_tail = "\n".join(err_path.read_text(errors="replace").splitlines()[-5:])
        with open(out_path, "rb") as fh:
            for line in fh:
                if line.startswith(b'{"type":"RECORD"'):
                    run.records += 1
                    stream = line[27 : line.index(b'"', 27)].decode()
                    run.by_stream[stream] = run.by_stream.get(stream, 0) + 1
                elif line.startswith(b'{"type":"STATE"'):
                    run.last_state = json.loads(line)["value"]
    if run.returncode != 0:
        raise RuntimeError(f"tap exited with {run.returncode}:\n{run.stderr_tail}")
    stats = emulator.stats(log=True)
    run.requests = int(stats["requests"])
    run.by_path = {path: sum(codes.values()) for path, codes in stats["by_path"].items()}
    run.peak_in_flight = int(stats["peak_in_flight"])
    run.peak_per_second = int(stats["peak_per_second"])
    log = stats.get("log") or []
    if len(log) >= 2:
        arrivals = [float(entry[0]) for entry in log]
        run.request_span = max(arrivals) - min(arrivals)
    if keep_log:
        run.log = log
    return run


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": model or "unknown",
        "python": sys.version.split()[0],
    }

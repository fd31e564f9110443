"""One run of the tap CLI: config and state in, records to a JSONL sink, last STATE kept.

`tap-pagerduty --config C [--state S] [--catalog K]` writes Singer messages on stdout. SCHEMA
and RECORD lines go to a new JSONL file (one per attempt); every STATE line replaces the state
file, after the records before it are flushed. So a run killed at any point leaves a state
file that a retry resumes from, and records the retry writes again are deduplicated by key
when the outputs are read (`sink.read_outputs`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.sink import new_output_file

# The tap installed next to this interpreter (the orchestration runs where the tap is).
DEFAULT_TAP_COMMAND = (sys.executable, "-m", "tap_pagerduty")
STDERR_TAIL_LINES = 20


class TapRunFailed(Exception):
    """The tap exited non-zero; the message carries the end of its stderr."""


@dataclass
class TapRunResult:
    output_file: Path
    state: dict[str, t.Any] | None
    records: dict[str, int] = field(default_factory=dict)
    resumed: bool = False
    seconds: float = 0.0


def read_state(path: Path) -> dict[str, t.Any] | None:
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_json_atomically(path: Path, value: t.Any) -> None:
    """Write to a temporary file and rename it: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(value, out)
    os.replace(temporary, path)


def run_tap(
    config: dict[str, t.Any],
    *,
    state_path: Path,
    output_dir: Path,
    unit: str,
    catalog: dict[str, t.Any] | None = None,
    tap_command: t.Sequence[str] = DEFAULT_TAP_COMMAND,
    log: t.Callable[[str], None] = lambda line: None,
) -> TapRunResult:
    """Run the tap once, resuming from `state_path` when it exists."""
    started = time.monotonic()
    state = read_state(state_path)
    output_file = new_output_file(output_dir, unit)
    secret = str(config.get("api_token") or "")
    with tempfile.TemporaryDirectory(prefix="tap-pagerduty-run-") as scratch:
        args = [*tap_command, "--config", _private_json(Path(scratch) / "config.json", config)]
        if state is not None:
            args += ["--state", _private_json(Path(scratch) / "state.json", state)]
        if catalog is not None:
            args += ["--catalog", _private_json(Path(scratch) / "catalog.json", catalog)]
        log(f"{unit}: starting the tap ({'resuming from its last STATE' if state else 'no state'})")
        result = _pump(args, state_path, output_file, Path(scratch) / "stderr.log", secret)
    result.resumed = state is not None
    result.seconds = time.monotonic() - started
    if result.state is None:
        result.state = state
    log(f"{unit}: done in {result.seconds:.1f} s, records {result.records}")
    return result


def _pump(
    args: list[str], state_path: Path, output_file: Path, stderr_path: Path, secret: str
) -> TapRunResult:
    result = TapRunResult(output_file=output_file, state=None)
    pid_path = state_path.with_name(state_path.name + ".pid")
    with (
        stderr_path.open("w+", encoding="utf-8") as stderr,
        output_file.open("w", encoding="utf-8") as sink,
    ):
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=stderr, text=True, encoding="utf-8"
        )
        # Who runs this unit now: lets an operator (or a fault drill) find the tap process.
        pid_path.parent.mkdir(parents=True, exist_ok=True)
        pid_path.write_text(str(process.pid))
        try:
            assert process.stdout is not None
            for line in process.stdout:
                kind = _message_type(line)
                if kind in ("RECORD", "SCHEMA"):
                    sink.write(line)
                    if kind == "RECORD":
                        stream = json.loads(line)["stream"]
                        result.records[stream] = result.records.get(stream, 0) + 1
                elif kind == "STATE":
                    sink.flush()
                    os.fsync(sink.fileno())
                    result.state = json.loads(line)["value"]
                    write_json_atomically(state_path, result.state)
            code = process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            pid_path.unlink(missing_ok=True)
        if code != 0:
            stderr.seek(0)
            tail = stderr.read().splitlines()[-STDERR_TAIL_LINES:]
            text = "\n".join(tail).replace(secret, "***") if secret else "\n".join(tail)
            raise TapRunFailed(f"the tap exited with code {code}; its last lines:\n{text}")
    return result


def _message_type(line: str) -> str | None:
    # The type is the first key the SDK writes; fall back to parsing for other writers.
    if line.startswith('{"type":"'):
        return line[9 : line.index('"', 9)]
    if not line.strip():
        return None
    return json.loads(line).get("type")


def _private_json(path: Path, value: t.Any) -> str:
    """A file only this user can read: the config holds the API key."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(value, out)
    return str(path)


def discover_catalog(config: dict[str, t.Any]) -> dict[str, t.Any]:
    """The tap's catalog, as `--discover` prints it (discovery sends no request). In-process:
    this package runs where the tap is installed, and a subprocess costs a second or two."""
    from tap_pagerduty.tap import TapPagerDuty

    tap = TapPagerDuty(config=config, parse_env_config=False, validate_config=False)
    return json.loads(json.dumps(tap.catalog_dict))


def select_streams(catalog: dict[str, t.Any], streams: t.Collection[str]) -> dict[str, t.Any]:
    """A copy of `catalog` with exactly `streams` selected."""
    known = {entry["tap_stream_id"] for entry in catalog["streams"]}
    unknown = sorted(set(streams) - known)
    if unknown:
        raise TapRunFailed(
            f"unknown stream(s) {', '.join(unknown)}: choose from {', '.join(sorted(known))}."
        )
    selected = json.loads(json.dumps(catalog))
    for entry in selected["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return selected

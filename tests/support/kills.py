"""Run the tap as a process and SIGKILL it at a point of the sync, never after some seconds.

The tap talks to the emulator through a `Gate`: an HTTP relay on 127.0.0.1 that forwards the
first `allow` requests of a run and holds every later one. Once a request is held the tap
cannot get further, so the kill lands after exactly `allow` requests reached the emulator (and,
when asked, after the tap wrote a given STATE), on an idle or a loaded machine alike.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.cli import TapProcess
from tests.support.tap_runs import SyncOutput

# Guards against a hang only (a tap that neither finishes nor reaches the kill point); the
# drills never wait this long on a sound tap, however slow the machine.
HANG_SECONDS = 600
# Answered by the relay itself, never forwarded; hop-by-hop headers are the relay's own.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}

StatePredicate = Callable[[dict[str, Any]], bool]


class Gate:
    """An HTTP relay to the emulator that lets `allow` requests of a run through and holds the
    rest until `release()` (then drops them: the tap that sent them is gone)."""

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        split = urlsplit(emulator.url)
        self.upstream = (split.hostname or "127.0.0.1", split.port or 80)
        self.lock = threading.Lock()
        self.allow: int | None = None
        self.path: str | None = None
        self.forwarded = 0
        self.relaying = 0  # forwarded requests whose answer is not back yet
        self.held = threading.Event()  # a request past `allow` arrived
        self.released = threading.Event()
        self.server = _QuietServer(("127.0.0.1", 0), _relay_handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def open(self, allow: int | None, path: str | None = None) -> None:
        """A new run: forward `allow` requests (None: all), hold the ones after; with `path`,
        only requests to that path are counted and held."""
        with self.lock:
            self.allow, self.path, self.forwarded = allow, path, 0
            self.held.clear()
            self.released.clear()

    def admit(self, path: str) -> bool:
        """Whether the request arriving now is forwarded; False: it is held."""
        with self.lock:
            counted = self.path is None or urlsplit(path).path == self.path
            if counted and self.allow is not None and self.forwarded >= self.allow:
                self.held.set()
                return False
            self.forwarded += counted
            self.relaying += 1
            return True

    def answered(self) -> None:
        with self.lock:
            self.relaying -= 1

    def release(self) -> None:
        self.released.set()

    def settle(self) -> None:
        """Wait until every forwarded request is answered and counted by the emulator, so that
        its stats and log are complete for the run."""
        deadline = time.monotonic() + HANG_SECONDS
        while time.monotonic() < deadline:
            with self.lock:
                relaying = self.relaying
            if relaying == 0 and self.emulator.stats()["in_flight"] == 0:
                return
            time.sleep(0.01)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A killed tap resets its connections: expected, not worth a traceback."""


def _relay_handler(gate: Gate) -> type[BaseHTTPRequestHandler]:
    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # The answer goes out as two writes (head, then body): with Nagle's algorithm the
            # body would wait for the tap's delayed ACK, 40 ms a request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.relay()

        def do_POST(self) -> None:
            self.relay()

        def relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if not gate.admit(self.path):
                gate.released.wait(HANG_SECONDS)
                self.close_connection = True
                return
            upstream = http.client.HTTPConnection(*gate.upstream, timeout=HANG_SECONDS)
            try:
                upstream.request(self.command, self.path, body, dict(self.headers.items()))
                answer = upstream.getresponse()
                payload = answer.read()
            except (OSError, http.client.HTTPException):
                self.close_connection = True  # a fault the emulator injected: pass it on
                return
            finally:
                upstream.close()
                gate.answered()
            self.send_response_only(answer.status)  # keeps the emulator's Date header
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(payload)

    return Relay


@contextlib.contextmanager
def gate_to(emulator: Any) -> Iterator[Gate]:
    """A started Gate in front of `emulator`, stopped after."""
    gate = Gate(emulator)
    gate.thread.start()
    try:
        yield gate
    finally:
        gate.release()
        gate.server.shutdown()
        gate.server.server_close()


def run_tap(
    tmp_path: Path,
    state: dict[str, Any] | None,
    gate: Gate,
    kill_after: int | None,
    once_written: StatePredicate | None = None,
    path: str | None = None,
) -> SyncOutput:
    """Run the tap on tmp_path's config.json (whose api_url is the gate's) and catalog.json.

    kill_after=None: the run finishes. Otherwise the emulator answers `kill_after` requests
    (to `path` only, if given); the next one is held, and the tap is killed then, or, with
    `once_written`, once it has written a STATE for which that holds (which it must do before
    sending the held request).
    """
    args = ["--config", str(tmp_path / "config.json")]
    args += ["--catalog", str(tmp_path / "catalog.json")]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    out_path = tmp_path / "out.jsonl"
    gate.open(kill_after, path)
    process = TapProcess(args, out_path, tmp_path / "err.log")
    try:
        if kill_after is None:
            process.wait(timeout=HANG_SECONDS)
        elif _held(gate, process) and _written(out_path, once_written, process):
            process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        gate.release()
    gate.settle()
    output = read_output(out_path, returncode=process.wait())
    output.stderr = (tmp_path / "err.log").read_text()
    return output


def _held(gate: Gate, process: TapProcess) -> bool:
    """Wait until the gate holds a request (True) or the tap exits (False)."""
    deadline = time.monotonic() + HANG_SECONDS
    while not gate.held.wait(0.05):
        if process.poll() is not None or time.monotonic() > deadline:
            return False
    return True


def _written(out: Path, predicate: StatePredicate | None, process: TapProcess) -> bool:
    """Wait until the tap wrote a STATE for which `predicate` holds (True at once if None)."""
    if predicate is None:
        return True
    deadline = time.monotonic() + HANG_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        if any(predicate(state) for state in read_output(out).states):
            return True
        time.sleep(0.05)
    return False


def read_output(out_path: Path, returncode: int = 0) -> SyncOutput:
    """The messages written so far; a last line cut by a kill is left out."""
    lines = out_path.read_text().splitlines()
    if lines and not _is_json(lines[-1]):
        lines = lines[:-1]
    output = SyncOutput(returncode=returncode)
    output.add_lines("\n".join(lines))
    return output


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True

"""The HTTP layer: a threaded server on 127.0.0.1, the request handler, query strings,
API errors and cursors."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import typing as t
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

if t.TYPE_CHECKING:
    from .server import Emulator


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: int, errors: list | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "code": code, "errors": errors or []}}


def bad_request(text: str, code: int = 2001, message: str = "Invalid Input Provided") -> ApiError:
    return ApiError(400, message, code, [text])


def not_found() -> ApiError:
    return ApiError(404, "Not Found", 2100, [])


class Query:
    def __init__(self, qs: str) -> None:
        self.raw = qs
        self.d = parse_qs(qs, keep_blank_values=True)

    def get(self, name: str, default=None):
        v = self.d.get(name)
        return v[-1] if v else default

    def list(self, name: str) -> list[str]:
        return self.d.get(name + "[]", []) + self.d.get(name, [])

    def has(self, name: str) -> bool:
        return name in self.d


def b64(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


def unb64(s: str) -> str:
    try:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode()
    except Exception as exc:
        raise bad_request("Invalid cursor.") from exc


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, *a, **kw) -> None:
        self._conns: set = set()
        self._conns_lock = threading.Lock()
        super().__init__(*a, **kw)

    def track(self, sock, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(sock)

    def close_all(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pagerduty-emulator/1.0"
    sys_version = ""
    emulator: Emulator
    arrived_at: float = 0.0  # monotonic time the current request arrived
    date_offset = 0

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t.cast("EmulatorServer", self.server).track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            t.cast("EmulatorServer", self.server).track(self.connection, False)

    def log_message(self, format, *args) -> None:
        pass

    def date_time_string(self, timestamp=None) -> str:
        return formatdate(self.emulator.world.now + self.date_offset, usegmt=True)

    def do_GET(self) -> None:
        self.emulator.handle(self, "GET")

    def do_POST(self) -> None:
        self.emulator.handle(self, "POST")

    def do_PUT(self) -> None:
        self.emulator.handle(self, "PUT")

    def do_PATCH(self) -> None:
        self.emulator.handle(self, "PATCH")

    def do_DELETE(self) -> None:
        self.emulator.handle(self, "DELETE")

    def reply(
        self,
        status: int,
        body: bytes,
        headers: dict,
        content_type: str = "application/json",
        truncate: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        if truncate:
            self.send_header("Connection", "close")
        if not truncate:  # headers and body in one write: the standard library's buffer
            buffer: list[bytes] = self.__dict__["_headers_buffer"]
            buffer += (b"\r\n", body)
            self.flush_headers()
            return
        self.end_headers()
        if truncate:
            self.wfile.write(body[: max(1, len(body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_WR)
            return

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

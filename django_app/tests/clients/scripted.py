"""A service on a real socket that answers what the stubs cannot: any method, redirects, an
HTTP-date or unparsable Retry-After, a body cut short.

Each (method, path) answers its scripted replies in turn, the last one again once they run
out; every request is counted, so a test reads back how often the client really sent it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class ScriptedServer:
    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._replies: dict[tuple[str, str], list[Reply]] = {}
        self._hits: dict[tuple[str, str], int] = {}

    def script(self, method: str, path: str, *replies: Reply) -> None:
        with self._lock:
            self._replies[(method, path)] = list(replies)

    def hits(self, method: str, path: str) -> int:
        with self._lock:
            return self._hits.get((method, path), 0)

    def next_reply(self, method: str, path: str) -> Reply:
        with self._lock:
            key = (method, path)
            self._hits[key] = self._hits.get(key, 0) + 1
            replies = self._replies.get(key) or [Reply(404)]
            return replies.pop(0) if len(replies) > 1 else replies[0]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        reply = self.server.scripted.next_reply(self.command, self.path)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if "Content-Length" not in reply.headers:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    scripted: ScriptedServer


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.scripted = ScriptedServer(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.scripted
    finally:
        server.shutdown()
        server.server_close()

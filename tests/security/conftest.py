"""Local HTTP servers on 127.0.0.1 for the attacks: each records the requests it received, so a
test can prove that a refused source was never contacted."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import SNAPSHOT_LAUNCHES

BODY = SNAPSHOT_LAUNCHES.read_bytes()


@dataclass
class Server:
    """A server answering every GET with `redirect_to` (a 302) or the snapshot's bytes."""

    port: int = 0
    hits: list[str] = field(default_factory=list)
    redirect_to: str | None = None

    def url(self, host: str = "127.0.0.1", path: str = "/v5/launches") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def serve() -> Iterator[Callable[[], Server]]:
    """Start as many servers as a test needs; all are stopped afterwards."""
    running: list[ThreadingHTTPServer] = []

    def start() -> Server:
        server = Server()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append(self.path)
                if server.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)

            def log_message(self, *args: object) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        server.port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        running.append(httpd)
        return server

    yield start
    for httpd in running:
        httpd.shutdown()
        httpd.server_close()

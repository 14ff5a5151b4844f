"""The HTTP extractor against a real HTTP server on 127.0.0.1 that fails before it succeeds."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from spacex_etl import pipeline
from spacex_etl.config import HttpSettings, Settings
from spacex_etl.errors import ExtractError
from spacex_etl.lake import open_lake
from spacex_etl.sources import fetch
from tests.conftest import SNAPSHOT_LAUNCHES

BODY = SNAPSHOT_LAUNCHES.read_bytes()


@dataclass
class Script:
    """Responses to serve in order (the last one repeats), and what was asked."""

    responses: list[tuple[int, dict[str, str]]]
    requests: list[tuple[float, str]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script(responses=[(200, {})])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.requests.append((time.monotonic(), self.path))
            index = min(len(script.requests), len(script.responses)) - 1
            status, headers = script.responses[index]
            payload = BODY if status == 200 else b'{"error": "try later"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v5/launches", script
    finally:
        httpd.shutdown()
        httpd.server_close()


def fast_settings(tmp_path: Path, retries: int = 3) -> Settings:
    return Settings(
        data_dir=tmp_path / "spacex",
        http=HttpSettings(retries=retries, backoff_s=0.01, timeout_s=5),
    )


def test_retries_500_and_429_then_lands_the_served_bytes(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = server
    script.responses = [(500, {}), (429, {"Retry-After": "1"}), (200, {})]
    settings = fast_settings(tmp_path)

    landed = pipeline.extract(settings, date(2024, 6, 1), "run-http", url)

    assert len(script.requests) == 3
    (_, first), (t429, _), (t_ok, _) = script.requests
    assert first == "/v5/launches"
    assert t_ok - t429 >= 1.0, "Retry-After: 1 was not honoured"
    lake = open_lake(settings.lake_root)
    [launches] = landed
    assert lake.get(lake.key_of(launches.raw_uri)) == BODY
    assert launches.sha256 == "edab4295f084a23210fec03043a368ccd87d124eb55bfb7dde2212790b546d2c"
    assert launches.record_count == 205
    assert launches.source == url


def test_gives_up_after_the_retry_budget_with_a_clear_error(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = server
    script.responses = [(503, {})]
    with pytest.raises(ExtractError, match=r"answered HTTP 503 after 3 attempt\(s\)"):
        fetch(url, "launches", fast_settings(tmp_path, retries=2))
    assert len(script.requests) == 3


def test_client_errors_are_not_retried(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.responses = [(404, {})]
    with pytest.raises(ExtractError, match="HTTP 404"):
        fetch(url, "launches", fast_settings(tmp_path))
    assert len(script.requests) == 1


def test_unreachable_source_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ExtractError, match=rf"cannot reach http://127.0.0.1:{port}/v5/launches"):
        fetch(f"http://127.0.0.1:{port}/v5/launches", "launches", fast_settings(tmp_path, 1))

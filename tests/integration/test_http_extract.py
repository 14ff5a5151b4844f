"""The HTTP extractor against a real HTTP server on 127.0.0.1 that misbehaves before it succeeds:
5xx/429, Retry-After, error bodies, connections dropped mid-body, slow answers, huge bodies."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from spacex_etl import pipeline
from spacex_etl.config import HttpSettings, Settings, SourceSettings
from spacex_etl.errors import ExtractError
from spacex_etl.lake import open_lake
from spacex_etl.sources import Extracted, fetch
from tests.conftest import SNAPSHOT_LAUNCHES

BODY = SNAPSHOT_LAUNCHES.read_bytes()
MiB = 1024 * 1024


@dataclass
class Reply:
    """One scripted answer. `mode`: normal | drop (half the body, then close) | unsized (no
    Content-Length, `size` bytes streamed) | slow (sleep `delay` seconds first)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = BODY
    mode: str = "normal"
    size: int = 0
    delay: float = 0.0


@dataclass
class Script:
    """Replies to serve in order (the last one repeats), and when each request came."""

    replies: list[Reply] = field(default_factory=lambda: [Reply()])
    requests: list[float] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.requests.append(time.monotonic())
            reply = script.replies[min(len(script.requests), len(script.replies)) - 1]
            if reply.mode == "slow":
                time.sleep(reply.delay)
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.mode == "unsized":
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b" " * MiB
                for _ in range(reply.size // MiB):
                    self.wfile.write(chunk)
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.mode == "drop":
                self.wfile.write(reply.body[: len(reply.body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(reply.body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v5/launches", script
    finally:
        httpd.shutdown()
        httpd.server_close()


def fast_settings(tmp_path: Path, retries: int = 3, **http: float) -> Settings:
    """Quick retries, and the local test server allowed (http on 127.0.0.1)."""
    values = {"retries": retries, "backoff_s": 0.01, "timeout_s": 5} | http
    return Settings(
        data_dir=tmp_path / "spacex",
        http=HttpSettings(**values),
        source=SourceSettings(allowed_hosts=("127.0.0.1",), allow_http=True),
    )


def fetched(url: str, settings: Settings) -> Extracted:
    """Fetch through the real entry point, keeping the downloaded bytes' facts."""
    with fetch(url, "launches", settings, local_ok=False) as extracted:
        assert extracted.path.read_bytes() == BODY
        return extracted


def nothing_landed(settings: Settings) -> None:
    lake = open_lake(settings.lake_root)
    assert lake.list("raw/") == []
    leftovers = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers


def test_retries_500_and_429_then_lands_the_served_bytes(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = server
    script.replies = [Reply(500), Reply(429, {"Retry-After": "1"}), Reply()]
    settings = fast_settings(tmp_path)

    landed = pipeline.extract(settings, date(2024, 6, 1), "run-http", url)

    assert len(script.requests) == 3
    _, t429, t_ok = script.requests
    assert t_ok - t429 >= 1.0, "Retry-After: 1 was not honoured"
    lake = open_lake(settings.lake_root)
    [launches] = landed
    assert lake.get(lake.key_of(launches.raw_uri)) == BODY
    assert launches.sha256 == "edab4295f084a23210fec03043a368ccd87d124eb55bfb7dde2212790b546d2c"
    assert launches.record_count == 205
    assert launches.source == url
    manifest = orjson.loads(lake.get(lake.key_of(launches.manifest_uri)))
    assert manifest["http_attempts"] == 3


def test_retry_after_is_capped_at_the_longest_backoff(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = server
    script.replies = [Reply(503, {"Retry-After": "3600"}), Reply()]
    extracted = fetched(url, fast_settings(tmp_path, backoff_max_s=0.2))
    assert extracted.attempts == 2
    assert script.requests[1] - script.requests[0] < 60, "waited for Retry-After: 3600"


FAILURES = {
    "5xx until the budget is spent, with the API's text": (
        [Reply(503, body=b'{"error": "try later"}')],
        {"retries": 2},
        r"answered HTTP 503 after 3 attempt\(s\): try later",
        3,
    ),
    "4xx: not retried, the API's text shown": (
        [Reply(404, body=b'{"error": "Not Found: no such launch"}')],
        {},
        r"HTTP 404 after 1 attempt\(s\): Not Found: no such launch",
        1,
    ),
    "read timeout every time": (
        [Reply(mode="slow", delay=1.5)],
        {"retries": 1, "timeout_s": 0.3},
        r"after 2 attempt\(s\) \(read timeout\)",
        2,
    ),
    "connection dropped mid-body every time": (
        [Reply(mode="drop")],
        {"retries": 2},
        r"cannot read .* after 3 attempt\(s\) \(connection dropped mid-body\); nothing landed",
        3,
    ),
    "Content-Length over the limit: refused before reading": (
        [Reply()],
        {"max_bytes": len(BODY) - 1},
        r"Content-Length \d+ exceeds SPACEX_HTTP_MAX_BYTES \(\d+ bytes\); nothing landed",
        1,
    ),
    "no Content-Length, body over the limit: cut off while reading": (
        [Reply(mode="unsized", size=8 * MiB)],
        {"max_bytes": 2 * MiB},
        r"response larger than SPACEX_HTTP_MAX_BYTES \(2097152 bytes\); nothing landed",
        1,
    ),
}


@pytest.mark.parametrize(
    ("replies", "http", "message", "requests"), FAILURES.values(), ids=list(FAILURES)
)
def test_a_failed_extract_says_why_and_lands_nothing(
    server: tuple[str, Script],
    tmp_path: Path,
    replies: list[Reply],
    http: dict[str, float],
    message: str,
    requests: int,
) -> None:
    url, script = server
    script.replies = replies
    settings = fast_settings(tmp_path, **http)
    with pytest.raises(ExtractError, match=message) as raised:
        pipeline.extract(settings, date(2024, 6, 1), "run-failing", url)
    assert url in str(raised.value)
    assert len(script.requests) == requests
    nothing_landed(settings)


def test_unreachable_source_names_the_cause_and_the_attempts(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v5/launches"
    expected = rf"cannot reach {url} after 2 attempt\(s\) \(connection refused\)"
    with pytest.raises(ExtractError, match=expected):
        fetched(url, fast_settings(tmp_path, retries=1))


def test_connection_dropped_mid_body_is_retried(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.replies = [Reply(mode="drop"), Reply()]
    settings = fast_settings(tmp_path)
    [launches] = pipeline.extract(settings, date(2024, 6, 1), "run-drop", url)
    assert len(script.requests) == 2
    lake = open_lake(settings.lake_root)
    assert lake.get(lake.key_of(launches.raw_uri)) == BODY
    assert orjson.loads(lake.get(lake.key_of(launches.manifest_uri)))["http_attempts"] == 2


def test_a_large_body_streams_to_the_lake_in_flat_memory(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    """64 MiB through HTTP into the lake: Python's peak allocation stays a few MiB."""
    url, script = server
    script.replies = [Reply(mode="unsized", size=64 * MiB)]
    settings = fast_settings(tmp_path, max_bytes=128 * MiB)
    tracemalloc.start()
    try:
        [launches] = pipeline.extract(settings, date(2024, 6, 1), "run-large", url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert launches.bytes == 64 * MiB
    assert launches.record_count is None  # too big to count here; the load counts
    assert Path(launches.raw_uri).stat().st_size == 64 * MiB
    print(f"peak Python allocation while landing 64 MiB: {peak / MiB:.1f} MiB")
    assert peak < 16 * MiB


def test_input_api_reads_the_configured_source_url(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    """`--input api` is SPACEX_SOURCE_URL (what the ECS task runs); a non-default endpoint has no
    cores unless SPACEX_CORES_URL names them."""
    url, script = server
    script.replies = [Reply()]
    settings = fast_settings(tmp_path)
    settings = settings.model_copy(
        update={"source": settings.source.model_copy(update={"url": url})}
    )

    landed = pipeline.extract(settings, date(2024, 6, 1), "run-api", "api")

    assert [item.resource for item in landed] == ["launches"]
    assert landed[0].source == url
    assert len(script.requests) == 1

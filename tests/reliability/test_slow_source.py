"""A source that drips its body (a byte at a time, each within the read timeout) through
`spacex-etl run`: the download stops at `SPACEX_HTTP_DEADLINE_S` with one clear line, and
neither that nor a SIGTERM mid-download leaves a partial download or anything in the lake."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.reliability.conftest import DAY2, Env, one_line_error

BODY = b'[{"id": "' + b"0" * 4096 + b'"}]'


@pytest.fixture
def dripping() -> Iterator[str]:
    """A server on 127.0.0.1 that announces the whole body and sends a byte every 50 ms."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            for byte in BODY:
                if stop.is_set():
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v5/launches"
    stop.set()
    httpd.shutdown()
    httpd.server_close()


def _env(duck: Env, deadline_s: str) -> Env:
    duck.extra |= {
        "SPACEX_SOURCE_ALLOWED_HOSTS": "127.0.0.1",
        "SPACEX_SOURCE_ALLOW_HTTP": "true",
        "SPACEX_HTTP_TIMEOUT_S": "5",
        "SPACEX_HTTP_DEADLINE_S": deadline_s,
    }
    return duck


def _leftovers(env: Env) -> list[Path]:
    """Downloads and lake objects: what a stopped download must not leave behind."""
    downloads = list(env.data_dir.glob(".download-*"))
    lake = env.data_dir / "lake"
    return downloads + (sorted(p for p in lake.rglob("*") if p.is_file()) if lake.exists() else [])


def test_a_dripping_source_stops_at_the_download_deadline(duck: Env, dripping: str) -> None:
    env = _env(duck, "2")
    started = time.monotonic()
    proc = env.popen("run", "--input", dripping, "--date", DAY2, "--skip-transform")
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the download outlived its deadline by a minute")
    elapsed = time.monotonic() - started

    line = one_line_error(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    assert "SPACEX_HTTP_DEADLINE_S (2 s" in line and "nothing landed" in line, line
    assert elapsed < 20, elapsed
    assert _leftovers(env) == []


def test_sigterm_mid_download_leaves_no_partial_download(duck: Env, dripping: str) -> None:
    env = _env(duck, "600")
    proc = env.popen("run", "--input", dripping, "--date", DAY2, "--skip-transform")
    try:
        for _ in range(300):  # wait until the body's file is open on disk
            if partial := list(env.data_dir.glob(".download-*/*")):
                break
            time.sleep(0.1)
        assert partial, "the download never started"
        time.sleep(0.5)

        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode == -signal.SIGTERM  # still ends the way SIGTERM ends a process
    assert _leftovers(env) == []

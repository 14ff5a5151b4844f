"""The Airflow API server (UI + REST) starts on 127.0.0.1 and answers its health endpoint."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

STARTUP_LIMIT_S = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _get_json(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _stop(process: subprocess.Popen[bytes]) -> None:
    """TERM the server's process group (it has worker children), KILL what is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def test_api_server_answers_health_on_localhost(airflow_db: Path, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "passwords.json"),
    }
    log = (tmp_path / "api-server.log").open("wb")
    airflow = Path(sys.executable).with_name("airflow")
    process = subprocess.Popen(
        [str(airflow), "api-server", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as a whole below
    )
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        health = None
        while health is None:
            assert process.poll() is None, (tmp_path / "api-server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"no answer on {base} in {STARTUP_LIMIT_S}s"
            try:
                health = _get_json(f"{base}/api/v2/monitor/health")
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)  # polling interval, not synchronisation
        assert health["metadatabase"]["status"] == "healthy"

        # a login works: the simple auth manager issues a token the REST API accepts
        password = json.loads((tmp_path / "passwords.json").read_text())["admin"]
        request = urllib.request.Request(
            f"{base}/auth/token",
            data=json.dumps({"username": "admin", "password": password}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            token = json.loads(response.read())["access_token"]
        assert _get_json(f"{base}/api/v2/importErrors", token)["total_entries"] == 0
        with pytest.raises(urllib.error.HTTPError) as denied:
            _get_json(f"{base}/api/v2/importErrors")
        assert denied.value.code == 401
    finally:
        _stop(process)
        log.close()
    assert process.poll() is not None

"""Shared fixtures: paths, isolated settings, the real local PostgreSQL (skip on a laptop without
one, but fail in CI, where it must be there)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from spacex_etl.config import PostgresSettings, Settings

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT_LAUNCHES = REPO / "etl" / "spacex_etl" / "data" / "launches.json"
SNAPSHOT_CORES = REPO / "etl" / "spacex_etl" / "data" / "cores_partial_2020_subset.json"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CLI = str(Path(sys.executable).with_name("spacex-etl"))


# A pytest started in the background by a script (`cmd &`, no job control) has SIGINT ignored,
# and every process it starts would inherit that: Ctrl-C tests would test the launcher. The
# suite's processes take Ctrl-C as they do from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`spacex-etl <args>` in a subprocess with only `env`'s SPACEX_* settings (a user's view)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SPACEX_")}
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=base | env, timeout=600, check=False
    )


# Modules that run on one worker, one after the other, because they share what is expensive to
# start (`shared_standalone` in tests/dags/conftest.py: one `airflow standalone` for all three).
ONE_WORKER = {
    "tests/dags/test_api_server.py": "airflow standalone",
    "tests/dags/test_clear_model.py": "airflow standalone",
    "tests/dags/test_watcher_runs.py": "airflow standalone",
}


def scope_of(nodeid: str) -> str:
    """The unit a worker runs whole: the test's module, or the group of modules it shares with."""
    module = nodeid.split("::", 1)[0]
    return ONE_WORKER.get(module, module)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules holding a `slow` test run first, a group in ONE_WORKER together (modules stay
    whole, their order otherwise kept).

    `make test` runs `pytest -n auto --dist loadscope` (pytest-xdist): each module goes to one
    worker, so a module-scoped fixture (one dbt build, one loaded warehouse) is built once per
    run. Starting the long modules first keeps a worker from picking one up last and running on
    alone while the other idles.
    """
    slow = {scope_of(item.nodeid) for item in items if item.get_closest_marker("slow")}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(scope_of(item.nodeid), index)
    items.sort(key=lambda item: (scope_of(item.nodeid) not in slow, first[scope_of(item.nodeid)]))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope`, with the modules of a group in ONE_WORKER sent to one worker as one
    unit (pytest-xdist's own `xdist_group` marker is not honoured under pytest 9.2), handed out
    in the collection order above: by default xdist starts the units holding the most tests
    first, which left the slow single-test modules (the standalone ones) for last."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False

    class Scheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return Scheduling(config, log)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's SPACEX_* settings or .env, nor writes into the repo."""
    for name in list(os.environ):
        if name.startswith("SPACEX_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SPACEX_DATA_DIR", str(tmp_path / "spacex"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def answered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """An installation where `spacex-etl run --date 2024-06-01 --json` ran on the bundled snapshot
    (load, dbt build, report) and that run's summary. Built once per test run by whichever
    worker asks first (the others wait on a file lock, then reuse it); tests copy it before
    writing (`copy_installation`), so no worker sees another's changes."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by this run's workers
    shared, summary = root / "answered", root / "answered" / "summary.json"
    with (root / "answered.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not summary.is_file():
            shutil.rmtree(shared, ignore_errors=True)  # what a worker that failed here left
            env = {"SPACEX_DATA_DIR": str(shared / "spacex")}
            proc = run_cli("run", "--date", "2024-06-01", "--json", env=env)
            assert proc.returncode == 0, proc.stderr[-3000:]
            summary.write_text(proc.stdout)  # last: its presence says the installation is whole
    return shared / "spacex", json.loads(summary.read_text())


def copy_installation(source: Path, data_dir: Path) -> Path:
    """A private copy of an installation's data dir (lake, DuckDB file, dbt state)."""
    shutil.copytree(source, data_dir)
    return data_dir


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded-default settings in a fresh temporary data dir."""
    return Settings(data_dir=tmp_path / "spacex")


# --- PostgreSQL -------------------------------------------------------------------------------
PG_HOST = os.environ.get("SPACEX_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SPACEX_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("SPACEX_TEST_PG_USER", "postgres")
PG_DATABASE = os.environ.get("SPACEX_TEST_PG_DATABASE", "test")


def _pg_unavailable_reason() -> str | None:
    import psycopg

    try:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE, connect_timeout=3
        ):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}: {exc}"


@pytest.fixture(scope="session")
def pg_available() -> None:
    """Skip (with the reason) when there is no PostgreSQL; in CI that is a failure."""
    reason = _pg_unavailable_reason()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the integration tests must run)")
    print(f"SKIP: {reason}")
    pytest.skip(reason)


@pytest.fixture
def pg_settings(pg_available: None, tmp_path: Path) -> Iterator[Settings]:
    """Settings for the local PostgreSQL with schemas unique to this test, dropped afterwards."""
    import psycopg

    suffix = uuid.uuid4().hex[:8]
    settings = Settings(
        data_dir=tmp_path / "spacex",
        warehouse="postgres",
        postgres=PostgresSettings(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_DATABASE),
        raw_schema=f"t_raw_{suffix}",
        dbt_schema=f"t_dbt_{suffix}",
    )
    yield settings
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE, autocommit=True
    ) as conn:
        for schema in (settings.raw_schema, settings.dbt_schema):
            conn.execute(f'drop schema if exists "{schema}" cascade')


# --- HTTP sources ------------------------------------------------------------------------------
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
                self.send_header("Content-Length", str(SNAPSHOT_LAUNCHES.stat().st_size))
                self.end_headers()
                self.wfile.write(SNAPSHOT_LAUNCHES.read_bytes())

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

"""`airflow standalone` in a throw-away home, driven through the REST API the way a user drives
the UI: unpause, trigger, read the grid's task states, clear a task. Used by the tests that need
the real scheduler, triggerer and executor, and by the DAG benchmark."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DAGS = Path(__file__).resolve().parents[2] / "dags"
REPO_DBT = DAGS.parent / "dbt_spacex"
DAG_PATH = "/api/v2/dags/spacex_elt"
FINISHED = ("success", "failed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def get_json(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def stop(process: subprocess.Popen[bytes]) -> None:
    """TERM the server's process group (it has worker children), KILL what is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def wait(deadline: float, what: str, check: Callable[[], Any]) -> Any:
    """Poll `check` until it returns something truthy; fail at the deadline naming `what`."""
    while True:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        try:
            if result := check():
                return result
        except (urllib.error.URLError, TimeoutError, ConnectionError, KeyError, FileNotFoundError):
            pass
        time.sleep(1)  # polling interval, not synchronisation


@dataclass
class Standalone:
    """A running `airflow standalone` and a bearer token for its REST API."""

    base: str
    token: str
    home: Path
    project: Path
    data_dir: Path
    deadline: float

    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {self.token}"} if self.token else {}),
            method=method,
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def get(self, path: str) -> Any:
        return get_json(f"{self.base}{path}", self.token)

    def trigger(
        self, run_id: str, logical_date: str | None, conf: dict[str, Any] | None = None
    ) -> Any:
        body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf or {}}
        return self.call("POST", f"{DAG_PATH}/dagRuns", body)

    def task_instances(self, run_id: str) -> dict[str, dict[str, Any]]:
        found = self.get(f"{DAG_PATH}/dagRuns/{run_id}/taskInstances?limit=100")
        return {t["task_id"]: t for t in found["task_instances"]}

    def states(self, run_id: str) -> dict[str, tuple[str, int]]:
        return {k: (t["state"], t["try_number"]) for k, t in self.task_instances(run_id).items()}

    def finished(self, run_id: str) -> dict[str, Any]:
        """Wait for the run to end; return it."""

        def done() -> dict[str, Any] | None:
            run = self.get(f"{DAG_PATH}/dagRuns/{run_id}")
            return run if run["state"] in FINISHED else None

        return dict(wait(self.deadline, f"run {run_id}", done))

    def wait_for(self, what: str, check: Callable[[], Any]) -> Any:
        return wait(self.deadline, what, check)

    def run(
        self, run_id: str, logical_date: str | None
    ) -> tuple[dict[str, Any], dict[str, tuple[str, int]]]:
        """Trigger a run and wait for it to end; return it and its tasks' (state, try)."""
        self.trigger(run_id, logical_date)
        return self.finished(run_id), self.states(run_id)

    def rerun(self, run_id: str, *task_ids: str) -> dict[str, tuple[str, int]]:
        """Clear tasks together, as a user does in the grid, and wait for their next tries to
        end; return the run's tasks' (state, try) then."""
        before = self.states(run_id)
        assert sorted(self.clear(run_id, list(task_ids))) == sorted(task_ids)

        def done() -> dict[str, tuple[str, int]] | None:
            now = self.states(run_id)
            again = [now[t][1] == before[t][1] + 1 and now[t][0] in FINISHED for t in task_ids]
            return now if all(again) else None

        return dict(self.wait_for(f"{', '.join(task_ids)} to run again", done))

    def clear(self, run_id: str, task_ids: list[str]) -> list[str]:
        cleared = self.call(
            "POST",
            f"{DAG_PATH}/clearTaskInstances",
            {
                "dry_run": False,
                "dag_run_id": run_id,
                "task_ids": task_ids,
                "include_downstream": False,
                "include_upstream": False,
                "only_failed": False,
                "reset_dag_runs": True,
            },
        )
        return [t["task_id"] for t in cleared["task_instances"]]

    def log(self, run_id: str, task_id: str, try_number: int) -> str:
        found = self.get(
            f"{DAG_PATH}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}?full_content=true"
        )
        content = found.get("content", "")
        if isinstance(content, list):
            return "\n".join(
                str(line.get("event", line)) if isinstance(line, dict) else str(line)
                for line in content
            )
        return str(content)


def parse(project: Path, data_dir: Path) -> None:
    """Build the project's manifest and partial-parse state for this data dir, as an image is
    built with the settings it runs with (`spacex-etl transform --command parse`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPACEX_")}
    env |= {"SPACEX_DATA_DIR": str(data_dir), "SPACEX_DBT_PROJECT_DIR": str(project)}
    cli = Path(sys.executable).with_name("spacex-etl")
    subprocess.run([str(cli), "transform", "--command", "parse"], env=env, check=True)


def prebuilt_project(tmp: Path, data_dir: Path, source: Path = REPO_DBT) -> Path:
    """A copy of the dbt project with its manifest and partial-parse state built for this data
    dir."""
    project = tmp / "dbt_spacex"
    shutil.copytree(source, project, ignore=shutil.ignore_patterns("target", "logs"))
    parse(project, data_dir)
    return project


@contextmanager
def standalone(tmp: Path, limit_s: float, **env: str) -> Iterator[Standalone]:
    """Start `airflow standalone` (this repo's dags, a home and data dir under `tmp`, the dbt
    project prebuilt for that data dir, extra `env`), unpause the DAG, yield a client; stop the
    whole process group afterwards."""
    data_dir = tmp / "spacex"
    if "SPACEX_DBT_PROJECT_DIR" not in env:
        env["SPACEX_DBT_PROJECT_DIR"] = str(prebuilt_project(tmp, data_dir))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    home = tmp / "airflow"
    airflow = Path(sys.executable).with_name("airflow")
    full_env = {
        **os.environ,
        # standalone starts its components as `airflow …` found on PATH
        "PATH": f"{airflow.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(tmp / "cosmos"),  # not /tmp/cosmos, shared machine-wide
        "SPACEX_DATA_DIR": str(data_dir),
        "SPACEX_AIRFLOW_SCHEDULE": "none",  # only the runs a test triggers
        **env,
    }
    home.mkdir(parents=True)
    log = (tmp / "standalone.log").open("wb")
    process = subprocess.Popen(
        [str(airflow), "standalone"],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as a whole below
    )
    deadline = time.monotonic() + limit_s
    try:
        passwords = home / "simple_auth_manager_passwords.json.generated"
        wait(deadline, "health", lambda: get_json(f"{base}/api/v2/monitor/health"))
        project = Path(env["SPACEX_DBT_PROJECT_DIR"])
        client = Standalone(base, "", home, project, data_dir, deadline)
        # ALL_ADMINS (the UI without a login, for screenshots) writes no password: no token
        if env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "").lower() != "true":
            password = wait(
                deadline, "password", lambda: json.loads(passwords.read_text())["admin"]
            )
            client.token = client.call(
                "POST", "/auth/token", {"username": "admin", "password": password}
            )["access_token"]
        wait(deadline, "the DAG", lambda: client.get(DAG_PATH))
        client.call("PATCH", DAG_PATH, {"is_paused": False})
        yield client
    finally:
        stop(process)
        log.close()


class Shared:
    """One standalone for consecutive tests (this repo's dbt project, no retries): started by
    the first test that asks, stopped by `stop()` after the last; each test gets `limit_s`."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._airflow: Standalone | None = None
        self._failed: BaseException | None = None

    def get(self, tmp: Path, limit_s: float) -> Standalone:
        if self._failed is not None:  # a start that failed is not paid again by every test
            raise AssertionError(f"airflow standalone did not start: {self._failed}")
        if self._airflow is None:
            try:
                self._airflow = self._stack.enter_context(
                    standalone(tmp, limit_s, SPACEX_AIRFLOW_RETRIES="0")
                )
            except BaseException as exc:
                self._failed = exc
                raise
        self._airflow.deadline = time.monotonic() + limit_s
        return self._airflow

    def stop(self) -> None:
        self._stack.close()
        self._airflow = None

"""What a user does in the UI, through the same REST API: run the DAG on `airflow standalone`,
clear one dbt model's task, and see that model — and only it — run again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.dags.conftest import DAGS
from tests.dags.test_api_server import _free_port, _get_json, _stop

pytestmark = pytest.mark.slow

LIMIT_S = 900  # startup + one full run + one model on 2 busy cores (measured 4-6 min)
MODEL = "dbt.fct_launches_run"


def _call(base: str, token: str, method: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait(deadline: float, what: str, check: Any) -> Any:
    while True:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        try:
            if result := check():
                return result
        except (urllib.error.URLError, TimeoutError, ConnectionError, KeyError, FileNotFoundError):
            pass
        time.sleep(2)  # polling interval, not synchronisation


def test_a_cleared_model_reruns_alone(airflow_db: Path, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    home = tmp_path / "airflow"
    airflow = Path(sys.executable).with_name("airflow")
    env = {
        **os.environ,
        # standalone starts its components as `airflow …` found on PATH
        "PATH": f"{airflow.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "SPACEX_DATA_DIR": str(tmp_path / "spacex"),
        "SPACEX_AIRFLOW_RETRIES": "0",
    }
    home.mkdir()
    log = (tmp_path / "standalone.log").open("wb")
    process = subprocess.Popen(
        [str(airflow), "standalone"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as a whole below
    )
    deadline = time.monotonic() + LIMIT_S
    try:
        passwords = home / "simple_auth_manager_passwords.json.generated"
        _wait(deadline, "health", lambda: _get_json(f"{base}/api/v2/monitor/health"))
        password = _wait(deadline, "password", lambda: json.loads(passwords.read_text())["admin"])
        token = _call(base, "", "POST", "/auth/token", {"username": "admin", "password": password})[
            "access_token"
        ]
        dag_path = "/api/v2/dags/spacex_elt"
        _wait(deadline, "the DAG", lambda: _get_json(f"{base}{dag_path}", token))
        _call(base, token, "PATCH", dag_path, {"is_paused": False})
        _call(
            base,
            token,
            "POST",
            f"{dag_path}/dagRuns",
            {"dag_run_id": "first", "logical_date": "2024-06-01T00:00:00Z", "conf": {}},
        )

        def finished() -> dict[str, tuple[str, int]] | None:
            run = _get_json(f"{base}{dag_path}/dagRuns/first", token)
            if run["state"] not in ("success", "failed"):
                return None
            tis = _get_json(f"{base}{dag_path}/dagRuns/first/taskInstances", token)
            return {t["task_id"]: (t["state"], t["try_number"]) for t in tis["task_instances"]}

        before = _wait(deadline, "the run", finished)
        assert set(before.values()) == {("success", 1)}, before
        assert MODEL in before

        cleared = _call(
            base,
            token,
            "POST",
            f"{dag_path}/clearTaskInstances",
            {
                "dry_run": False,
                "dag_run_id": "first",
                "task_ids": [MODEL],
                "include_downstream": False,
                "include_upstream": False,
                "only_failed": False,
                "reset_dag_runs": True,
            },
        )
        assert [t["task_id"] for t in cleared["task_instances"]] == [MODEL]
        after = _wait(
            deadline, "the rerun", lambda: (f := finished()) and f[MODEL] == ("success", 2) and f
        )
        assert {task: state for task, state in after.items() if task != MODEL} == {
            task: state for task, state in before.items() if task != MODEL
        }
    finally:
        _stop(process)
        log.close()
    assert process.poll() is not None

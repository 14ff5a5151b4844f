"""The container modes' extract task, as the DAG builds it, run through the real CLI with a local
path as its input: refused, whatever the deployment forwards (python mode:
tests/security/test_dag_local_files.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SNAPSHOT_LAUNCHES, run_cli
from tests.dags.conftest import load_dag


def _command_and_env(dag: Any, mode: str) -> tuple[list[str], dict[str, str]]:
    task = dag.get_task("extract")
    if mode == "docker":
        return list(task.command), dict(task.environment)
    (override,) = task.overrides["containerOverrides"]
    return list(override["command"]), {e["name"]: e["value"] for e in override["environment"]}


@pytest.mark.parametrize("mode", ["docker", "ecs"])
def test_the_container_extract_task_reads_no_local_file(
    airflow_db: Path, tmp_path: Path, mode: str
) -> None:
    dag = load_dag(
        SPACEX_AIRFLOW_EXECUTION_MODE=mode,
        SPACEX_AIRFLOW_DOCKER_ENV="SPACEX_SOURCE_LOCAL_FILES",
        SPACEX_SOURCE_LOCAL_FILES="true",  # forwarded by a careless deployment: still refused
    )
    command, env = _command_and_env(dag, mode)
    start = datetime(2024, 6, 1, tzinfo=UTC)

    class DagRun:
        data_interval_start = logical_date = run_after = start

    class TI:
        try_number = 1

    context = {
        "dag_run": DagRun(),
        "run_id": "manual__1",
        "ti": TI(),
        "params": dict(dag.params) | {"input": str(SNAPSHOT_LAUNCHES)},
    }
    template = dag.get_template_env()
    argv = [template.from_string(part).render(**context) for part in command]
    assert str(SNAPSHOT_LAUNCHES) in argv

    proc = run_cli(*argv, env=env | {"SPACEX_DATA_DIR": str(tmp_path / "spacex")})

    assert proc.returncode == 1
    assert "local files are read only" in proc.stderr
    assert not list(tmp_path.rglob("*.json"))

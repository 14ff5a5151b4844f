"""The DAG as the DAG processor sees it: no import errors, its shape, its policies, its modes."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.dags.conftest import DAGS, load_dag

TASKS = ["extract", "load", "dbt_run", "dbt_test", "report"]


def test_dagbag_has_no_import_errors_and_only_our_dag(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["spacex_elt"]  # the support package is not parsed as DAGs


def test_tasks_run_in_order(python_dag: Any) -> None:
    assert sorted(python_dag.task_ids) == sorted(TASKS)
    for upstream, downstream in itertools.pairwise(TASKS):
        assert python_dag.get_task(upstream).downstream_task_ids == {downstream}
    assert python_dag.get_task("extract").upstream_task_ids == set()


def test_schedule_and_run_policy(python_dag: Any) -> None:
    dag = python_dag
    assert dag.schedule == "@daily"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.start_date == datetime(2024, 6, 1, tzinfo=UTC)
    assert dag.dagrun_timeout == timedelta(hours=3)
    assert {"spacex", "elt", "dbt", "mode:python"} <= set(dag.tags)
    assert "extract" in dag.doc_md and "airflow backfill create" in dag.doc_md
    assert dag.params["input"] == "snapshot"


def test_every_task_retries_with_capped_backoff_times_out_and_alerts(python_dag: Any) -> None:
    from spacex_elt_support import alerts

    for task in python_dag.tasks:
        assert task.retries == 3, task.task_id
        assert task.retry_delay == timedelta(minutes=1)
        assert task.retry_exponential_backoff == 2.0
        assert task.max_retry_delay == timedelta(minutes=30)
        assert task.execution_timeout is not None
        assert timedelta(0) < task.execution_timeout <= timedelta(hours=1)
        assert alerts.on_failure in _callbacks(task.on_failure_callback)
        assert alerts.on_retry in _callbacks(task.on_retry_callback)


def _callbacks(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def test_policy_comes_from_the_environment(airflow_db: Path) -> None:
    dag = load_dag(
        SPACEX_AIRFLOW_RETRIES="5",
        SPACEX_AIRFLOW_RETRY_DELAY_S="2",
        SPACEX_AIRFLOW_MAX_RETRY_DELAY_S="9",
        SPACEX_AIRFLOW_CATCHUP="true",
        SPACEX_AIRFLOW_SCHEDULE="0 6 * * *",
        SPACEX_AIRFLOW_INPUT="https://api.example.test/v5/launches",
    )
    task = dag.get_task("load")
    assert (task.retries, task.retry_delay, task.max_retry_delay) == (
        5,
        timedelta(seconds=2),
        timedelta(seconds=9),
    )
    assert dag.catchup is True
    assert dag.schedule == "0 6 * * *"
    assert dag.params["input"] == "https://api.example.test/v5/launches"


def test_bad_execution_mode_is_an_import_error_naming_the_variable(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    os.environ["SPACEX_AIRFLOW_EXECUTION_MODE"] = "kubernetes"
    try:
        bag = DagBag(dag_folder=str(DAGS))
    finally:
        del os.environ["SPACEX_AIRFLOW_EXECUTION_MODE"]
    (message,) = bag.import_errors.values()
    assert "SPACEX_AIRFLOW_EXECUTION_MODE='kubernetes'" in message


def test_parsing_imports_neither_the_pipeline_nor_dbt() -> None:
    """Parse-time cost: the DAG file must not import spacex_etl, dbt or a provider operator."""
    code = (
        "import sys, runpy; sys.path.insert(0, sys.argv[1]); "
        "runpy.run_path(sys.argv[1] + '/spacex_elt.py'); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'spacex_etl', 'dbt', 'duckdb', 'pyarrow', 'docker'} "
        "or '.operators.' in m and m.startswith(('airflow.providers.amazon', "
        "'airflow.providers.docker'))); print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAGS)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def _render(dag: Any, template: str, **context: Any) -> str:
    return str(dag.get_template_env().from_string(template).render(**context))


class _TI:
    try_number = 2


def _context(dag: Any) -> dict[str, Any]:
    start = datetime(2024, 6, 1, tzinfo=UTC)
    return {
        "data_interval_start": start,
        "logical_date": start,
        "dag_run": None,
        "run_id": "scheduled__2024-06-01T00:00:00+00:00",
        "ti": _TI(),
        "params": dict(dag.params),
    }


def test_docker_mode_runs_the_etl_image_with_the_cli(airflow_db: Path) -> None:
    from airflow.providers.docker.operators.docker import DockerOperator

    dag = load_dag(
        SPACEX_AIRFLOW_EXECUTION_MODE="docker",
        SPACEX_AIRFLOW_IMAGE="spacex-elt-etl:1.2.3",
        SPACEX_AIRFLOW_DOCKER_NETWORK="spacex-elt",
        SPACEX_AIRFLOW_DOCKER_DATA_VOLUME="spacex-elt-etl-data",
        SPACEX_AIRFLOW_DOCKER_ENV="SPACEX_WAREHOUSE,AWS_SECRET_ACCESS_KEY",
        SPACEX_WAREHOUSE="postgres",
        AWS_SECRET_ACCESS_KEY="not-in-the-ui",
    )
    assert sorted(dag.task_ids) == sorted(TASKS)
    assert "mode:docker" in dag.tags
    ops = {t.task_id: t for t in dag.tasks}
    assert all(isinstance(op, DockerOperator) for op in ops.values())
    extract = ops["extract"]
    assert extract.image == "spacex-elt-etl:1.2.3"
    assert extract.network_mode == "spacex-elt"
    assert extract.environment["SPACEX_WAREHOUSE"] == "postgres"
    assert extract.environment["SPACEX_DATA_DIR"] == "/data"
    assert "AWS_SECRET_ACCESS_KEY" not in extract.environment
    assert extract._private_environment == {"AWS_SECRET_ACCESS_KEY": "not-in-the-ui"}
    assert extract.mounts[0]["Source"] == "spacex-elt-etl-data"
    assert extract.execution_timeout == timedelta(minutes=15)
    assert extract.retries == 3
    rendered = [_render(dag, part, **_context(dag)) for part in extract.command]
    assert rendered == [
        "extract",
        "--date",
        "2024-06-01",
        "--run-id",
        "scheduled__2024-06-01T00-00-00-00-00.try2",
        "--input",
        "snapshot",
        "--json",
    ]
    load = [_render(dag, part, **_context(dag)) for part in ops["load"].command]
    assert load == ["load", "--date", "2024-06-01", "--json"]
    assert ops["dbt_run"].command == ["transform", "--command", "run", "--json"]
    assert ops["dbt_test"].command == ["transform", "--command", "test", "--json"]
    assert ops["report"].command == ["answers", "--json"]


def test_ecs_mode_runs_fargate_tasks_from_env(airflow_db: Path) -> None:
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

    dag = load_dag(
        SPACEX_AIRFLOW_EXECUTION_MODE="ecs",
        SPACEX_ECS_CLUSTER="spacex-elt",
        SPACEX_ECS_TASK_DEFINITION="spacex-elt-etl:7",
        SPACEX_ECS_CONTAINER_NAME="etl",
        SPACEX_ECS_SUBNETS="subnet-a, subnet-b",
        SPACEX_ECS_SECURITY_GROUPS="sg-1",
        SPACEX_ECS_AWSLOGS_GROUP="/ecs/spacex-elt",
        SPACEX_ECS_AWSLOGS_STREAM_PREFIX="etl/etl",
        SPACEX_ECS_REGION="eu-west-1",
    )
    ops = {t.task_id: t for t in dag.tasks}
    assert all(isinstance(op, EcsRunTaskOperator) for op in ops.values())
    op = ops["extract"]
    assert (op.cluster, op.task_definition, op.launch_type) == (
        "spacex-elt",
        "spacex-elt-etl:7",
        "FARGATE",
    )
    assert op.network_configuration == {
        "awsvpcConfiguration": {
            "subnets": ["subnet-a", "subnet-b"],
            "securityGroups": ["sg-1"],
            "assignPublicIp": "DISABLED",
        }
    }
    assert op.reattach is True
    assert op.awslogs_group == "/ecs/spacex-elt"
    assert op.awslogs_region == "eu-west-1"
    assert op.aws_conn_id == "aws_default"
    (override,) = op.overrides["containerOverrides"]
    assert override["name"] == "etl"
    assert [_render(dag, p, **_context(dag)) for p in override["command"]][:3] == [
        "extract",
        "--date",
        "2024-06-01",
    ]
    (dbt_override,) = ops["dbt_run"].overrides["containerOverrides"]
    assert dbt_override["command"] == ["transform", "--command", "run", "--json"]
    assert ops["dbt_test"].upstream_task_ids == {"dbt_run"}


def test_ecs_settings_fall_back_to_airflow_variables(airflow_db: Path) -> None:
    dag = load_dag(SPACEX_AIRFLOW_EXECUTION_MODE="ecs")
    op = dag.get_task("load")
    assert op.cluster == "{{ var.value.spacex_ecs_cluster }}"
    assert op.task_definition == "{{ var.value.spacex_ecs_task_definition }}"
    assert "cluster" in op.template_fields  # rendered from AIRFLOW_VAR_SPACEX_ECS_CLUSTER


@pytest.mark.parametrize(
    ("run_id", "expected"),
    [
        ("manual__2024-06-01T00:00:00+00:00", "manual__2024-06-01T00-00-00-00-00"),
        ("backfill__2024-06-02T00:00:00+00:00", "backfill__2024-06-02T00-00-00-00-00"),
        ("my run/../x", "my-run-..-x"),
    ],
)
def test_run_ids_become_single_lake_path_segments(run_id: str, expected: str) -> None:
    from spacex_elt_support.config import lake_safe

    assert lake_safe(run_id) == expected
    assert "/" not in lake_safe(run_id)

"""The DAG as the DAG processor sees it: no import errors, its shape, its policies, its modes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.dags.conftest import DAGS, load_dag

TASKS = ["extract", "load", "dbt_run", "dbt_test", "report"]  # docker/ecs modes
MODELS = sorted(p.stem for p in (DAGS.parent / "dbt_spacex" / "models").rglob("*.sql"))
MARTS = sorted(p.stem for p in (DAGS.parent / "dbt_spacex" / "models" / "marts").rglob("*.sql"))
TEST_TASK = "dbt.dbt_spacex_test"
PRODUCER = "dbt.dbt_producer_watcher"  # runs the one dbt build the model tasks read
WATCHER_TASKS = {PRODUCER, f"{PRODUCER}_done"}


def test_dagbag_has_no_import_errors_and_only_our_dag(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["spacex_elt"]  # the support package is not parsed as DAGs


def _assert_one_task_per_model_then_tests(dag: Any, extra: set[str] = WATCHER_TASKS) -> None:
    """One task per model; the tests in the producer's build (watcher) or in a task after every
    model (local) — either way before the report."""
    model_tasks = {f"dbt.{model}_run" for model in MODELS}
    assert set(dag.task_ids) == {"extract", "load", "report"} | model_tasks | extra
    assert dag.get_task("dbt.q2_cores_reused_within_50_days_run").upstream_task_ids == {
        "dbt.fct_core_reuse_run"
    }
    if PRODUCER in extra:
        flags = dag.get_task(PRODUCER).dbt_cmd_flags
        assert {"model", "test", "unit_test"} <= set(flags[1::2]), flags  # --resource-type …
        assert f"{PRODUCER}_done" in dag.get_task("report").upstream_task_ids
        return
    assert dag.get_task("extract").upstream_task_ids == set()
    assert dag.get_task("extract").downstream_task_ids >= {"load"}
    staging = {t for t in model_tasks if t.startswith("dbt.stg_")}
    assert dag.get_task("load").downstream_task_ids >= staging
    tests = dag.get_task(TEST_TASK)
    # every model runs before the tests, the tests before the report
    assert {t.task_id for t in tests.get_flat_relatives(upstream=True)} >= model_tasks
    assert TEST_TASK in dag.get_task("report").upstream_task_ids


def test_python_mode_has_one_task_per_model_fed_by_one_build_then_the_tests(
    python_dag: Any,
) -> None:
    from cosmos.operators.watcher import DbtProducerWatcherOperator, DbtRunWatcherOperator

    _assert_one_task_per_model_then_tests(python_dag)
    producer = python_dag.get_task(PRODUCER)
    assert isinstance(producer, DbtProducerWatcherOperator)
    assert producer.invocation_mode.value == "dbt_runner"  # in-process dbt, no subprocess
    assert python_dag.get_task("load").downstream_task_ids >= {PRODUCER}
    run = python_dag.get_task("dbt.fct_launches_run")
    assert isinstance(run, DbtRunWatcherOperator)


def test_dbt_tasks_local_runs_dbt_per_model_and_build_is_one_task(airflow_db: Path) -> None:
    from cosmos.operators.local import DbtRunLocalOperator

    local = load_dag(SPACEX_AIRFLOW_DBT_TASKS="local")
    _assert_one_task_per_model_then_tests(local, extra={TEST_TASK})
    run = local.get_task("dbt.fct_launches_run")
    assert isinstance(run, DbtRunLocalOperator)
    assert run.invocation_mode.value == "dbt_runner"

    build = load_dag(SPACEX_AIRFLOW_DBT_TASKS="build")
    assert set(build.task_ids) == {"extract", "load", "dbt_build", "report"}
    assert {a.uri for a in build.get_task("dbt_build").outlets} == {
        f"x-spacex://warehouse/marts/{model}" for model in MARTS
    }


def test_without_a_manifest_cosmos_parser_renders_the_same_tasks(airflow_db: Path) -> None:
    dag = load_dag(SPACEX_AIRFLOW_DBT_MANIFEST=str(DAGS / "no-such-manifest.json"))
    _assert_one_task_per_model_then_tests(dag)


def test_a_stale_manifest_is_not_used_and_the_parse_says_so_once(
    airflow_db: Path, dbt_manifest: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stale = tmp_path / "manifest.json"
    stale.write_bytes(dbt_manifest.read_bytes())
    os.utime(stale, (0, 0))  # older than every model file
    with caplog.at_level("WARNING", logger="spacex_elt.dbt_group"):
        dag = load_dag(SPACEX_AIRFLOW_DBT_MANIFEST=str(stale))
    _assert_one_task_per_model_then_tests(dag)
    warnings = [r.getMessage() for r in caplog.records if r.name == "spacex_elt.dbt_group"]
    assert len(warnings) == 1 and "is older than" in warnings[0], warnings


def test_assets_lake_to_raw_tables_to_marts(python_dag: Any) -> None:
    from spacex_elt_support import assets

    from spacex_etl.contract import RESOURCE_TABLES

    def uris(items: Any) -> set[str]:
        return {item.uri for item in items}

    assert set(assets.RAW_TABLES) == {t for tables in RESOURCE_TABLES.values() for t in tables}
    lake = {"x-spacex://lake/raw/launches", "x-spacex://lake/raw/cores"}
    raw = {f"x-spacex://warehouse/raw/{table}" for table in assets.RAW_TABLES}
    assert uris(python_dag.get_task("extract").outlets) == lake
    assert uris(python_dag.get_task("load").inlets) == lake
    assert uris(python_dag.get_task("load").outlets) == raw
    for model in MODELS:
        outlets = uris(python_dag.get_task(f"dbt.{model}_run").outlets)
        expected = {f"x-spacex://warehouse/marts/{model}"} if model in MARTS else set()
        assert outlets == expected, model
    assert "q1_max_core_reuse" in MARTS


@pytest.mark.parametrize(
    "source",
    [
        "/proc/self/environ",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "launches.json",
        "https://api.spacexdata.com/v5/launches\n--input=/etc/passwd",
        "https://api.spacexdata.com.evil.example/v5/launches",
        "https://user@api.spacexdata.com/v5/launches",
        "https://evil.example/launches.json",
    ],
)
def test_input_param_refuses_local_paths_non_https_and_other_hosts(
    python_dag: Any, source: str
) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    for name in ("input", "cores_input"):
        with pytest.raises(ParamValidationError):
            python_dag.params.get_param(name).resolve(value=source)


@pytest.mark.parametrize("source", ["snapshot", "https://api.spacexdata.com/v5/launches"])
def test_input_param_accepts_snapshot_and_https_urls(python_dag: Any, source: str) -> None:
    assert python_dag.params.get_param("input").resolve(value=source) == source


def test_schedule_and_run_policy(python_dag: Any) -> None:
    dag = python_dag
    assert dag.schedule == "@daily"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    # DuckDB takes one writing process: the watcher's model tasks only read the build's results
    # and run side by side; their own dbt runs (on a clear or retry) queue on the writer lock
    assert dag.max_active_tasks == 8
    models = [t for t in dag.tasks if t.task_id.startswith("dbt.") and t.task_id.endswith("_run")]
    assert len(models) >= 10
    assert {type(t).__name__ for t in models} == {"OneWriterDbtRunWatcherOperator"}
    assert {Path(t.writer_lock).name for t in models} == {"warehouse.duckdb.lock"}
    assert dag.start_date == datetime(2024, 6, 1, tzinfo=UTC)
    assert dag.dagrun_timeout == timedelta(hours=3)
    assert {"spacex", "elt", "dbt", "mode:python"} <= set(dag.tags)
    assert "extract" in dag.doc_md and "airflow backfill create" in dag.doc_md
    assert dag.params["input"] == "snapshot"


def test_every_task_retries_with_capped_backoff_times_out_and_alerts(python_dag: Any) -> None:
    from spacex_elt_support import alerts

    for task in python_dag.tasks:
        # the producer's retry would be a second whole build: the model tasks retry instead
        assert task.retries == (0 if task.task_id == PRODUCER else 3), task.task_id
        assert task.retry_delay == timedelta(minutes=1)
        assert task.retry_exponential_backoff == 2.0
        assert task.max_retry_delay == timedelta(minutes=30)
        assert task.execution_timeout is not None
        longest = timedelta(hours=1, minutes=30 if task.task_id == PRODUCER else 0)  # + tests
        assert timedelta(0) < task.execution_timeout <= longest
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
        SPACEX_SOURCE_ALLOWED_HOSTS="api.example.test",  # the job's allow-list, reused
    )
    task = dag.get_task("load")
    assert (task.retries, task.retry_delay, task.max_retry_delay) == (
        5,
        timedelta(seconds=2),
        timedelta(seconds=9),
    )
    assert dag.catchup is True
    assert dag.schedule == "0 6 * * *"
    postgres = load_dag(SPACEX_WAREHOUSE="postgres")
    assert postgres.max_active_tasks == 8
    assert "OneWriterDbtRunWatcherOperator" not in {type(t).__name__ for t in postgres.tasks}
    # one dbt start-up per model task: each writes, so one at a time on DuckDB
    assert load_dag(SPACEX_AIRFLOW_DBT_TASKS="local").max_active_tasks == 1
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


def test_parsing_imports_neither_the_pipeline_nor_dbt(airflow_db: Path) -> None:
    """Parse-time cost: of spacex_etl only its settings, the source allow-list and the warehouse
    registry (no adapter); no dbt, no warehouse driver, no provider operator, no Airflow plugin
    (Cosmos's imports FastAPI)."""
    code = (
        "import sys, runpy; sys.path.insert(0, sys.argv[1]); "
        "runpy.run_path(sys.argv[1] + '/spacex_elt.py'); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'dbt', 'duckdb', 'pyarrow', 'docker', 'psycopg', 'matplotlib', 'fastapi'} "
        "or m.startswith('spacex_etl.') and m not in "
        "{'spacex_etl.config', 'spacex_etl.sources', 'spacex_etl.errors', 'spacex_etl.warehouse'} "
        "or '.operators.' in m and m.startswith(('airflow.providers.amazon', "
        "'airflow.providers.docker'))); print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAGS)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"  # (Cosmos logs before it)


def _render(dag: Any, template: str, **context: Any) -> str:
    context.setdefault("ti", _TI())
    return str(dag.get_template_env().from_string(template).render(**context))


class _TI:
    try_number = 2

    def __init__(self, xcom: Any = None) -> None:
        self.xcom = xcom

    def xcom_pull(self, task_ids: str) -> Any:
        assert task_ids == "extract"
        return self.xcom


class _DagRun:
    def __init__(self, start: datetime | None, run_after: datetime) -> None:
        self.data_interval_start = self.logical_date = start
        self.run_after = run_after


def _context(dag: Any) -> dict[str, Any]:
    start = datetime(2024, 6, 1, tzinfo=UTC)
    return {
        "data_interval_start": start,
        "logical_date": start,
        "dag_run": _DagRun(start, start + timedelta(days=1)),
        "run_id": "scheduled__2024-06-01T00:00:00+00:00",
        "params": dict(dag.params),
    }


@pytest.mark.parametrize("mode", ["python", "docker", "ecs"])
def test_a_run_without_logical_date_takes_its_ingest_date_from_run_after(
    airflow_db: Path, mode: str
) -> None:
    """Airflow 3's REST API triggers runs with `"logical_date": null`: their template context
    has no `data_interval_start` nor `logical_date` at all (StrictUndefined would raise)."""
    from spacex_elt_support.factory import INGEST_DATE

    dag = load_dag(SPACEX_AIRFLOW_EXECUTION_MODE=mode)
    context = {
        "dag_run": _DagRun(None, datetime(2026, 12, 3, 9, 30, tzinfo=UTC)),
        "run_id": "manual__2026-12-03T09:30:00+00:00",
        "params": dict(dag.params),
    }
    templates = [
        value
        for task in dag.tasks
        for field in task.template_fields
        for value in _strings(getattr(task, field, None))
        if "dag_run" in value or "data_interval" in value or "logical_date" in value
    ]
    assert INGEST_DATE in templates  # the extract and report tasks' ingest date
    assert {_render(dag, value, **context) for value in templates} == {"2026-12-03"}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


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
    assert extract.do_xcom_push is True  # the CLI's `--json` line names the raw objects
    assert ops["load"].command == ["load", "--json"]  # + --raw-uri per landed object, below
    assert ops["dbt_run"].command == ["transform", "--command", "run", "--json"]
    assert ops["dbt_test"].command == ["transform", "--command", "test", "--json"]
    xcom = json.dumps({"run_id": "r1.try2", "landed": [{"raw_uri": "s3://b/raw/l.json"}]})
    report = [_render(dag, p, **_context(dag), ti=_TI(xcom)) for p in ops["report"].command]
    assert report == ["report", "--run-id", "r1.try2", "--json"]
    assert {a.uri for a in ops["load"].outlets} >= {"x-spacex://warehouse/raw/launches"}
    assert {a.uri for a in ops["dbt_run"].outlets} == {
        f"x-spacex://warehouse/marts/{m}" for m in MARTS
    }


def test_container_load_gets_exactly_the_raw_uris_the_extract_landed() -> None:
    from spacex_elt_support import operators

    line = json.dumps(
        {
            "run_id": "r1.try1",
            "landed": [{"raw_uri": "s3://lake/raw/a/launches.json"}, {"raw_uri": "/l/cores.json"}],
        }
    )
    logs = "2024-06-01 INFO landed ...\n" + line  # DockerOperator pushes the last log line
    context = {"ti": _TI(logs)}
    assert operators.raw_uri_args(context) == [
        "--raw-uri",
        "s3://lake/raw/a/launches.json",
        "--raw-uri",
        "/l/cores.json",
    ]
    with pytest.raises(ValueError, match="no raw objects"):
        operators.raw_uri_args({"ti": _TI(json.dumps({"run_id": "r", "landed": []}))})


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

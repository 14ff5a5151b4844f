"""Build the DAG's five tasks for an execution mode: python (in-process), docker or ecs.

All modes run the same stages with the same references: the run's ingest date (start of the
data interval, else the logical date, else when the run was triggered) and a lake-safe run id
derived from Airflow's run id and the try number, so a retried or cleared extract lands a new
immutable raw object and the load replaces that date's batch in the warehouse.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from spacex_elt_support import alerts, steps
from spacex_elt_support.config import DagConfig, lake_safe

INGEST_DATE = (
    "{{ (data_interval_start or logical_date or dag_run.run_after).strftime('%Y-%m-%d') }}"
)
LAKE_RUN_ID = "{{ run_id | lake_safe }}.try{{ ti.try_number }}"

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY", re.IGNORECASE)


def default_args(cfg: DagConfig) -> dict[str, Any]:
    """Retries with exponential backoff (capped), alerts; timeouts are set per task."""
    return {
        "owner": "data-engineering",
        "retries": cfg.retries,
        "retry_delay": cfg.retry_delay,
        "retry_exponential_backoff": cfg.retry_backoff,
        "max_retry_delay": cfg.max_retry_delay,
        "on_failure_callback": alerts.on_failure,
        "on_retry_callback": alerts.on_retry,
        "depends_on_past": False,
    }


def ingest_date(context: Mapping[str, Any]) -> date:
    """The batch's logical date: the data interval's start, else the logical date / run_after."""
    dag_run = context.get("dag_run")
    moment: datetime | None = (
        context.get("data_interval_start")
        or context.get("logical_date")
        or getattr(dag_run, "run_after", None)
    )
    if moment is None:
        raise ValueError("the DAG run has no data interval, logical date or run_after")
    return moment.date()


def lake_run_id(context: Mapping[str, Any]) -> str:
    """`<airflow run id, path-safe>.try<N>`: unique per attempt, traceable to the DAG run."""
    return f"{lake_safe(str(context['run_id']))}.try{context['ti'].try_number}"


def container_commands(cfg: DagConfig) -> dict[str, list[str]]:
    """The `spacex-etl` command line of each task in the docker and ecs modes."""
    extract = ["extract", "--date", INGEST_DATE, "--run-id", LAKE_RUN_ID]
    extract += ["--input", "{{ params.input }}"]
    if cfg.cores_input:
        extract += ["--cores-input", "{{ params.cores_input }}"]
    return {
        "extract": [*extract, "--json"],
        # The newest raw objects of the date = those this run's extract landed (max_active_runs=1).
        "load": ["load", "--date", INGEST_DATE, "--json"],
        "dbt_run": ["transform", "--command", "run", "--json"],
        "dbt_test": ["transform", "--command", "test", "--json"],
        "report": ["answers", "--json"],
    }


def build_tasks(cfg: DagConfig) -> list[Any]:
    """Create the tasks inside the current DAG context, chained in order; return them."""
    if cfg.mode == "python":
        return _python_tasks(cfg)
    commands = container_commands(cfg)
    make = _docker_task if cfg.mode == "docker" else _ecs_task
    tasks = [make(cfg, task_id, command) for task_id, command in commands.items()]
    for upstream, downstream in itertools.pairwise(tasks):
        upstream >> downstream
    return tasks


def _python_tasks(cfg: DagConfig) -> list[Any]:
    from airflow.sdk import get_current_context, task

    timeouts = cfg.timeouts

    @task(task_id="extract", multiple_outputs=True, execution_timeout=timeouts["extract"])
    def extract() -> dict[str, Any]:
        """Land the source raw in the lake for this run's data interval."""
        context = get_current_context()
        params = context["params"]
        return steps.extract(
            ingest_date(context),
            lake_run_id(context),
            str(params["input"]),
            params.get("cores_input") or None,
        )

    @task(task_id="load", execution_timeout=timeouts["load"])
    def load(raw_uris: list[str]) -> dict[str, Any]:
        """Validate and load exactly the raw objects the extract landed (replaces the batch)."""
        return steps.load(raw_uris)

    @task(task_id="dbt_run", execution_timeout=timeouts["dbt_run"])
    def dbt_run() -> dict[str, Any]:
        """`dbt run`: build the staging, intermediate and mart models."""
        return steps.dbt(["run"])

    @task(task_id="dbt_test", execution_timeout=timeouts["dbt_test"])
    def dbt_test() -> dict[str, Any]:
        """`dbt test`: data tests and unit tests; any failure fails the DAG run."""
        return steps.dbt(["test"])

    @task(task_id="report", execution_timeout=timeouts["report"])
    def report() -> dict[str, Any]:
        """Publish Q1/Q2 and the run's stats (log lines + this task's XCom)."""
        context = get_current_context()
        ti = context["ti"]
        return steps.report(
            ingest_date(context).isoformat(),
            str(context["run_id"]),
            ti.xcom_pull(task_ids="load") or {},
            [ti.xcom_pull(task_ids="dbt_run"), ti.xcom_pull(task_ids="dbt_test")],
        )

    # XComArgs: typed as Any because Airflow resolves them to values only when a task runs.
    # Only extract → load passes data (the raw URIs); the rest is a plain chain, and the
    # report pulls the stats it publishes.
    landed: Any = extract()
    loaded: Any = load(landed["raw_uris"])
    ran: Any = dbt_run()
    tested: Any = dbt_test()
    published: Any = report()
    loaded >> ran >> tested >> published
    return [landed.operator, loaded.operator, ran.operator, tested.operator, published.operator]


def _docker_task(cfg: DagConfig, task_id: str, command: list[str]) -> Any:
    import os

    from airflow.providers.docker.operators.docker import DockerOperator
    from docker.types import Mount

    docker = cfg.docker
    assert docker is not None
    forwarded = {name: os.environ[name] for name in docker.env_names if os.environ.get(name)}
    for name in ("SPACEX_PG_PASSWORD", "SPACEX_REDSHIFT_PASSWORD"):
        if os.environ.get(name):
            forwarded[name] = os.environ[name]
    # Secrets go to private_environment: not a template field, so neither rendered in the UI
    # nor written to the serialised DAG.
    secrets = {k: v for k, v in forwarded.items() if SECRET_NAME.search(k)}
    environment = {k: v for k, v in forwarded.items() if k not in secrets}
    mounts = []
    if docker.data_volume:
        environment["SPACEX_DATA_DIR"] = docker.data_dir
        mounts.append(Mount(target=docker.data_dir, source=docker.data_volume, type="volume"))
    return DockerOperator(
        task_id=task_id,
        image=docker.image,
        command=command,
        environment=environment,
        private_environment=secrets,
        docker_url=docker.docker_url,
        network_mode=docker.network_mode,
        mounts=mounts,
        mount_tmp_dir=False,
        auto_remove="success",
        do_xcom_push=False,
        execution_timeout=cfg.timeouts[task_id],
    )


def _ecs_task(cfg: DagConfig, task_id: str, command: list[str]) -> Any:
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

    ecs = cfg.ecs
    assert ecs is not None
    override: dict[str, Any] = {"name": ecs.container_name, "command": command}
    return EcsRunTaskOperator(
        task_id=task_id,
        cluster=ecs.cluster,
        task_definition=ecs.task_definition,
        launch_type=ecs.launch_type,
        overrides={"containerOverrides": [override]},
        network_configuration={
            "awsvpcConfiguration": {
                "subnets": ecs.subnets,
                "securityGroups": ecs.security_groups,
                "assignPublicIp": "DISABLED",
            }
        },
        awslogs_group=ecs.awslogs_group,
        awslogs_region=ecs.region,
        awslogs_stream_prefix=ecs.awslogs_stream_prefix,
        container_name=ecs.container_name,
        propagate_tags="TASK_DEFINITION",
        reattach=True,  # a retried Airflow task re-attaches to its running ECS task
        aws_conn_id=ecs.aws_conn_id,
        region_name=ecs.region,
        do_xcom_push=False,
        execution_timeout=cfg.timeouts[task_id],
    )

"""Build the DAG's tasks for an execution mode: python (in-process), docker or ecs.

One contract for every mode: the ingest date and the lake run id come from the same two
templates, rendered once by the extract task; the extract task's XCom names the raw objects it
landed and the load task loads exactly those; the report reads the ledger rows of that lake
run id. A retried or cleared extract gets a new run id (`.try<N>`), so it lands a new
immutable raw object and the load replaces that date's batch in the warehouse.

python mode: extract → load → dbt task group (one task per model, then the tests; Cosmos) →
report. docker/ecs modes run the ETL image's CLI: extract → load → dbt_run → dbt_test →
report — one dbt task per command there (see `part-2/README.md` for why not Cosmos's
container modes).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from spacex_elt_support import alerts, assets, retries, steps
from spacex_elt_support.config import DagConfig

# A run triggered without a logical date (Airflow 3's REST API accepts `"logical_date": null`)
# has no data interval and no such names in its template context at all: read them from the
# run, where they are None, and fall back to when the run was due (`run_after`).
INGEST_DATE = (
    "{{ (dag_run.data_interval_start or dag_run.logical_date or dag_run.run_after)"
    ".strftime('%Y-%m-%d') }}"
)
LAKE_RUN_ID = "{{ run_id | lake_safe }}.try{{ ti.try_number }}"
EXTRACT_RUN_ID = "{{ ti.xcom_pull(task_ids='extract') | run_id_of }}"

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY", re.IGNORECASE)
JOB_ENV = {"SPACEX_SOURCE_LOCAL_FILES": "false"}
"""Set on every container task, over whatever the deployment forwards: the DAG acts for whoever
triggers it, so its job reads no local file (only SPACEX_SOURCE_INBOX_DIR); python mode passes
`local_files=False` (`steps.extract`)."""


def default_args(cfg: DagConfig) -> dict[str, Any]:
    """Retries with exponential backoff (capped) — none for what a retry cannot fix
    (`retries.FailFast`) —, alerts; timeouts are set per task."""
    return {
        "owner": "data-engineering",
        "retries": cfg.retries,
        "retry_delay": cfg.retry_delay,
        "retry_exponential_backoff": cfg.retry_backoff,
        "max_retry_delay": cfg.max_retry_delay,
        "retry_policy": retries.FailFast(),
        "on_failure_callback": alerts.failure_callbacks(cfg),
        "on_retry_callback": alerts.on_retry,
        "depends_on_past": False,
    }


def mart_models(cfg: DagConfig) -> list[str]:
    """The dbt models under `models/marts/` (their tasks declare the mart Assets)."""
    return sorted(p.stem for p in (Path(cfg.dbt_project_dir) / "models" / "marts").rglob("*.sql"))


def container_commands(cfg: DagConfig) -> dict[str, list[str]]:
    """The `spacex-etl` command line of each task in the docker and ecs modes."""
    extract = ["extract", "--date", INGEST_DATE, "--run-id", LAKE_RUN_ID]
    extract += ["--input", "{{ params.input }}"]
    if cfg.cores_input:
        extract += ["--cores-input", "{{ params.cores_input }}"]
    return {
        "extract": [*extract, "--json"],
        # + `--raw-uri <uri>` for each object the extract landed (operators.with_raw_uris)
        "load": ["load", "--json"],
        "dbt_run": ["transform", "--command", "run", "--json"],
        "dbt_test": ["transform", "--command", "test", "--json"],
        "report": ["report", "--run-id", EXTRACT_RUN_ID, "--json"],
    }


def task_assets(cfg: DagConfig) -> dict[str, dict[str, Any]]:
    """Inlets/outlets per task: lake → raw tables → marts."""
    return {
        "extract": {"outlets": assets.lake()},
        "load": {"inlets": assets.lake(), "outlets": assets.raw_tables()},
        "dbt_run": {"inlets": assets.raw_tables(), "outlets": marts(cfg)},
    }


def marts(cfg: DagConfig) -> list[Any]:
    return [assets.mart(model) for model in mart_models(cfg)]


def build_tasks(cfg: DagConfig) -> list[Any]:
    """Create the tasks inside the current DAG context, chained in order; return them."""
    if cfg.mode == "python":
        return _python_tasks(cfg)
    commands = container_commands(cfg)
    make = _docker_task if cfg.mode == "docker" else _ecs_task
    lineage = task_assets(cfg)
    tasks = [
        make(cfg, task_id, command, **lineage.get(task_id, {}))
        for task_id, command in commands.items()
    ]
    for upstream, downstream in itertools.pairwise(tasks):
        upstream >> downstream
    return tasks


def _python_tasks(cfg: DagConfig) -> list[Any]:
    from spacex_elt_support.dbt_group import dbt_task_group
    from spacex_elt_support.operators import StepOperator

    timeouts = cfg.timeouts
    lineage = task_assets(cfg)
    extract = StepOperator(
        task_id="extract",
        python_callable=steps.extract,
        op_kwargs={
            "ingest_date": INGEST_DATE,
            "run_id": LAKE_RUN_ID,
            "input_location": "{{ params.input }}",
            "cores_input": "{{ params.cores_input or '' }}",
        },
        execution_timeout=timeouts["extract"],
        doc_md="Land the source raw in the lake for this run's data interval.",
        **lineage["extract"],
    )
    load = StepOperator(
        task_id="load",
        python_callable=steps.load,
        op_kwargs={"extracted": extract.output},
        execution_timeout=timeouts["load"],
        doc_md="Validate and load exactly the raw objects the extract landed.",
        **lineage["load"],
    )
    if cfg.dbt_tasks == "build":
        dbt: Any = StepOperator(
            task_id="dbt_build",
            python_callable=steps.transform,
            execution_timeout=timeouts["dbt_run"] + timeouts["dbt_test"],
            doc_md="One `dbt build`: every model, data test and unit test.",
            **lineage["dbt_run"],
        )
    else:
        dbt = dbt_task_group(cfg, default_args(cfg), after=load)
    report = StepOperator(
        task_id="report",
        python_callable=steps.report,
        op_kwargs={
            "ingest_date": INGEST_DATE,
            "extracted": extract.output,
            "load_summary": load.output,
        },
        execution_timeout=timeouts["report"],
        doc_md="Q1/Q2 and the data-quality page (lake reports zone); the page's URI in XCom.",
    )
    extract >> load
    if cfg.dbt_tasks == "build":
        load >> dbt  # (the task group puts itself downstream of load)
    dbt >> report
    return [extract, load, dbt, report]


def _docker_task(cfg: DagConfig, task_id: str, command: list[str], **lineage: Any) -> Any:
    import os

    from airflow.providers.docker.operators.docker import DockerOperator
    from docker.types import Mount

    from spacex_elt_support.operators import with_raw_uris

    docker = cfg.docker
    forwarded = {name: os.environ[name] for name in docker.env if os.environ.get(name)}
    for name in ("SPACEX_PG_PASSWORD", "SPACEX_PG_DBT_PASSWORD", "SPACEX_REDSHIFT_PASSWORD"):
        if os.environ.get(name):
            forwarded[name] = os.environ[name]
    # Secrets go to private_environment: not a template field, so neither rendered in the UI
    # nor written to the serialised DAG.
    secrets = {k: v for k, v in forwarded.items() if SECRET_NAME.search(k)}
    environment = {k: v for k, v in forwarded.items() if k not in secrets} | JOB_ENV
    mounts = []
    if docker.data_volume:
        environment["SPACEX_DATA_DIR"] = docker.data_dir
        mounts.append(Mount(target=docker.data_dir, source=docker.data_volume, type="volume"))
    operator = with_raw_uris(DockerOperator) if task_id == "load" else DockerOperator
    return operator(
        task_id=task_id,
        image=docker.image,
        command=command,
        environment=environment,
        private_environment=secrets,
        docker_url=docker.url,
        network_mode=docker.network,
        mounts=mounts,
        mount_tmp_dir=False,
        auto_remove="success",
        do_xcom_push=task_id in ("extract", "report"),  # the CLI's `--json` line, among
        xcom_all=True,  # all output lines: a log line on stderr may follow the summary
        execution_timeout=cfg.timeouts[task_id],
        **lineage,
    )


def _ecs_task(cfg: DagConfig, task_id: str, command: list[str], **lineage: Any) -> Any:
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

    from spacex_elt_support.operators import with_raw_uris, with_summary_from_logs

    ecs = cfg.ecs
    override: dict[str, Any] = {
        "name": ecs.container_name,
        "command": command,
        "environment": [{"name": k, "value": v} for k, v in JOB_ENV.items()],
    }
    operator = with_raw_uris(EcsRunTaskOperator) if task_id == "load" else EcsRunTaskOperator
    if task_id in ("extract", "report"):
        operator = with_summary_from_logs(operator)
    return operator(
        task_id=task_id,
        cluster=ecs.cluster_ref,
        task_definition=ecs.task_definition_ref,
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
        # The CLI's `--json` summary, read back from CloudWatch Logs (needs the log group).
        do_xcom_push=task_id in ("extract", "report") and bool(ecs.awslogs_group),
        execution_timeout=cfg.timeouts[task_id],
        **lineage,
    )

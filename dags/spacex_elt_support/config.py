"""How the DAG runs, read from `SPACEX_AIRFLOW_*` / `SPACEX_ECS_*` environment variables.

Reading the environment is the only thing done at parse time: no Airflow Variables, no
connections, no imports of the pipeline. Secrets never pass through here — the tasks (or the
containers) read them from their own environment, Airflow connections or AWS.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

ExecutionMode = Literal["python", "docker", "ecs"]
MODES: tuple[ExecutionMode, ...] = ("python", "docker", "ecs")

TASK_IDS = ("extract", "load", "dbt_run", "dbt_test", "report")

DEFAULT_TIMEOUTS_S = {
    "extract": 15 * 60,
    "load": 30 * 60,
    "dbt_run": 60 * 60,
    "dbt_test": 30 * 60,
    "report": 10 * 60,
}


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


def _float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


def _bool(name: str, default: bool) -> bool:
    return _env(name, str(default)).lower() in {"1", "true", "yes", "on"}


def _list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _variable(env_name: str, variable: str) -> str:
    """The env var's value, else a template that reads the Airflow Variable when the task runs.

    Variables can themselves come from the environment (`AIRFLOW_VAR_<NAME>`), so nothing is
    hard-coded and nothing touches the metadata database at parse time.
    """
    return _env(env_name, "{{ var.value.%s }}" % variable)  # noqa: UP031 - Jinja braces


def lake_safe(run_id: str) -> str:
    """An Airflow run id as a lake path segment.

    `manual__2024-06-01T00:00:00+00:00` → `manual__2024-06-01T00-00-00-00-00`.
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", run_id).strip("-")


@dataclass(frozen=True)
class EcsConfig:
    """Where the ECS tasks run (`SPACEX_ECS_*`, else Airflow Variables `spacex_ecs_*`)."""

    cluster: str
    task_definition: str
    container_name: str
    subnets: list[str]
    security_groups: list[str]
    launch_type: str
    awslogs_group: str | None
    awslogs_stream_prefix: str | None
    region: str | None
    aws_conn_id: str

    @classmethod
    def from_env(cls) -> EcsConfig:
        return cls(
            cluster=_variable("SPACEX_ECS_CLUSTER", "spacex_ecs_cluster"),
            task_definition=_variable("SPACEX_ECS_TASK_DEFINITION", "spacex_ecs_task_definition"),
            container_name=_env("SPACEX_ECS_CONTAINER_NAME", "etl"),
            subnets=_list("SPACEX_ECS_SUBNETS"),
            security_groups=_list("SPACEX_ECS_SECURITY_GROUPS"),
            launch_type=_env("SPACEX_ECS_LAUNCH_TYPE", "FARGATE"),
            awslogs_group=os.environ.get("SPACEX_ECS_AWSLOGS_GROUP") or None,
            awslogs_stream_prefix=os.environ.get("SPACEX_ECS_AWSLOGS_STREAM_PREFIX") or None,
            region=os.environ.get("SPACEX_ECS_REGION") or os.environ.get("AWS_REGION") or None,
            aws_conn_id=_env("SPACEX_AIRFLOW_AWS_CONN_ID", "aws_default"),
        )


@dataclass(frozen=True)
class DockerConfig:
    """How the Docker tasks run (`SPACEX_AIRFLOW_DOCKER_*`)."""

    image: str
    docker_url: str
    network_mode: str | None
    data_volume: str | None
    data_dir: str
    env_names: list[str]

    @classmethod
    def from_env(cls) -> DockerConfig:
        return cls(
            image=_env("SPACEX_AIRFLOW_IMAGE", "spacex-etl:0.1.0"),
            docker_url=_env("SPACEX_AIRFLOW_DOCKER_URL", "unix://var/run/docker.sock"),
            network_mode=os.environ.get("SPACEX_AIRFLOW_DOCKER_NETWORK") or None,
            data_volume=os.environ.get("SPACEX_AIRFLOW_DOCKER_DATA_VOLUME") or None,
            data_dir=_env("SPACEX_AIRFLOW_DOCKER_DATA_DIR", "/data"),
            env_names=_list("SPACEX_AIRFLOW_DOCKER_ENV")
            or [
                "SPACEX_WAREHOUSE",
                "SPACEX_LAKE_URI",
                "SPACEX_PG_HOST",
                "SPACEX_PG_PORT",
                "SPACEX_PG_USER",
                "SPACEX_PG_DATABASE",
                "SPACEX_REDSHIFT_HOST",
                "SPACEX_REDSHIFT_DATABASE",
                "SPACEX_REDSHIFT_USER",
                "SPACEX_REDSHIFT_SECRET_ARN",
                "SPACEX_REDSHIFT_IAM_ROLE_ARN",
                "SPACEX_AWS_REGION",
            ],
        )


@dataclass(frozen=True)
class DagConfig:
    """Everything about scheduling and execution that an operator may want to change."""

    mode: ExecutionMode = "python"
    schedule: str = "@daily"
    start_date: datetime = datetime(2024, 6, 1)  # naive: made UTC by the DAG
    catchup: bool = False
    retries: int = 3
    retry_delay: timedelta = timedelta(minutes=1)
    retry_backoff: float = 2.0
    max_retry_delay: timedelta = timedelta(minutes=30)
    timeouts: dict[str, timedelta] = field(
        default_factory=lambda: {k: timedelta(seconds=v) for k, v in DEFAULT_TIMEOUTS_S.items()}
    )
    dagrun_timeout: timedelta = timedelta(hours=3)
    input: str = "snapshot"
    cores_input: str | None = None
    alert_emails: list[str] = field(default_factory=list)
    docker: DockerConfig | None = None
    ecs: EcsConfig | None = None

    @classmethod
    def from_env(cls) -> DagConfig:
        mode = _env("SPACEX_AIRFLOW_EXECUTION_MODE", "python").lower()
        if mode not in MODES:
            raise ValueError(
                f"SPACEX_AIRFLOW_EXECUTION_MODE={mode!r}: choose one of {', '.join(MODES)}"
            )
        scale = _float("SPACEX_AIRFLOW_TIMEOUT_SCALE", 1.0)
        return cls(
            mode=mode,  # type: ignore[arg-type]
            schedule=_env("SPACEX_AIRFLOW_SCHEDULE", "@daily"),
            start_date=datetime.fromisoformat(_env("SPACEX_AIRFLOW_START_DATE", "2024-06-01")),
            catchup=_bool("SPACEX_AIRFLOW_CATCHUP", False),
            retries=_int("SPACEX_AIRFLOW_RETRIES", 3),
            retry_delay=timedelta(seconds=_float("SPACEX_AIRFLOW_RETRY_DELAY_S", 60)),
            retry_backoff=_float("SPACEX_AIRFLOW_RETRY_BACKOFF", 2.0),
            max_retry_delay=timedelta(seconds=_float("SPACEX_AIRFLOW_MAX_RETRY_DELAY_S", 1800)),
            timeouts={k: timedelta(seconds=v * scale) for k, v in DEFAULT_TIMEOUTS_S.items()},
            input=_env("SPACEX_AIRFLOW_INPUT", "snapshot"),
            cores_input=os.environ.get("SPACEX_AIRFLOW_CORES_INPUT") or None,
            alert_emails=_list("SPACEX_ALERT_EMAILS"),
            docker=DockerConfig.from_env() if mode == "docker" else None,
            ecs=EcsConfig.from_env() if mode == "ecs" else None,
        )

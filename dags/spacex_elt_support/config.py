"""How the DAG runs, read with pydantic-settings from `SPACEX_AIRFLOW_*` / `SPACEX_ECS_*` /
`SPACEX_ALERT_*` environment variables (the job reads its own `SPACEX_*` the same way).

Reading the environment is the only thing done at parse time: no Airflow Variables, no
connections, no imports of the pipeline. Secrets never pass through here — the tasks (or the
containers) read them from their own environment, Airflow connections or AWS.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from spacex_etl.config import Settings

ExecutionMode = Literal["python", "docker", "ecs"]
MODES: tuple[ExecutionMode, ...] = ("python", "docker", "ecs")
DbtTasks = Literal["watcher", "local", "build"]

DEFAULT_TIMEOUTS_S = {
    "extract": 15 * 60,
    "load": 30 * 60,
    "dbt_run": 60 * 60,
    "dbt_test": 30 * 60,
    "report": 10 * 60,
}

CommaList = Annotated[list[str], NoDecode]


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _variable(value: str | None, variable: str) -> str:
    """The env var's value, else a template that reads the Airflow Variable when the task runs.

    Variables can themselves come from the environment (`AIRFLOW_VAR_<NAME>`), so nothing is
    hard-coded and nothing touches the metadata database at parse time.
    """
    return value or "{{ var.value.%s }}" % variable  # noqa: UP031 - Jinja braces


def lake_safe(run_id: str) -> str:
    """An Airflow run id as a lake path segment.

    `manual__2024-06-01T00:00:00+00:00` → `manual__2024-06-01T00-00-00-00-00`.
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", run_id).strip("-")


def _repo_dbt_dir() -> Path:
    """`<repo>/dbt_spacex` beside this dags folder (a checkout); images set the variable."""
    return Path(__file__).resolve().parents[2] / "dbt_spacex"


class EcsConfig(BaseSettings):
    """Where the ECS tasks run (`SPACEX_ECS_*`, else Airflow Variables `spacex_ecs_*`)."""

    model_config = SettingsConfigDict(
        env_prefix="SPACEX_ECS_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    cluster: str | None = None
    task_definition: str | None = None
    container_name: str = "etl"
    subnets: CommaList = Field(default_factory=list)
    security_groups: CommaList = Field(default_factory=list)
    launch_type: str = "FARGATE"
    awslogs_group: str | None = None
    awslogs_stream_prefix: str | None = None
    region: str | None = Field(
        None, validation_alias=AliasChoices("SPACEX_ECS_REGION", "AWS_REGION")
    )
    aws_conn_id: str = Field("aws_default", validation_alias="SPACEX_AIRFLOW_AWS_CONN_ID")

    _split_lists = field_validator("subnets", "security_groups", mode="before")(_split)

    @property
    def cluster_ref(self) -> str:
        return _variable(self.cluster, "spacex_ecs_cluster")

    @property
    def task_definition_ref(self) -> str:
        return _variable(self.task_definition, "spacex_ecs_task_definition")


DOCKER_ENV_DEFAULT = [
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
]


class DockerConfig(BaseSettings):
    """How the Docker tasks run (`SPACEX_AIRFLOW_DOCKER_*`, image `SPACEX_AIRFLOW_IMAGE`)."""

    model_config = SettingsConfigDict(
        env_prefix="SPACEX_AIRFLOW_DOCKER_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    image: str = Field("spacex-etl:0.1.0", validation_alias="SPACEX_AIRFLOW_IMAGE")
    url: str = "unix://var/run/docker.sock"
    network: str | None = None
    data_volume: str | None = None
    data_dir: str = "/data"
    env: CommaList = Field(default_factory=lambda: list(DOCKER_ENV_DEFAULT))

    _split_lists = field_validator("env", mode="before")(_split)


class DagConfig(BaseSettings):
    """Everything about scheduling and execution that an operator may want to change."""

    model_config = SettingsConfigDict(
        env_prefix="SPACEX_AIRFLOW_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    execution_mode: ExecutionMode = "python"
    dbt_tasks: DbtTasks = Field(
        "watcher",
        description="python mode: one task per model fed by one dbt build (watcher), one dbt "
        "start-up per model (local), or one dbt build task (build)",
    )
    schedule: str | None = Field("@daily", description="a cron or preset; `none`: triggered only")
    start_date: datetime = datetime(2024, 6, 1)  # naive: made UTC by the DAG
    catchup: bool = False
    retries: int = Field(3, ge=0)
    retry_delay_s: float = Field(60, ge=0)
    retry_backoff: float = Field(2.0, ge=1)
    max_retry_delay_s: float = Field(1800, ge=0)
    timeout_scale: float = Field(1.0, gt=0)
    max_active_tasks: int | None = Field(
        None, ge=1, description="Tasks at a time per run; default `parallel_tasks`"
    )
    input: str = "snapshot"  # both checked by the DAG's params against `source_pattern`
    cores_input: str | None = None
    dbt_project_dir: Path = Field(
        default_factory=_repo_dbt_dir, validation_alias="SPACEX_DBT_PROJECT_DIR"
    )
    dbt_manifest: Path | None = Field(
        None, description="dbt manifest.json made at build time; default <project>/target/"
    )
    alert_http_conn_id: str | None = Field(None, validation_alias="SPACEX_ALERT_HTTP_CONN_ID")
    alert_emails: CommaList = Field(default_factory=list, validation_alias="SPACEX_ALERT_EMAILS")
    alert_smtp_conn_id: str = Field("smtp_default", validation_alias="SPACEX_ALERT_SMTP_CONN_ID")

    _split_lists = field_validator("alert_emails", mode="before")(_split)

    @field_validator("schedule", mode="before")
    @classmethod
    def _no_schedule(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() == "none" else value

    @field_validator("execution_mode", "dbt_tasks", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @classmethod
    def from_env(cls) -> DagConfig:
        """Read the environment; a bad value fails the parse naming its variable."""
        try:
            return cls()
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0])
            env = field if field.startswith("SPACEX_") else f"SPACEX_AIRFLOW_{field.upper()}"
            raise ValueError(f"{env}={first.get('input')!r}: {first['msg']}") from None

    @property
    def mode(self) -> ExecutionMode:
        return self.execution_mode

    @property
    def retry_delay(self) -> timedelta:
        return timedelta(seconds=self.retry_delay_s)

    @property
    def max_retry_delay(self) -> timedelta:
        return timedelta(seconds=self.max_retry_delay_s)

    @property
    def timeouts(self) -> dict[str, timedelta]:
        scale = self.timeout_scale
        return {k: timedelta(seconds=v * scale) for k, v in DEFAULT_TIMEOUTS_S.items()}

    @property
    def dagrun_timeout(self) -> timedelta:
        return timedelta(hours=3)

    @cached_property
    def job(self) -> Settings:
        """The job's own settings (`SPACEX_*`): the warehouse, its dbt target, the sources it
        allows. Light to read at parse time: config only, no adapter, no driver."""
        from spacex_etl.config import Settings

        return Settings()

    @property
    def dbt_target(self) -> str:
        """The dbt target Cosmos runs: the job's (`SPACEX_DBT_TARGET`, else the warehouse)."""
        return self.job.target

    @property
    def source_pattern(self) -> str:
        """What the `input`/`cores_input` params accept (JSON-schema `pattern`): `snapshot` or a
        URL on a host the job allows — the job's own rule (`spacex_etl.sources.source_pattern`,
        light: config and sources only), so the two can never disagree."""
        from spacex_etl.sources import source_pattern

        return source_pattern(self.job)

    @property
    def single_writer(self) -> bool:
        """The warehouse takes one writing process at a time (`warehouse.single_writer`: DuckDB)."""
        from spacex_etl.warehouse import single_writer

        return single_writer(self.job.warehouse)

    @property
    def parallel_tasks(self) -> int:
        """Tasks at a time. On a single-writer warehouse one, except the watcher's model tasks:
        they read their results from the producer's one build and write only when one falls
        back to running its model (a cleared or retried task), and those runs take the
        warehouse's writer lock one at a time (`dbt_group.one_writer_at_a_time`)."""
        if self.max_active_tasks:
            return self.max_active_tasks
        watcher = self.mode == "python" and self.dbt_tasks == "watcher"
        return 1 if self.single_writer and not watcher else 8

    @property
    def writer_lock(self) -> Path:
        """The lock a single-writer warehouse's writes from the DAG's dbt tasks queue on, next to
        its file."""
        db = self.job.duckdb_file
        return db.with_name(f"{db.name}.lock")

    @property
    def manifest_path(self) -> Path:
        return self.dbt_manifest or self.dbt_project_dir / "target" / "manifest.json"

    @property
    def docker(self) -> DockerConfig:
        return DockerConfig()

    @property
    def ecs(self) -> EcsConfig:
        return EcsConfig()

"""Run dbt (in-process, through dbt's Python API) against the configured warehouse."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from spacex_etl.config import Settings
from spacex_etl.errors import ConfigError, TransformError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """Set env vars for dbt's `env_var()` and restore the previous values afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dbt_env(settings: Settings) -> dict[str, str]:
    """The variables dbt_spacex/profiles.yml reads (`env_var()`) for the configured warehouse.

    Passwords go in `DBT_ENV_SECRET_*` variables, which dbt scrubs from its logs and
    messages. dbt logs in as its own user where one is configured (it owns the dbt schema and
    only reads raw; see warehouse/roles.sql): `SPACEX_PG_DBT_USER` on PostgreSQL,
    `SPACEX_REDSHIFT_DBT_USER` with IAM auth on Redshift (with database auth: the password's
    user).
    """
    env = {
        "SPACEX_WAREHOUSE": settings.warehouse,
        "SPACEX_RAW_SCHEMA": settings.raw_schema,
        "SPACEX_DBT_SCHEMA": settings.dbt_schema,
    }
    if settings.warehouse == "duckdb":
        from spacex_etl.columnar import MEMORY_LIMIT  # the job's DuckDB share of its 1 GiB task

        return env | {
            "SPACEX_DUCKDB_PATH": str(settings.duckdb_file),
            "DBT_DUCKDB_MEMORY_LIMIT": MEMORY_LIMIT,
        }
    if settings.warehouse == "postgres":
        pg = settings.postgres
        secret = pg.password if pg.dbt_user is None else pg.dbt_password or pg.password
        return env | {
            "SPACEX_PG_HOST": pg.host,
            "SPACEX_PG_PORT": str(pg.port),
            "SPACEX_PG_USER": pg.dbt_user or pg.user,
            "DBT_ENV_SECRET_SPACEX_PG_PASSWORD": secret.get_secret_value(),
            "SPACEX_PG_DATABASE": pg.database,
        }
    from spacex_etl.warehouse.redshift import RedshiftWarehouse

    rs = settings.redshift
    if not rs.host:
        raise ConfigError("SPACEX_REDSHIFT_HOST is not set; the redshift warehouse needs it")
    warehouse = RedshiftWarehouse.from_settings(settings)
    creds = warehouse.credentials()
    user, password = creds if creds is not None else (rs.dbt_user, "")
    return env | {
        "SPACEX_REDSHIFT_HOST": rs.host,
        "SPACEX_REDSHIFT_PORT": str(rs.port),
        "SPACEX_REDSHIFT_DATABASE": rs.database,
        "SPACEX_REDSHIFT_AUTH_METHOD": "database" if creds is not None else "iam",
        "SPACEX_REDSHIFT_CLUSTER_ID": warehouse.cluster_identifier() or "",
        "SPACEX_REDSHIFT_DBT_USER": user,
        "DBT_ENV_SECRET_SPACEX_REDSHIFT_PASSWORD": password,
    }


def output_dir(settings: Settings) -> Path:
    """Where dbt writes for this target: `target/` (manifest, run_results.json) and `logs/`."""
    return (settings.data_dir / "dbt" / settings.target).resolve()


def dbt_args(settings: Settings, command: list[str]) -> list[str]:
    """Common dbt CLI arguments: project, profiles, target and where output goes."""
    project = settings.dbt_project_dir
    if not (project / "dbt_project.yml").exists():
        raise ConfigError(f"no dbt project at {project} (set SPACEX_DBT_PROJECT_DIR)")
    out = output_dir(settings)
    return [
        *command,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target",
        settings.target,
        "--target-path",
        str(out / "target"),
        "--log-path",
        str(out / "logs"),
    ]


def release_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB connection in a class attribute after dbt returns; close it
    so that other processes (the next load, a BI tool) can open the file."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - dbt-duckdb is a runtime dependency
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        DuckDBConnectionManager._ENV = None
        env.close()


def invoke(settings: Settings, command: list[str]) -> Any:
    """Run one dbt command; dbt's console output goes to stderr so stdout stays clean."""
    from dbt.cli.main import dbtRunner

    env = dbt_env(settings)
    args = dbt_args(settings, command)
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        args += ["--log-level", "warn"]  # the full log still goes to <target>/logs/dbt.log
    log.info("dbt %s (target %s)", " ".join(command), settings.target)
    try:
        with patched_environ(env), contextlib.redirect_stdout(sys.stderr):
            result = dbtRunner().invoke(args)
    finally:
        release_duckdb()
    if result.exception is not None:
        raise TransformError(f"dbt {command[0]} could not run: {result.exception}")
    return result


DbtCommand = Literal["build", "run", "test"]


def summarise(command: list[str], result: Any) -> dict[str, Any]:
    """Status counts and the failing nodes (name, status, message) of a dbtRunner result."""
    statuses: dict[str, int] = {}
    failures: list[str] = []
    for node in result.result or []:
        status = str(getattr(node.status, "value", node.status))
        statuses[status] = statuses.get(status, 0) + 1
        if status in {"error", "fail", "runtime error"}:
            message = " ".join(str(node.message or "").split())[:200]
            failures.append(f"{node.node.name} ({status}: {message})")
    return {"command": " ".join(command), "statuses": statuses, "failures": failures}


def run_dbt(
    settings: Settings,
    command: DbtCommand = "build",
    select: str | None = None,
    full_refresh: bool = False,
) -> dict[str, Any]:
    """`dbt build|run|test`; raise TransformError naming what failed (a failing test fails)."""
    args: list[str] = [command]
    if select:
        args += ["--select", select]
    if full_refresh and command != "test":
        args.append("--full-refresh")
    result = invoke(settings, args)
    summary = summarise(args, result)
    if not result.success:
        failures = summary["failures"]
        shown = "; ".join(failures[:5]) or "see the dbt log"
        more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
        logs = Path(dbt_args(settings, [])[-1]) / "dbt.log"
        raise TransformError(f"dbt {command} failed: {shown}{more} (log: {logs})")
    return summary


def build(
    settings: Settings, select: str | None = None, full_refresh: bool = False
) -> dict[str, Any]:
    """`dbt build`: models, data tests and unit tests in dependency order."""
    return run_dbt(settings, "build", select, full_refresh)

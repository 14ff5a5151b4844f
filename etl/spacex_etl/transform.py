"""Run dbt (in-process, through dbt's Python API) against the configured warehouse.

dbt's start-up is most of a small run's time, so every invocation starts warm: dbt writes its
state to one stable folder per target (`output_dir`), and a first run there starts from the
partial-parse state built ahead of time (`make dbt-manifest`, the images' build), which was
made with the same profile, target, vars and environment (`dbt_env`, `dbt_args`): dbt then
reuses it instead of parsing the whole project again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from spacex_etl.config import Settings
from spacex_etl.errors import ConfigError, TransformError
from spacex_etl.warehouse import SqlWarehouse, open_warehouse

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


PROFILE = "spacex"
"""The profile in dbt_spacex/profiles.yml; named on every command line, as Cosmos does, so that
the partial-parse state is interchangeable between the job and the DAG."""
STATE_FILE = "partial_parse.msgpack"


def dbt_env(settings: Settings, warehouse: SqlWarehouse | None = None) -> dict[str, str]:
    """The variables dbt_spacex/profiles.yml reads (`env_var()`): the target and schemas, the
    anomaly checks' thresholds, what the warehouse's adapter says its target needs
    (`SqlWarehouse.dbt_env`: on Redshift this fetches credentials), and dbt's threads where the
    warehouse computes on this machine (`SqlWarehouse.dbt_threads`; a `DBT_THREADS` set by hand
    wins)."""
    warehouse = warehouse or open_warehouse(settings)
    env = {
        "SPACEX_WAREHOUSE": settings.warehouse,
        "SPACEX_RAW_SCHEMA": settings.raw_schema,
        "SPACEX_DBT_SCHEMA": settings.dbt_schema,
    }
    threads = os.environ.get("DBT_THREADS") or warehouse.dbt_threads()
    if threads is not None:
        env["DBT_THREADS"] = str(threads)
    return env | monitor_env(settings) | warehouse.dbt_env()


def monitor_env(settings: Settings) -> dict[str, str]:
    """The anomaly checks' thresholds (`SPACEX_MONITOR_*`) as dbt reads them."""
    names = type(settings.monitor).env_names()
    return {
        names[name]: ",".join(value) if isinstance(value, tuple) else str(value)
        for name, value in settings.monitor.model_dump().items()
    }


def output_dir(settings: Settings) -> Path:
    """Where dbt writes for this target: `target/` (manifest, run_results.json) and `logs/`."""
    return (settings.data_dir / "dbt" / settings.target).resolve()


def prebuilt_dir(settings: Settings) -> Path:
    """The state built ahead of time (`make dbt-manifest`, image build): manifest.json, which
    the DAG renders its dbt tasks from, and the partial-parse state runs start from."""
    return settings.dbt_project_dir / "target"


def dbt_args(settings: Settings, command: list[str], target_path: Path | None = None) -> list[str]:
    """Common dbt CLI arguments: project, profile, target and where output goes."""
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
        "--profile",
        PROFILE,
        "--target",
        settings.target,
        "--target-path",
        str(target_path or out / "target"),
        "--log-path",
        str(out / "logs"),
    ]


def start_warm(settings: Settings) -> None:
    """Give a run folder without dbt state the prebuilt state (dbt checks it still applies:
    same project files, profile, target, vars; otherwise it parses in full, as without)."""
    target = output_dir(settings) / "target"
    prebuilt = prebuilt_dir(settings)
    if (target / STATE_FILE).is_file() or not (prebuilt / STATE_FILE).is_file():
        return
    target.mkdir(parents=True, exist_ok=True)
    for name in (STATE_FILE, "manifest.json"):
        if (prebuilt / name).is_file():
            shutil.copyfile(prebuilt / name, target / name)


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


def invoke(settings: Settings, command: list[str], target_path: Path | None = None) -> Any:
    """Run one dbt command; dbt's console output goes to stderr so stdout stays clean."""
    from dbt.cli.main import dbtRunner

    env = dbt_env(settings)
    args = dbt_args(settings, command, target_path)
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # Silent console: a failure becomes our one TransformError line naming the failing nodes
        # (dbt's tracebacks and colour codes stay out of it); <output>/logs/dbt.log keeps what
        # each run did, parsing included ("Unable to do partial parsing because ...").
        args += ["--log-level", "none", "--log-level-file", "info"]
    if target_path is None:
        start_warm(settings)
    log.info("dbt %s (target %s)", " ".join(command), settings.target)
    try:
        with patched_environ(env), contextlib.redirect_stdout(sys.stderr):
            result = dbtRunner().invoke(args)
    finally:
        release_duckdb()
    if isinstance(result.exception, KeyboardInterrupt):  # dbt caught Ctrl-C: pass it on
        raise result.exception
    if result.exception is not None:
        cause = str(result.exception) or type(result.exception).__name__
        raise TransformError(f"dbt {command[0]} could not run: {cause}")
    return result


DbtCommand = Literal["build", "run", "test", "parse"]


def parse(settings: Settings) -> dict[str, Any]:
    """`dbt parse` into the prebuilt folder: the manifest and partial-parse state, made with
    exactly the environment and arguments later runs use (no warehouse connection needed)."""
    out = prebuilt_dir(settings)
    result = invoke(settings, ["parse"], target_path=out)
    if not result.success:
        raise TransformError(f"dbt parse failed (log: {output_dir(settings) / 'logs' / 'dbt.log'})")
    return {"command": "parse", "manifest": str(out / "manifest.json")}


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
    """`dbt build|run|test|parse`; raise TransformError naming what failed (a failing test
    fails)."""
    if command == "parse":
        return parse(settings)
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

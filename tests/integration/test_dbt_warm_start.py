"""dbt starts warm: the state `spacex-etl transform --command parse` builds ahead of time (the
images' build, `make dbt-manifest`) is what a later run starts from — no full parse.

dbt says "Unable to do partial parsing because ..." in its log whenever it throws its state
away and parses the whole project; a warm run must never say it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from spacex_etl import transform
from spacex_etl.config import Settings
from tests.conftest import REPO

FULL_PARSE = "Unable to do partial parsing"


def _project(tmp_path: Path) -> Path:
    """A copy of the dbt project (parse writes its state into <project>/target)."""
    project = tmp_path / "dbt_spacex"
    shutil.copytree(
        REPO / "dbt_spacex",
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    return project


def _run_log(settings: Settings) -> str:
    transform.invoke(settings, ["ls", "--resource-type", "model", "--quiet"])
    log = transform.output_dir(settings) / "logs" / "dbt.log"
    text = log.read_text()
    log.unlink()  # the next invocation's log alone
    return text


def test_a_run_after_the_prebuilt_parse_does_not_parse_again(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", dbt_project_dir=_project(tmp_path))
    transform.parse(settings)
    prebuilt = transform.prebuilt_dir(settings)
    assert (prebuilt / "manifest.json").is_file()
    assert (prebuilt / transform.STATE_FILE).is_file()
    (transform.output_dir(settings) / "logs" / "dbt.log").unlink()

    first = _run_log(settings)  # a fresh run folder, as in a new container
    assert FULL_PARSE not in first, first[-2000:]
    assert (transform.output_dir(settings) / "target" / transform.STATE_FILE).is_file()
    assert FULL_PARSE not in _run_log(settings)  # and the run after it


def test_state_built_with_other_settings_is_not_reused_and_dbt_says_so(tmp_path: Path) -> None:
    """The check above can fail: a parse made for another warehouse file is thrown away."""
    project = _project(tmp_path)
    transform.parse(Settings(data_dir=tmp_path / "parse-time", dbt_project_dir=project))
    settings = Settings(data_dir=tmp_path / "run-time", dbt_project_dir=project)
    assert f"{FULL_PARSE} because profile has changed" in _run_log(settings)


def test_dbt_runs_with_the_threads_the_job_sets(tmp_path: Path) -> None:
    """The duckdb profile reads DBT_THREADS: dbt's own log says how many threads it ran."""
    settings = Settings(data_dir=tmp_path / "data", dbt_project_dir=_project(tmp_path))
    threads = transform.dbt_env(settings)["DBT_THREADS"]
    transform.invoke(settings, ["compile", "--select", "stg_spacex__cores"])
    log = (transform.output_dir(settings) / "logs" / "dbt.log").read_text()
    assert f"Concurrency: {threads} threads" in log, log[-2000:]

"""The compose Airflow image's dbt state is the one its tasks can use.

The image runs `spacex-etl transform --command parse` with the build arguments
docker-compose.yml gives it; the stack's tasks run dbt with the environment compose gives the
Airflow services. dbt keeps its state only when the target, the adapter's connection fields and
the project's packages agree between the two, and otherwise says "Unable to do partial parsing"
and parses the whole project at every run. Here both sides come from `docker compose config`
(the release binary, no engine), so a build argument that drifts from the stack shows up without
building the image; `make stack-test` checks the same in the real stack.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from spacex_etl import transform
from spacex_etl.config import Settings
from tests.infra.test_compose import compose, docker_compose, filled_env

__all__ = ["docker_compose"]  # the compose tests' fixture, used here too

REPO = Path(__file__).resolve().parents[2]
FULL_PARSE = "Unable to do partial parsing"


def _with_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    """Exactly these SPACEX_*/DBT_* variables, as in a container (none from this shell)."""
    for name in os.environ:
        if name.startswith(("SPACEX_", "DBT_")):
            monkeypatch.delenv(name)
    for name, value in values.items():
        if name.startswith(("SPACEX_", "DBT_")):
            monkeypatch.setenv(name, value)


def test_a_task_in_the_stack_starts_from_the_image_state(
    docker_compose: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = compose(docker_compose, filled_env(tmp_path), "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    project = tmp_path / "dbt_spacex"
    shutil.copytree(REPO / "dbt_spacex", project, ignore=shutil.ignore_patterns("target", "logs"))
    # the image's folders (airflow.Dockerfile's ENV), here in tmp_path
    folders = {"SPACEX_DBT_PROJECT_DIR": str(project), "SPACEX_DATA_DIR": str(tmp_path / "data")}

    _with_env(monkeypatch, {**services["airflow-init"]["build"]["args"], **folders})
    transform.parse(Settings())

    _with_env(monkeypatch, {**services["airflow-scheduler"]["environment"], **folders})
    settings = Settings()
    (transform.output_dir(settings) / "logs" / "dbt.log").unlink(missing_ok=True)
    transform.invoke(settings, ["ls", "--resource-type", "model", "--quiet"])
    log = (transform.output_dir(settings) / "logs" / "dbt.log").read_text()
    assert "Running with dbt=" in log
    assert FULL_PARSE not in log, log[-3000:]

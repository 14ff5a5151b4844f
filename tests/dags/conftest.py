"""Airflow in a throw-away home: SQLite metadata, this repo's dags folder, no examples.

Airflow reads its configuration when `airflow` is first imported, so the environment is set
here at import time of this conftest — before any test module below imports Airflow.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.conftest import ONE_WORKER
from tests.dags.standalone import Shared, Standalone

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
DAG_ID = "spacex_elt"

if "airflow.configuration" in sys.modules and not os.environ.get("SPACEX_TEST_AIRFLOW_HOME"):
    raise RuntimeError("airflow was imported before tests/dags/conftest.py could configure it")

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="spacex-airflow-"))
OPENLINEAGE_FILE = AIRFLOW_HOME / "openlineage.jsonl"
MANIFEST = AIRFLOW_HOME / "dbt-target" / "manifest.json"
os.environ.update(
    {
        "SPACEX_TEST_AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_HOME / "logs"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # What docker/airflow/standalone.sh and the image set: no usage telemetry (offline),
        # orjson for the dbt manifest, OpenLineage events into a file the tests read.
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__ENABLE_ORJSON_PARSER": "True",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "spacex-elt-tests",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(OPENLINEAGE_FILE), "append": True}
        ),
    }
)
pytest.importorskip("airflow", reason="the airflow dependency group is not installed")

if str(DAGS) not in sys.path:  # what Airflow does for the dags folder
    sys.path.insert(0, str(DAGS))


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """An initialised SQLite metadata database (once per session, ~7 s)."""
    from airflow.utils import db

    db.initdb()
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """The manifest `make dbt-manifest` builds (`dbt parse`, no warehouse), once per session."""
    if not MANIFEST.is_file():
        from dbt.cli.main import dbtRunner

        project = REPO / "dbt_spacex"
        args = ["parse", "--project-dir", str(project), "--profiles-dir", str(project)]
        args += ["--target", "duckdb", "--target-path", str(MANIFEST.parent), "--quiet"]
        result = dbtRunner().invoke([*args, "--log-path", str(AIRFLOW_HOME / "dbt-logs")])
        assert result.success, result.exception
    return MANIFEST


@pytest.fixture(autouse=True)
def _environ_restored() -> Iterator[None]:
    """`dag.test()` runs the tasks in this process, and the dbt tasks' `set_dbt_environment`
    puts the profile's variables (SPACEX_DUCKDB_PATH among them) in os.environ, as it should in
    a task's own process: restore it whole after each test, or a later module's fixtures, set up
    before any test's isolation, would read the DAG's warehouse."""
    with mock.patch.dict(os.environ):
        yield


@pytest.fixture(autouse=True)
def _dbt_manifest_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the DAG at the session's manifest (the root conftest clears SPACEX_* per test)."""
    if "airflow_db" in request.fixturenames:
        manifest = request.getfixturevalue("dbt_manifest")
        monkeypatch.setenv("SPACEX_AIRFLOW_DBT_MANIFEST", str(manifest))


@pytest.fixture
def airflow_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Airflow-side settings a test may change (the root conftest already isolated SPACEX_*)."""
    monkeypatch.setenv("AIRFLOW_HOME", str(AIRFLOW_HOME))
    return monkeypatch


def load_dag(**env: str) -> Any:
    """Parse the dags folder the way the DAG processor does; fail on any import error."""
    from airflow.dag_processing.dagbag import DagBag

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        bag = DagBag(dag_folder=str(DAGS))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags[DAG_ID]


@pytest.fixture
def python_dag(airflow_db: Path) -> Any:
    return load_dag()


# --- one `airflow standalone` for the tests that drive it -----------------------------------
SHARED_LIMIT_S = 1200  # per test: the start-up (first test) + two DAG runs on 2 busy cores
_STANDALONE = Shared()


@pytest.fixture
def shared_standalone(tmp_path_factory: pytest.TempPathFactory) -> Standalone:
    """This worker's `airflow standalone` (the repo's dbt project prebuilt, retries off): the
    modules using it are one unit in ONE_WORKER, so it starts once and runs their tests in a
    row; it stops after the last of them. A test that changes the project restores it."""
    return _STANDALONE.get(tmp_path_factory.mktemp("standalone"), SHARED_LIMIT_S)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A module using the shared standalone outside its ONE_WORKER group would start another."""
    for item in items:
        if "shared_standalone" in getattr(item, "fixturenames", ()):
            module = item.nodeid.split("::", 1)[0]
            if ONE_WORKER.get(module) != "airflow standalone":
                raise pytest.UsageError(f"{module} uses shared_standalone: list it in ONE_WORKER")


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if nextitem is None or "shared_standalone" not in getattr(nextitem, "fixturenames", ()):
        _STANDALONE.stop()

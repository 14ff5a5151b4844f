"""The DAG acts for whoever triggers it: its extract step never reads a local file of the worker,
whatever the deployment's settings say (`SPACEX_SOURCE_LOCAL_FILES` defaults to true for the
CLI). Python mode here, through the step the DAG's extract task calls; the container modes'
tasks are held to the same in tests/dags/test_dag_local_files.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from spacex_etl.errors import ExtractError
from tests.conftest import REPO, SNAPSHOT_LAUNCHES

if str(REPO / "dags") not in sys.path:
    sys.path.insert(0, str(REPO / "dags"))

from spacex_elt_support import steps


@pytest.mark.parametrize("setting", [None, "true"])
def test_the_extract_step_refuses_a_local_file_whatever_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None
) -> None:
    if setting is not None:
        monkeypatch.setenv("SPACEX_SOURCE_LOCAL_FILES", setting)
    for location in (str(SNAPSHOT_LAUNCHES), "/proc/self/environ"):
        with pytest.raises(ExtractError, match="local files are read only"):
            steps.extract("2024-06-01", "run-1", location, None)
        with pytest.raises(ExtractError, match="local files are read only"):
            steps.extract("2024-06-01", "run-1", "snapshot", location)  # cores too
    assert not list((tmp_path / "spacex").rglob("*.json"))

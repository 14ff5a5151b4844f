"""What a user does in the UI, through the same REST API: run the DAG on `airflow standalone`,
clear one dbt model's task, and see that model — and only it — run again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dags.standalone import standalone

pytestmark = pytest.mark.slow

LIMIT_S = 900  # startup + one full run + one model on 2 busy cores (measured 4-6 min)
MODEL = "dbt.fct_launches_run"


def test_a_cleared_model_reruns_alone(airflow_db: Path, tmp_path: Path) -> None:
    with standalone(tmp_path, LIMIT_S, SPACEX_AIRFLOW_RETRIES="0") as airflow:
        airflow.trigger("first", "2024-06-01T00:00:00Z")
        airflow.finished("first")
        before = airflow.states("first")
        assert set(before.values()) == {("success", 1)}, before
        assert MODEL in before

        assert airflow.clear("first", [MODEL]) == [MODEL]

        def rerun() -> dict[str, tuple[str, int]] | None:
            now = airflow.states("first")
            return now if now[MODEL][1] == 2 and now[MODEL][0] in ("success", "failed") else None

        after = airflow.wait_for("the rerun", rerun)
        assert after[MODEL] == ("success", 2), airflow.log("first", MODEL, 2)[-3000:]
        assert {task: state for task, state in after.items() if task != MODEL} == {
            task: state for task, state in before.items() if task != MODEL
        }

"""What a user does in the UI, through the same REST API: run the DAG on `airflow standalone`,
clear one dbt model's task, and see that model — and only it — run again."""

from __future__ import annotations

import pytest

from tests.dags.standalone import Standalone

pytestmark = pytest.mark.slow

MODEL = "dbt.fct_launches_run"


def test_a_cleared_model_reruns_alone(shared_standalone: Standalone) -> None:
    airflow = shared_standalone
    _, before = airflow.run("first", "2024-06-01T00:00:00Z")
    assert set(before.values()) == {("success", 1)}, before
    assert MODEL in before

    after = airflow.rerun("first", MODEL)
    assert after[MODEL] == ("success", 2), airflow.log("first", MODEL, 2)[-3000:]
    assert {task: state for task, state in after.items() if task != MODEL} == {
        task: state for task, state in before.items() if task != MODEL
    }

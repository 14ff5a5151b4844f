"""What a user does in the UI, through the same REST API: run the DAG on `airflow standalone`,
clear one dbt model's task, and see that model — and only it — run again; clear two, and see
both run dbt at the same time on DuckDB's single writer, one after the other inside."""

from __future__ import annotations

from datetime import datetime

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


TOGETHER = ("dbt.dim_cores_run", "dbt.fct_launches_run")


def test_two_cleared_models_run_dbt_side_by_side_on_one_writer(
    shared_standalone: Standalone,
) -> None:
    """Both tasks run dbt themselves (Cosmos's fallback) at once: the second waits for the
    warehouse's writer lock, not for a DuckDB error."""
    airflow = shared_standalone
    _, before = airflow.run("both", "2024-06-02T00:00:00Z")
    assert set(before.values()) == {("success", 1)}, before

    after = airflow.rerun("both", *TOGETHER)
    logs = [airflow.log("both", task, 2) for task in TOGETHER]
    for task, log in zip(TOGETHER, logs, strict=True):
        assert after[task] == ("success", 2), log[-3000:]
        assert "Retry attempt #1" in log and "dbt run completed successfully" in log, log[-3000:]
    tries = airflow.task_instances("both")
    first, second = sorted(
        (
            datetime.fromisoformat(tries[t]["start_date"]),
            datetime.fromisoformat(tries[t]["end_date"]),
        )
        for t in TOGETHER
    )
    assert second[0] < first[1], f"the two tasks did not overlap: {first}, {second}"
    assert any("waiting for the warehouse's writer lock" in log for log in logs), logs[1][-3000:]

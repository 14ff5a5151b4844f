"""The default dbt task group (one task per model, fed by one dbt build) on `airflow standalone`,
driven through the REST API: a run triggered without a logical date, a model that fails in the
middle of the build, and clearing that model once it is fixed."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from tests.dags.standalone import REPO_DBT, prebuilt_project, standalone

pytestmark = pytest.mark.slow

LIMIT_S = 1200  # startup + one run + one model on 2 busy cores
BROKEN = "dbt.fct_core_reuse_run"
DOWNSTREAM = {"dbt.q2_cores_reused_within_50_days_run", "dbt.dbt_spacex_test", "report"}
DBT_MESSAGE = "Could not convert string 'boom'"


def _break(project: Path) -> tuple[Path, str]:
    """fct_core_reuse fails when it runs (it still parses): a conversion error from DuckDB."""
    model = project / "models" / "marts" / "fct_core_reuse.sql"
    text = model.read_text()
    assert "select * from final" in text
    failing = "select * from final where cast('boom' as integer) = 1"
    model.write_text(text.replace("select * from final", failing))
    return model, text


def test_a_run_without_logical_date_a_failing_model_and_its_rerun(tmp_path: Path) -> None:
    project = tmp_path / "source" / "dbt_spacex"
    shutil.copytree(REPO_DBT, project, ignore=shutil.ignore_patterns("target", "logs"))
    _, original = _break(project)
    project = prebuilt_project(tmp_path, tmp_path / "spacex", source=project)
    model = project / "models" / "marts" / "fct_core_reuse.sql"
    env = {"SPACEX_DBT_PROJECT_DIR": str(project), "SPACEX_AIRFLOW_RETRIES": "0"}
    with standalone(tmp_path, LIMIT_S, **env) as airflow:
        triggered = airflow.trigger("no-date", None)  # what the REST API accepts
        assert triggered["logical_date"] is None
        run = airflow.finished("no-date")
        states = airflow.states("no-date")

        # the ingest date came from when the run was due
        extract = airflow.get(
            "/api/v2/dags/spacex_elt/dagRuns/no-date/taskInstances/extract/xcomEntries/return_value"
        )
        value = extract["value"]
        ingest_date = value["ingest_date"] if isinstance(value, dict) else str(value)
        assert datetime.fromisoformat(run["run_after"]).date().isoformat() in ingest_date

        # the failing model's task and what depends on it are red, the rest stands
        assert run["state"] == "failed"
        assert states[BROKEN] == ("failed", 1), states
        assert {task: states[task][0] for task in DOWNSTREAM} == dict.fromkeys(
            DOWNSTREAM, "upstream_failed"
        ), states
        models = {t for t in states if t.startswith("dbt.") and t.endswith("_run")}
        standing = models - {BROKEN} - DOWNSTREAM
        assert len(standing) >= 9  # the staging, intermediate and other mart models
        assert {states[t] for t in standing} == {("success", 1)}, states
        assert DBT_MESSAGE in airflow.log("no-date", BROKEN, 1)

        # fixed, and cleared: that model alone runs again, with the state dbt left warm
        model.write_text(original)
        assert airflow.clear("no-date", [BROKEN]) == [BROKEN]

        def rerun_done() -> dict[str, tuple[str, int]] | None:
            now = airflow.states("no-date")
            return now if now[BROKEN][1] == 2 and now[BROKEN][0] in ("success", "failed") else None

        rerun = airflow.wait_for("the cleared model", rerun_done)
        assert rerun[BROKEN] == ("success", 2), airflow.log("no-date", BROKEN, 2)[-3000:]
        assert {k: v for k, v in rerun.items() if k != BROKEN} == {
            k: v for k, v in states.items() if k != BROKEN
        }

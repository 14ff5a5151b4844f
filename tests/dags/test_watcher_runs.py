"""The default dbt task group (one task per model, fed by one dbt build) on `airflow standalone`,
driven through the REST API: a run triggered without a logical date, a model that fails in the
middle of the build, and clearing that model once it is fixed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest

from tests.dags.standalone import Standalone, parse

pytestmark = pytest.mark.slow

BROKEN = "dbt.fct_core_reuse_run"
DOWNSTREAM = {"dbt.q2_cores_reused_within_50_days_run", "dbt.dbt_producer_watcher_done", "report"}
DBT_MESSAGE = "Could not convert string 'boom'"


@contextmanager
def broken(airflow: Standalone) -> Iterator[None]:
    """fct_core_reuse fails when it runs (it still parses): a conversion error from DuckDB.
    The manifest is built again with it, as a deployment of that code would be; on the way out
    the model's text and time are restored (the project is shared with other tests), the
    manifest left newer than every file."""
    model = airflow.project / "models" / "marts" / "fct_core_reuse.sql"
    text, stat = model.read_text(), model.stat()
    assert "select * from final" in text
    failing = "select * from final where cast('boom' as integer) = 1"
    model.write_text(text.replace("select * from final", failing))
    parse(airflow.project, airflow.data_dir)
    try:
        yield
    finally:
        model.write_text(text)
        os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_run_without_logical_date_a_failing_model_and_its_rerun(
    shared_standalone: Standalone,
) -> None:
    airflow = shared_standalone
    with broken(airflow):
        run, states = airflow.run("no-date", None)  # no logical date: what the REST API accepts
        assert run["logical_date"] is None

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
        # one dbt build, tests included, started from the prebuilt state (no full parse); dbt's
        # message (from the model's unit test, which stopped it) is in the model's own task log
        build = airflow.log("no-date", "dbt.dbt_producer_watcher", 1)
        assert DBT_MESSAGE in build, build[-3000:]
        model_log = airflow.log("no-date", BROKEN, 1)
        assert DBT_MESSAGE in model_log, model_log[-3000:]
        assert "Running with dbt=" in build and " PASS unique_" in build, build[-3000:]
        assert "Unable to do partial parsing" not in build, build[-3000:]

    # fixed, and cleared: that model alone runs again, with the state dbt left warm
    rerun = airflow.rerun("no-date", BROKEN)
    assert rerun[BROKEN] == ("success", 2), airflow.log("no-date", BROKEN, 2)[-3000:]
    assert {k: v for k, v in rerun.items() if k != BROKEN} == {
        k: v for k, v in states.items() if k != BROKEN
    }

"""What a model's task logs when dbt did not build it, read from a real `dbt build`'s artifacts.

`dbt build` skips a model whose parent's data test failed; in the watcher DAG that model's task
goes red, and its log must carry dbt's message of the failing test, not only Cosmos's line.
(The model's own unit test failing is driven end to end in test_watcher_runs.py.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from spacex_etl import transform
from spacex_etl.config import Settings
from tests.conftest import REPO, copy_installation

pytestmark = pytest.mark.slow


def test_a_model_stopped_by_its_parents_failing_test_gets_that_tests_message(
    answered: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    from spacex_elt_support.dbt_group import failures_by_model

    project = tmp_path / "dbt_spacex"
    shutil.copytree(REPO / "dbt_spacex", project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "tests" / "assert_no_core_flights.sql").write_text(
        "select * from {{ ref('int_core_flights') }}\n"
    )
    data_dir = copy_installation(answered[0], tmp_path / "spacex")
    settings = Settings(data_dir=data_dir, dbt_project_dir=project)
    result = transform.invoke(settings, ["build"])
    assert not result.success

    target = transform.output_dir(settings) / "target"
    run_results = json.loads((target / "run_results.json").read_text())
    failures = failures_by_model(json.loads((target / "manifest.json").read_text()), run_results)

    statuses = {r["unique_id"]: r["status"] for r in run_results["results"]}
    assert "model.spacex.fct_core_reuse" in failures, failures
    assert {statuses[model] for model in failures} == {"skipped"}
    for lines in failures.values():
        assert len(lines) == 1
        assert lines[0].startswith("test.spacex.assert_no_core_flights (fail): Got "), lines
    assert statuses["model.spacex.int_core_flights"] == "success"
    assert "model.spacex.int_core_flights" not in failures  # built: its task is green
    assert "model.spacex.stg_spacex__launches" not in failures

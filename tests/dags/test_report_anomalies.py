"""The report task and the anomaly checks: each anomaly is a warning in the task's log; one of a
check set to fail fails the task for good (no retries), which is what fires the alerts."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

ANSWERS = {
    "q1_max_reuse": {"value": 13, "cores": [{"core_serial": "B1058"}]},
    "q2_flights": 25,
    "q2_distinct_cores": 9,
}


def found(verdict: str) -> dict[str, Any]:
    check = {"check_name": "volume", "verdict": verdict, "message": "launches received 120 …"}
    return {"run_id": "r1", "verdict": verdict, "checks": 9, "judged": 9, "flagged": [check]}


@pytest.fixture
def report_step(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """`steps.report` with the warehouse reads stood in for (what they return is the point)."""
    from spacex_elt_support import steps

    from spacex_etl import monitoring
    from spacex_etl import report as reporting

    monkeypatch.setenv("SPACEX_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(reporting, "answers", lambda settings, warehouse: ANSWERS)
    monkeypatch.setattr(reporting, "publish", lambda settings, **kwargs: "/lake/report.html")
    recorded: dict[str, int] = {}
    monkeypatch.setattr(
        monitoring,
        "record_phases",
        lambda s, rows: recorded.update({r["phase"]: r["milliseconds"] for r in rows}),
    )

    def run(verdict: str) -> dict[str, Any]:
        monkeypatch.setattr(
            monitoring, "try_anomalies", lambda s, warehouse, run_id: found(verdict)
        )
        load_summary = {"rows": {}, "finished_at": time.time() - 30}  # dbt took ~30 s
        return steps.report("2026-12-01", {"run_id": "r1"}, load_summary)

    run.recorded = recorded  # type: ignore[attr-defined]
    return run


def test_an_anomaly_warns_in_the_log_and_the_task_succeeds(
    report_step: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="spacex_elt.steps"):
        published = report_step("warn")
    assert published["anomalies"]["verdict"] == "warn"
    assert "anomaly (warn) volume: launches received 120" in caplog.text
    assert list(report_step.recorded) == ["dbt", "report"]
    assert 29_000 < report_step.recorded["dbt"] < 40_000


def test_a_check_set_to_fail_fails_the_task_without_retries(report_step: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="volume: launches received 120"):
        report_step("fail")

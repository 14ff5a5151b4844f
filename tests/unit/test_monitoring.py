"""The anomaly checks' settings, wording and Redshift SQL (the verdicts themselves are tested on
real warehouses in tests/integration/test_monitoring.py)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from spacex_etl import monitoring
from spacex_etl.config import MonitorSettings
from spacex_etl.errors import AnomalyError, ConfigError

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO / "dbt_spacex"


def test_dbt_defaults_are_the_settings_defaults() -> None:
    """dbt's fallbacks (a bare `dbt parse`) equal config.py's defaults, one per setting."""
    text = (DBT_PROJECT / "macros" / "monitor_settings.sql").read_text()
    in_dbt = dict(re.findall(r"env_var\('(SPACEX_MONITOR_[A-Z_]+)', '([^']*)'\)", text))
    names = MonitorSettings.env_names()
    defaults = MonitorSettings().model_dump()
    expected = {
        names[field]: ",".join(value) if isinstance(value, tuple) else str(value)
        for field, value in defaults.items()
    }
    assert in_dbt == expected


def test_an_unknown_check_in_fail_on_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"SPACEX_MONITOR_FAIL_ON.*unknown check"):
        MonitorSettings(fail_on="volume,freshnes")
    assert MonitorSettings(fail_on="volume, drift").fail_on == ("volume", "drift")


def test_phase_rows_name_the_phases_and_add_up_their_stages() -> None:
    timings = {"extract": 0.5, "load": 2.0, "transform": 30.25, "answers": 0.5, "report": 1.5}
    rows = monitoring.phase_rows("r1", "2026-12-01", timings, ["transform", "answers", "report"])
    assert {row["phase"]: row["milliseconds"] for row in rows} == {"dbt": 30250, "report": 2000}


def check(**values: Any) -> dict[str, Any]:
    return {
        "run_id": "r9",
        "subject": "launches",
        "baseline_runs": 10,
        "baseline_mad": 1.0,
        "since_run_id": "r9",
        "anomalous_runs": 1,
    } | values


def test_messages_say_what_against_which_baseline_and_since_when() -> None:
    volume = check(
        check_name="volume",
        metric="received",
        metric_value=120,
        baseline_median=205,
        lower_bound=184.5,
        upper_bound=225.5,
    )
    assert monitoring.describe(volume) == (
        "launches received 120 is outside 184.5 to 225.5 (median 205 over the previous 10 runs, "
        "MAD 1); new in this run"
    )
    stale = check(
        check_name="source_freshness",
        metric="source_age_days",
        metric_value=1519.73,
        upper_bound=30,
        since_run_id="r7",
        since_at="2026-12-01T06:01:00",
        anomalous_runs=3,
    )
    assert monitoring.describe(stale).endswith(
        "(stale after 30 days): the source looks frozen, however fresh the loads; since run r7 "
        "(2026-12-01 06:01 UTC, 3 runs)"
    )


def test_every_check_is_worded_with_its_unit_and_a_check_without_history_says_nothing_of_it() -> (
    None
):
    share = check(
        check_name="quarantine_share",
        metric="quarantined_share",
        metric_value=0.25,
        baseline_median=0.01,
        baseline_mad=None,
        upper_bound=0.05,
    )
    assert monitoring.describe(share) == (
        "launches: 25.0% of the records quarantined, above 5.0% (median 1.0% over the previous "
        "10 runs, MAD ?); new in this run"
    )
    drift = check(check_name="drift", metric="drifted_paths", metric_value=3, upper_bound=1)
    assert monitoring.describe(drift) == (
        "launches: 3 drifted paths, more than any of the previous 10 runs (at most 1); "
        "new in this run"
    )
    slow = check(
        check_name="phase_duration",
        subject="dbt",
        metric="seconds",
        metric_value=61.5,
        baseline_median=12,
        baseline_mad=0.5,
        upper_bound=14,
        since_run_id=None,
    )
    assert monitoring.describe(slow) == (
        "phase dbt took 61.5 s, above 14 s (median 12 s over the previous 10 runs, MAD 0.5 s)"
    )
    newer = check(check_name="row_width", metric="bytes", metric_value=None, since_run_id=None)
    assert monitoring.describe(newer) == "row_width launches bytes = ?"


def test_only_a_fail_verdict_raises() -> None:
    warn = check(check_name="volume", verdict="warn", message="m")
    monitoring.raise_on_fail({"run_id": "r9", "flagged": [warn]})
    with pytest.raises(AnomalyError, match="volume: m"):
        monitoring.raise_on_fail({"run_id": "r9", "flagged": [warn | {"verdict": "fail"}]})


@pytest.mark.slow
def test_the_monitoring_models_compile_to_redshift_sql(monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt compiles the models for the redshift target (its macros dispatched for Redshift)
    against a stand-in connection that answers nothing; each compiled query parses as Redshift."""
    from dbt.adapters.redshift.connections import RedshiftConnectionManager
    from dbt.cli.main import dbtRunner

    class Handle:
        description, rowcount = None, 0

        def cursor(self) -> Any:
            return self

        def execute(self, *args: Any, **kwargs: Any) -> None: ...

        def fetchall(self) -> list[Any]:
            return []

        def commit(self) -> None: ...

        def rollback(self) -> None: ...

        def close(self) -> None: ...

    def fake_open(cls: Any, connection: Any) -> Any:
        connection.handle, connection.state = Handle(), "open"
        return connection

    monkeypatch.setattr(RedshiftConnectionManager, "open", classmethod(fake_open))
    for name, value in {
        "SPACEX_REDSHIFT_HOST": "cluster.invalid",
        "SPACEX_MONITOR_FAIL_ON": "volume",
    }.items():
        monkeypatch.setenv(name, value)
    with tempfile.TemporaryDirectory() as out:
        result = dbtRunner().invoke(
            [
                "compile",
                "--target", "redshift",
                "--select", "path:models/monitoring",
                "--no-introspect",
                "--project-dir", str(DBT_PROJECT),
                "--profiles-dir", str(DBT_PROJECT),
                "--target-path", f"{out}/target",
                "--log-path", f"{out}/logs",
                "--quiet",
            ]
        )  # fmt: skip
        assert result.success, result.exception
        compiled = {
            path.stem: path.read_text()
            for path in Path(out, "target", "compiled").rglob("mon_*.sql")
        }
    assert set(compiled) == {"mon_run_metrics", "mon_baselines", "mon_anomalies"}
    for sql in compiled.values():
        assert isinstance(sqlglot.parse_one(sql, read="redshift"), exp.Query)
    assert "datediff(millisecond," in compiled["mon_run_metrics"]
    assert "percentile_cont(0.5) within group" in compiled["mon_baselines"]
    fail_on = r"when check_name in \(\s*'volume'\s*\) then 'fail'"
    assert re.search(fail_on, compiled["mon_anomalies"])

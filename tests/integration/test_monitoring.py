"""The anomaly checks (dbt_spacex/models/monitoring) on a synthetic run history written into a
real warehouse: a volume drop, new drift, a quarantine spike, a slow dbt phase and a frozen
source are each flagged in exactly the runs they should be, with the configured severity and
since when; a steady history flags nothing; DuckDB and PostgreSQL give the same verdicts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spacex_etl import monitoring, transform
from spacex_etl.config import MonitorSettings, Settings
from spacex_etl.warehouse import open_warehouse

pytestmark = pytest.mark.slow

START = datetime(2026, 11, 1, 6, 0)
MONITOR = MonitorSettings(source_stale_days=3, fail_on=("volume",))
RECEIVED = [205, 150, 205, 207, 205, 206, 205, 206, 120, 205, 206, 205, 207, 206, 205, 206]
"""Launches received per run: run 2 is odd but too early to judge, run 9 drops."""


def history(steady: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Ledger and phase rows of 16 daily runs (12 when steady), numbered from 1."""
    ledger, phases = [], []
    count = 12 if steady else len(RECEIVED)
    for n in range(1, count + 1):
        run_id = f"run{n:02d}"
        extracted = START + timedelta(days=n)
        received = 205 + n % 3 if steady else RECEIVED[n - 1]
        quarantined = 60 if n == 11 and not steady else 2
        # from run 12 on the source stops moving: its newest launch stays where it was
        newest = extracted - timedelta(days=1) if steady or n <= 12 else START + timedelta(days=11)
        ledger.append(
            {
                "resource": "launches",
                "source": "synthetic",
                "ingest_date": extracted.date(),
                "run_id": run_id,
                "raw_uri": f"file:///lake/{run_id}.json",
                "raw_sha256": f"{n:064x}",
                "records_received": received,
                "records_loaded": received - quarantined,
                "records_quarantined": quarantined,
                "records_deduplicated": 0,
                "loaded_at": extracted + timedelta(minutes=1),
                "status": "succeeded",
                "error": None,
                "extracted_at": extracted,
                "bytes": received * 3000,
                "drift_events": 2 if n >= 10 and not steady else 0,
                "quarantined_by_rule": "not_null:date_utc=2",
                "newest_source_at": newest,
            }
        )
        seconds = {
            "extract": 1.0 + n % 2 / 10,
            "load": 5.0 + n % 3 / 10,
            "dbt": 90.0 if n == 12 and not steady else 30.0 + n % 4,
            "report": 3.0,
        }
        phases += [
            {
                "run_id": run_id,
                "ingest_date": extracted.date(),
                "phase": phase,
                "milliseconds": round(value * 1000),
                "recorded_at": extracted + timedelta(minutes=2),
            }
            for phase, value in seconds.items()
        ]
    return ledger, phases


def write(settings: Settings, ledger: list[dict[str, Any]], phases: list[dict[str, Any]]) -> None:
    warehouse = open_warehouse(settings)
    with warehouse.transaction() as cur:
        warehouse._prepare_tables(cur)
        for row in ledger:
            cur.execute(*warehouse._ledger_insert(row))
    monitoring.record_phases(warehouse, phases)


def verdicts(settings: Settings, steady: bool = False) -> list[dict[str, Any]]:
    """Write the history, build the monitoring models, read every verdict."""
    write(settings, *history(steady))
    transform.build(settings, select="path:models/monitoring")
    rows = open_warehouse(settings).query(
        f"select * from {settings.dbt_schema}.mon_anomalies "
        "order by run_id, check_name, subject, metric"
    )
    return [
        {k: round(float(v), 6) if isinstance(v, float) else v for k, v in row.items()}
        for row in rows
    ]


def flagged(rows: list[dict[str, Any]]) -> dict[str, set[tuple[str, str, str, str]]]:
    found: dict[str, set[tuple[str, str, str, str]]] = {}
    for row in rows:
        if row["verdict"] != "pass":
            key = (row["check_name"], row["subject"], row["metric"], row["verdict"])
            found.setdefault(row["run_id"], set()).add(key)
    return found


EXPECTED = {
    "run09": {
        ("volume", "launches", "received", "fail"),
        ("volume", "launches", "loaded", "fail"),
    },
    "run10": {("drift", "launches", "drift_events", "warn")},
    "run11": {
        ("quarantine_share", "launches", "quarantined_share", "warn"),
        ("volume", "launches", "loaded", "fail"),
    },
    "run12": {("phase_duration", "dbt", "seconds", "warn")},
    "run15": {("source_freshness", "launches", "source_age_days", "warn")},
    "run16": {("source_freshness", "launches", "source_age_days", "warn")},
}


@pytest.fixture(scope="module")
def duckdb_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A DuckDB warehouse holding the 16-run history (its checks built once for the module)."""
    data_dir = tmp_path_factory.mktemp("monitoring") / "spacex"
    return Settings(data_dir=data_dir, warehouse="duckdb", monitor=MONITOR)


@pytest.fixture(scope="module")
def duckdb_verdicts(duckdb_settings: Settings) -> list[dict[str, Any]]:
    return verdicts(duckdb_settings)


def test_each_anomaly_is_flagged_exactly_in_its_runs(
    duckdb_verdicts: list[dict[str, Any]], duckdb_settings: Settings
) -> None:
    assert flagged(duckdb_verdicts) == EXPECTED
    by_key = {(r["run_id"], r["check_name"], r["metric"]): r for r in duckdb_verdicts}
    # too little history: run 2's odd volume is not judged, run 4 is (3 runs before it)
    assert not by_key[("run02", "volume", "received")]["judged"]
    assert by_key[("run04", "volume", "received")]["judged"]
    # the frozen source's streak starts at run 15 and lasts
    stale = by_key[("run16", "source_freshness", "source_age_days")]
    assert (stale["since_run_id"], stale["anomalous_runs"]) == ("run15", 2)
    drop = by_key[("run09", "volume", "received")]
    assert (drop["baseline_median"], drop["baseline_runs"]) == (205.0, 8)

    warehouse = open_warehouse(duckdb_settings)
    found = monitoring.anomalies(duckdb_settings, warehouse, "run16")
    assert found["verdict"] == "warn"
    [message] = [c["message"] for c in found["flagged"]]
    assert "source looks frozen" in message
    assert "since run run15" in message
    with pytest.raises(Exception, match="volume"):
        monitoring.raise_on_fail(monitoring.anomalies(duckdb_settings, warehouse, "run09"))


def test_a_steady_history_flags_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "spacex", warehouse="duckdb", monitor=MONITOR)
    rows = verdicts(settings, steady=True)
    assert rows
    assert flagged(rows) == {}
    assert monitoring.anomalies(settings, open_warehouse(settings))["verdict"] == "pass"


@pytest.mark.postgres
def test_postgres_gives_the_same_verdicts(
    duckdb_verdicts: list[dict[str, Any]], pg_settings: Settings
) -> None:
    settings = pg_settings.model_copy(update={"monitor": MONITOR})
    postgres = verdicts(settings)
    assert flagged(postgres) == EXPECTED

    def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {k: str(v) if isinstance(v, date | datetime) else v for k, v in row.items()}
            for row in rows
        ]

    assert comparable(postgres) == comparable(duckdb_verdicts)

"""End to end through the CLI on the bundled snapshot, checked against an independent
computation in plain Python (no SQL), plus reruns and the CLI's failure behaviour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import SNAPSHOT_LAUNCHES, copy_installation
from tests.independent import independent_answers

CLI = str(Path(sys.executable).with_name("spacex-etl"))


def cli(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPACEX_")}
    env["SPACEX_DATA_DIR"] = str(data_dir)
    proc = subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def table_counts(data_dir: Path) -> dict[str, int]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        tables = ["launches", "launch_cores", "launch_payloads", "cores", "load_ledger"]
        return {
            t: con.execute(f"select count(*) from spacex_raw.{t}").fetchone()[0] for t in tables
        }


@pytest.fixture(scope="module")
def first_run(
    answered: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """The snapshot run for 2024-06-01 (the suite's shared one, copied: a test here reruns it)."""
    source, summary = answered
    return copy_installation(source, tmp_path_factory.mktemp("e2e") / "spacex"), summary


@pytest.mark.slow
def test_run_answers_match_an_independent_computation(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = first_run
    q1, q1_cores, q2 = independent_answers()

    answers = summary["answers"]
    assert answers["q1_max_reuse"]["value"] == q1
    assert {c["core_id"] for c in answers["q1_max_reuse"]["cores"]} == q1_cores
    assert {(r["core_id"], r["launch_id"]) for r in answers["q2_cores"]} == q2
    assert all(0 <= r["days_since_previous_launch"] < 50 for r in answers["q2_cores"])
    assert q1 == 13 and len(q2) == 25  # pinned so that a change in the data is noticed


@pytest.mark.slow
def test_q2_in_the_summary_is_its_totals_and_shortest_gaps_only(
    first_run: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At scale Q2 has hundreds of thousands of rows: the job carries its totals and the first
    rows only (the warehouse model holds them all), so memory and XCom stay small."""
    from spacex_etl import report
    from spacex_etl.config import Settings
    from spacex_etl.warehouse import open_warehouse

    data_dir, summary = first_run
    monkeypatch.setattr(report, "ANSWER_ROWS", 5)
    settings = Settings(data_dir=data_dir)
    capped = report.answers(settings, open_warehouse(settings))

    everything = summary["answers"]["q2_cores"]
    assert (capped["q2_flights"], capped["q2_distinct_cores"]) == (25, 9)
    assert capped["q2_cores"] == everything[:5]  # the five shortest gaps
    assert capped["q2_model"] == "spacex.q2_cores_reused_within_50_days"
    out = cli("answers", data_dir=data_dir).stdout
    assert "25 flights by 9 cores" in out and "more" not in out  # all 25 fit under 100


@pytest.mark.slow
def test_run_summary_reports_counts_and_locations(first_run: tuple[Path, dict[str, Any]]) -> None:
    data_dir, summary = first_run
    counts = summary["counts"]
    assert counts["received"] == 205
    assert counts["loaded"] == {
        "launches": 205,
        "launch_cores": 215,
        "launch_payloads": 222,
        "launch_failures": 5,
        "cores": 57,
    }
    assert (counts["quarantined"], counts["deduplicated"]) == (0, 0)
    assert summary["sha256"] == "edab4295f084a23210fec03043a368ccd87d124eb55bfb7dde2212790b546d2c"
    assert Path(summary["raw_uri"]).read_bytes() == SNAPSHOT_LAUNCHES.read_bytes()
    assert "/raw/spacex/launches/ingest_date=2024-06-01/" in summary["raw_uri"]
    manifest = json.loads(Path(summary["raw_uri"]).with_name("_manifest.json").read_text())
    assert manifest["record_count"] == 205 and manifest["sha256"] == summary["sha256"]
    assert summary["dbt"]["failures"] == []
    assert table_counts(data_dir)["launches"] == 205


@pytest.mark.slow
def test_rerun_same_date_is_idempotent_and_new_date_adds_a_batch(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    data_dir, summary = first_run
    before = table_counts(data_dir)

    again = json.loads(cli("run", "--date", "2024-06-01", "--json", data_dir=data_dir).stdout)
    assert table_counts(data_dir) == before | {"load_ledger": before["load_ledger"] + 2}
    assert again["answers"] == summary["answers"]
    before = table_counts(data_dir)

    cli("run", "--date", "2024-06-02", "--skip-transform", data_dir=data_dir)
    after = table_counts(data_dir)
    assert after["load_ledger"] == before["load_ledger"] + 2  # launches + cores batches
    assert {k: v for k, v in after.items() if k != "load_ledger"} == {
        k: v for k, v in before.items() if k != "load_ledger"
    }


@pytest.mark.slow
def test_human_output_prints_answers_and_definitions(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    data_dir, _ = first_run
    proc = cli("answers", data_dir=data_dir)
    assert "Q1  max times a core was reused: 13" in proc.stdout
    assert "definition:" in proc.stdout
    assert "Q2  reuses < 50 days" in proc.stdout


def test_bad_file_fails_with_one_line_and_leaves_the_warehouse_as_it_was(tmp_path: Path) -> None:
    data_dir = tmp_path / "spacex"
    cli("run", "--date", "2024-06-01", "--skip-transform", data_dir=data_dir)
    before = table_counts(data_dir)
    bad = tmp_path / "launches.json"
    bad.write_text('{"docs": []}')

    proc = cli("run", "--input", str(bad), "--date", "2024-06-02", data_dir=data_dir, check=False)

    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("spacex-etl: error: ")
    assert str(bad) in lines[-1] and "expected a JSON array" in lines[-1]
    assert "Traceback" not in proc.stderr
    # refused at extract, before any load: the warehouse is exactly as it was
    assert table_counts(data_dir) == before
    # nothing in raw, where a later load of the date would pick it up; the bytes are kept as
    # evidence in the quarantine zone, which loads never list
    assert not (data_dir / "lake/raw/spacex/launches/ingest_date=2024-06-02").exists()
    kept = list(
        (data_dir / "lake/quarantine/spacex/launches/ingest_date=2024-06-02").rglob("launches.*")
    )
    assert [p.read_text() for p in kept] == ['{"docs": []}']
    assert str(kept[0]) in lines[-1]


def test_bad_records_are_quarantined_and_counted(tmp_path: Path) -> None:
    data_dir = tmp_path / "spacex"
    records = json.loads(SNAPSHOT_LAUNCHES.read_text())[:10]
    records[3]["flight_number"] = "four"
    records.append(records[0])  # an exact duplicate
    path = tmp_path / "some.json"
    path.write_text(json.dumps(records))

    proc = cli("run", "--input", str(path), "--skip-transform", "--json", data_dir=data_dir)

    summary = json.loads(proc.stdout)
    counts = summary["counts"]
    assert counts["received"] == 11
    assert counts["loaded"]["launches"] == 9
    assert (counts["quarantined"], counts["deduplicated"]) == (1, 1)
    [line] = Path(summary["quarantine_uri"]).read_text().splitlines()
    entry = json.loads(line)
    assert (entry["record_index"], entry["field"], entry["rule"]) == (
        3,
        "flight_number",
        "int_type",
    )
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select record_id, field from spacex_raw.quarantine").fetchall() == [
            (records[3]["id"], "flight_number")
        ]


def test_missing_input_and_bad_usage_exit_codes(tmp_path: Path) -> None:
    data_dir = tmp_path / "spacex"
    proc = cli("run", "--input", str(tmp_path / "nope.json"), data_dir=data_dir, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"spacex-etl: error: {tmp_path / 'nope.json'}: no such file"
    )
    debug = cli(
        "run", "--input", str(tmp_path / "nope.json"), "--debug", data_dir=data_dir, check=False
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr

    usage = cli("run", "--date", "June 1st", data_dir=data_dir, check=False)
    assert usage.returncode == 2
    assert "is not a date" in usage.stderr


@pytest.mark.slow
def test_in_process_run_releases_the_duckdb_file(tmp_path: Path) -> None:
    """After `pipeline.run` (dbt in-process) another process can write the warehouse file."""
    from datetime import date

    from spacex_etl import pipeline
    from spacex_etl.config import Settings

    settings = Settings(data_dir=tmp_path / "spacex")
    pipeline.run(settings, date(2024, 6, 1))

    proc = cli("load", "--date", "2024-06-01", data_dir=settings.data_dir)
    assert "launches: received 205" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("command", [["report", "--json"], ["answers", "--json"]])
def test_report_and_answers_read_on_one_warehouse_connection(
    first_run: tuple[Path, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: list[str],
) -> None:
    """The command opens the warehouse once and every query (answers, ledger, quarantine,
    anomaly checks, trend charts, stale-load warnings) shares its one connection."""
    from typer.testing import CliRunner

    from spacex_etl.cli import app
    from spacex_etl.warehouse.duckdb import DuckDBWarehouse

    data_dir = copy_installation(first_run[0], tmp_path / "spacex")
    monkeypatch.setenv("SPACEX_DATA_DIR", str(data_dir))
    connect = DuckDBWarehouse.connect
    opened: list[str] = []

    def counting(self: DuckDBWarehouse) -> Any:
        opened.append(self.describe())
        return connect(self)

    monkeypatch.setattr(DuckDBWarehouse, "connect", counting)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert len(opened) == 1, opened

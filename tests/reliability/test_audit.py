"""The audit trail, black-box: `spacex-etl answers` keeps the last good answers and warns when
the last load or the last dbt build failed, and the ledger records each attempt."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.conftest import DAY2, Env, snapshot_records, write


@pytest.mark.slow
def test_answers_warn_when_the_last_load_failed(answered_duck: Env, tmp_path: Path) -> None:
    duck = answered_duck  # the snapshot loaded and the answers built for DAY1
    assert "warning" not in duck.cli("answers").stderr
    records = snapshot_records()
    for record in records:
        del record["name"]
    bad = write(tmp_path / "launches.json", records)
    duck.cli("run", "--input", str(bad), "--date", DAY2, expect=1)

    proc = duck.cli("answers")

    assert "Q1  max times a core was reused: 13" in proc.stdout  # still the last good answers
    [warning] = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert "the last load of launches" in warning and "rejected" in warning
    assert "contract break" in warning
    assert [status for _, status, _ in duck.ledger()] == ["succeeded", "succeeded", "rejected"]


@pytest.mark.slow
def test_answers_warn_when_the_last_dbt_build_failed(answered_duck: Env, tmp_path: Path) -> None:
    duck = answered_duck
    records = snapshot_records()
    records[0]["cores"][0]["landing_type"] = "Catapult"  # loads, but fails accepted_values
    bad = write(tmp_path / "launches.json", records)
    duck.cli("run", "--input", str(bad), "--date", DAY2, expect=1)

    proc = duck.cli("answers")

    assert "Q1  max times a core was reused: 13" in proc.stdout
    [warning] = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert "the last dbt run failed (test.spacex.accepted_values_" in warning

"""Faulty batches, black-box: contract breaks, schema drift, shrunken extracts, same-date
replays, raw objects edited after landing, broken manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    DAY1,
    DAY2,
    Env,
    extract,
    one_line_error,
    snapshot_records,
    write,
)


# -- contract, drift, size -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("case", "field", "rule"),
    [("required-field-gone", "name", "missing"), ("type-changed", "flight_number", "int_type")],
)
def test_a_rule_rejecting_most_records_is_a_contract_break(
    loaded: Env, tmp_path: Path, case: str, field: str, rule: str
) -> None:
    records = snapshot_records()
    for record in records:
        if case == "required-field-gone":
            del record["name"]
        else:
            record["flight_number"] = str(record["flight_number"])
    path = write(tmp_path / "launches.json", records)
    before = loaded.counts()

    proc = loaded.cli("run", "--input", str(path), "--date", DAY2, "--skip-transform", expect=1)

    line = one_line_error(proc)
    assert f"contract break: rule {rule} on field {field} rejected 205 of 205" in line
    assert str(path) in line
    assert loaded.counts() == before | {"load_ledger": before["load_ledger"] + 1}
    assert loaded.ledger()[-1][:2] == ("launches", "rejected")
    assert len(loaded.quarantine_lines(DAY2)) == 205  # nothing lost: every record set aside


def test_schema_drift_is_one_warning_and_in_the_run_summary(loaded: Env, tmp_path: Path) -> None:
    records = snapshot_records()
    for record in records:
        record["booster_camera_url"] = "https://example.invalid/cam"
        del record["details"]
        for core in record["cores"]:
            core["engine_count"] = 9
    path = write(tmp_path / "launches.json", records)

    proc = loaded.cli("run", "--input", str(path), "--date", DAY2, "--skip-transform", "--json")

    warnings = [line for line in proc.stderr.splitlines() if " WARNING " in line]
    assert len(warnings) == 1
    assert "schema drift" in warnings[0] and str(path) not in warnings[0]
    assert "booster_camera_url" in warnings[0] and "cores[].engine_count" in warnings[0]
    assert json.loads(proc.stdout)["drift"] == {
        "launches": {
            "added": ["booster_camera_url", "cores[].engine_count"],
            "removed": ["details"],
        }
    }
    assert loaded.counts()["launches"] == 205


def test_shrunken_extract_is_refused_unless_allowed(loaded: Env, tmp_path: Path) -> None:
    path = write(tmp_path / "launches.json", snapshot_records())
    loaded.cli("run", "--input", str(path), "--date", DAY1, "--skip-transform")
    write(path, snapshot_records()[:2])  # the same source now serves 2 records
    before = loaded.counts()

    proc = loaded.cli("run", "--input", str(path), "--date", DAY2, "--skip-transform", expect=1)

    line = one_line_error(proc)
    assert "shrunken extract: 2 launches records, fewer than 50% of the 205" in line
    assert "--allow-shrink" in line
    assert loaded.counts() == before | {"load_ledger": before["load_ledger"] + 1}

    loaded.cli("run", "--input", str(path), "--date", DAY2, "--skip-transform", "--allow-shrink")
    assert loaded.counts()["launches"] == 205  # the other 203 launches keep their rows


def test_same_date_replay_of_an_older_extract_does_not_overwrite_newer_rows(
    loaded: Env, tmp_path: Path
) -> None:
    older = snapshot_records()
    newer = snapshot_records()
    newer[0]["name"] = "FalconSat (corrected)"
    older_uri = extract(loaded, write(tmp_path / "older.json", older), DAY2, "run-older")
    newer_uri = extract(loaded, write(tmp_path / "newer.json", newer), DAY2, "run-newer")

    loaded.cli("load", "--raw-uri", newer_uri)
    proc = loaded.cli("load", "--raw-uri", older_uri, "--json")

    [row] = loaded.query(
        "select name from {raw}.launches where launch_id = '" + newer[0]["id"] + "'"
    )
    assert row["name"] == "FalconSat (corrected)"
    [item] = json.loads(proc.stdout)["loaded"]
    assert item["keys_skipped_newer"] == 205
    loaded.cli("load", "--raw-uri", older_uri, "--force")  # unless forced
    [row] = loaded.query(
        "select name from {raw}.launches where launch_id = '" + newer[0]["id"] + "'"
    )
    assert row["name"] == "FalconSat"


def test_raw_object_changed_after_landing_is_refused(loaded: Env, tmp_path: Path) -> None:
    uri = extract(loaded, write(tmp_path / "launches.json", snapshot_records()), DAY2)
    edited = snapshot_records()
    edited[0]["name"] = "tampered"
    Path(uri).write_text(json.dumps(edited))
    before = loaded.counts()

    proc = loaded.cli("load", "--raw-uri", uri, expect=1)

    line = one_line_error(proc)
    assert uri in line and "changed after landing" in line
    assert loaded.counts() == before | {"load_ledger": before["load_ledger"] + 1}
    assert loaded.ledger()[-1][:2] == ("launches", "rejected")


def test_raw_uri_with_a_broken_manifest_is_one_clear_error(loaded: Env, tmp_path: Path) -> None:
    uri = extract(loaded, write(tmp_path / "launches.json", snapshot_records()), DAY2)
    manifest = Path(uri).with_name("_manifest.json")
    manifest.write_text('{"resource": "launches"}')
    before = loaded.counts()

    line = one_line_error(loaded.cli("load", "--raw-uri", uri, expect=1))

    assert f"{manifest}: not a usable manifest" in line and uri in line
    assert loaded.counts() == before

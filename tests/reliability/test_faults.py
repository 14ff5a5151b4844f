"""Faults around the load, black-box: concurrent loads, a second DuckDB writer, loads killed
mid-transaction, contract breaks, schema drift, shrunken extracts, same-date replays, raw objects
edited after landing, and the audit trail (ledger, `answers` warning)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from tests.conftest import PG_DATABASE, PG_HOST, PG_PORT, PG_USER
from tests.reliability.conftest import DAY1, DAY2, Env, one_line_error, snapshot_records

POLL_S = 0.05
WAIT_LIMIT_S = 120


def write(path: Path, records: Any) -> Path:
    path.write_text(json.dumps(records))
    return path


def extract(env: Env, path: Path, day: str, run_id: str | None = None) -> str:
    """Land a file; return the raw URI of its launches."""
    args = ["extract", "--input", str(path), "--date", day, "--json"]
    out = json.loads(env.cli(*args, *(["--run-id", run_id] if run_id else [])).stdout)
    [landed] = [item for item in out["landed"] if item["resource"] == "launches"]
    return str(landed["raw_uri"])


def launch_ids(env: Env) -> tuple[int, int]:
    """(rows, distinct ids) of the launches table."""
    [row] = env.query("select count(*) as n, count(distinct launch_id) as d from {raw}.launches")
    return int(row["n"]), int(row["d"])


# -- concurrency -----------------------------------------------------------------------------
@contextmanager
def gate(env: Env, table: str) -> Iterator[psycopg.Connection[Any]]:
    """Hold an exclusive lock on a raw table, so loads block inside their transaction."""
    conn = psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE)
    try:
        conn.execute(f'lock table "{env.settings.raw_schema}"."{table}" in access exclusive mode')
        yield conn
    finally:
        conn.rollback()
        conn.close()


def waiting_loaders(conn: psycopg.Connection[Any]) -> list[str]:
    """Wait events of the loads (application_name spacex-etl) blocked on a lock right now."""
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE, autocommit=True
    ) as other:
        rows = other.execute(
            "select wait_event from pg_stat_activity where application_name = 'spacex-etl' "
            "and wait_event_type = 'Lock'"
        ).fetchall()
    return [str(row[0]) for row in rows]


def two_or_none(events: list[str]) -> list[str] | None:
    return events if len(events) == 2 else None


def wait_for(condition: Any, what: str) -> Any:
    """Poll an observable condition (not a sleep standing in for synchronisation)."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(POLL_S)
    raise AssertionError(f"timed out waiting for {what}")


def test_concurrent_loads_on_postgres_run_one_after_the_other(pg: Env, tmp_path: Path) -> None:
    pg.cli("run", "--date", DAY1, "--skip-transform")  # the tables exist and hold the snapshot
    records = snapshot_records()
    uris = [
        extract(pg, write(tmp_path / f"launches-{n}.json", records), DAY2, f"run-{n}")
        for n in (1, 2)
    ]

    with gate(pg, "launches") as conn:
        loads = [pg.popen("load", "--raw-uri", uri) for uri in uris]
        # one load waits on the table (inside its transaction), the other on the load lock
        events = wait_for(lambda: two_or_none(waiting_loaders(conn)), "both loads to block")
    results = [load.communicate(timeout=WAIT_LIMIT_S) for load in loads]

    assert [load.returncode for load in loads] == [0, 0], results
    assert launch_ids(pg) == (205, 205)  # no duplicates: 205 rows for 205 ids
    assert sorted(events) == ["advisory", "relation"]  # the second waited for the first
    statuses = [status for _, status, _ in pg.ledger()]
    assert statuses.count("succeeded") == 2 + 2  # the first run's two batches + both loads


def test_a_second_duckdb_writer_fails_with_a_clear_error(loaded: Env) -> None:
    before = loaded.counts()
    with duckdb.connect(str(loaded.settings.duckdb_file)):  # another process holds the file
        proc = loaded.cli("load", "--date", DAY1, expect=1)
    line = one_line_error(proc)
    assert str(loaded.settings.duckdb_file) in line and "another process" in line
    assert " WARNING " not in proc.stderr  # no second attempt to reach it for the ledger
    assert loaded.counts() == before


# -- kills -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_postgres_load_killed_mid_transaction_leaves_the_warehouse_as_it_was(
    pg: Env, tmp_path: Path, sig: signal.Signals
) -> None:
    pg.cli("run", "--date", DAY1, "--skip-transform")
    records = snapshot_records()
    for record in records:
        record["name"] += " (renamed)"
    uri = extract(pg, write(tmp_path / "launches.json", records), DAY2)
    before = pg.counts()

    with gate(pg, "launches") as conn:
        load = pg.popen("load", "--raw-uri", uri)
        wait_for(lambda: waiting_loaders(conn), "the load to block inside its transaction")
        load.send_signal(sig)
        load.communicate(timeout=WAIT_LIMIT_S)
    assert load.returncode == -sig

    assert pg.counts() == before
    assert not pg.query("select 1 from {raw}.launches where strpos(name, '(renamed)') > 0")
    pg.cli("load", "--raw-uri", uri)  # the rerun converges
    assert launch_ids(pg) == (205, 205)
    assert len(pg.query("select 1 from {raw}.launches where strpos(name, '(renamed)') > 0")) == 205


def test_duckdb_load_killed_midway_is_all_or_nothing_and_the_rerun_converges(
    loaded: Env, tmp_path: Path
) -> None:
    records = snapshot_records()
    for record in records:
        record["name"] += " (renamed)"
    uri = extract(loaded, write(tmp_path / "launches.json", records), DAY2)

    load = loaded.popen("load", "--raw-uri", uri)
    assert load.stderr is not None
    for line in load.stderr:  # the load announces its transaction; kill it right there
        if "loading launches batch" in line:
            break
    load.send_signal(signal.SIGKILL)  # inside its transaction, or just after the commit
    load.communicate(timeout=WAIT_LIMIT_S)
    assert load.returncode == -signal.SIGKILL

    renamed = len(loaded.query("select 1 from {raw}.launches where strpos(name, '(renamed)') > 0"))
    assert renamed in (0, 205)  # never a mix
    assert launch_ids(loaded) == (205, 205)
    loaded.cli("load", "--raw-uri", uri)
    assert (
        len(loaded.query("select 1 from {raw}.launches where strpos(name, '(renamed)') > 0")) == 205
    )
    assert launch_ids(loaded) == (205, 205)


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


# -- audit -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_answers_warn_when_the_last_load_failed(duck: Env, tmp_path: Path) -> None:
    duck.cli("run", "--date", DAY1)  # loads and builds the answers
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
def test_answers_warn_when_the_last_dbt_build_failed(duck: Env, tmp_path: Path) -> None:
    duck.cli("run", "--date", DAY1)
    records = snapshot_records()
    records[0]["cores"][0]["landing_type"] = "Catapult"  # loads, but fails accepted_values
    bad = write(tmp_path / "launches.json", records)
    duck.cli("run", "--input", str(bad), "--date", DAY2, expect=1)

    proc = duck.cli("answers")

    assert "Q1  max times a core was reused: 13" in proc.stdout
    [warning] = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert "the last dbt run failed (test.spacex.accepted_values_" in warning

"""The loading contract, the same suite on DuckDB and on the real local PostgreSQL.

Batches go through the real code path (`batch.stage_batch`: contract checks, Parquet parts); the
warehouse is read back with plain SQL. Redshift shares this algorithm (base.py) and is covered
statically in tests/unit/test_redshift_sql.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from spacex_etl import pipeline
from spacex_etl.batch import Batch, BatchKey
from spacex_etl.config import Settings
from spacex_etl.contract import TABLES, columns
from spacex_etl.errors import ContractError, LoadError
from spacex_etl.warehouse import SqlWarehouse, open_warehouse
from spacex_etl.warehouse.base import ident
from spacex_etl.warehouse.duckdb import STORAGE_VERSION, DuckDBWarehouse
from tests.conftest import SNAPSHOT_LAUNCHES
from tests.staging import stage_records

DAY1, DAY2, DAY3 = date(2024, 6, 1), date(2024, 6, 2), date(2024, 6, 3)
ID_A, ID_B, ID_C = (
    "5eb87cd9ffd86e000604b32a",
    "5eb87cdaffd86e000604b32b",
    "5eb87cdbffd86e000604b32c",
)
CORE_1, CORE_2, CORE_3 = (
    "5e9d0d95eda69955f709d1eb",
    "5e9d0d95eda69973a809d1ec",
    "5e9d0d95eda69974db09d1ed",
)
TRICKY_TEXT = "tab\there, newline\nthere, back\\slash, \"quotes\", 'apostrophe', Türksat ✓, \\N"


@pytest.fixture(params=["duckdb", "postgres"])
def wh_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Settings for each warehouse under test (PostgreSQL: schemas unique to the test)."""
    if request.param == "postgres":
        pg: Settings = request.getfixturevalue("pg_settings")
        return pg
    return settings


def launch(
    launch_id: str,
    name: str,
    cores: list[str | None],
    *,
    flight_number: int = 1,
    date_utc: str = "2020-01-07T02:19:00.000Z",
    details: str | None = None,
) -> dict[str, Any]:
    """A minimal valid /v5/launches record."""
    return {
        "id": launch_id,
        "name": name,
        "flight_number": flight_number,
        "date_utc": date_utc,
        "upcoming": False,
        "success": True,
        "details": details,
        "cores": [
            {"core": core, "flight": n + 1, "reused": n > 0, "landing_success": True}
            for n, core in enumerate(cores)
        ],
        "payloads": [],
        "failures": [],
    }


def make_batch(
    records: list[Any],
    ingest_date: date,
    run_id: str | None = None,
    extracted_at: datetime | None = None,
) -> Batch:
    """Validate, flatten and stage records exactly as `pipeline.prepare` does."""
    run_id = run_id or f"{ingest_date:%Y%m%d}T000000Z-abc123"
    key = BatchKey(resource="launches", source="test", ingest_date=ingest_date)
    uri = f"memory://{run_id}/launches.json"
    return stage_records(records, key, run_id, uri, "0" * 64, extracted_at=extracted_at)


def snapshot_batch(ingest_date: date = DAY1) -> Batch:
    key = BatchKey(resource="launches", source="snapshot", ingest_date=ingest_date)
    run_id = f"{ingest_date:%Y%m%d}T000000Z-snap00"
    return stage_records(SNAPSHOT_LAUNCHES.read_bytes(), key, run_id, "memory://snapshot", "1" * 64)


def state(wh: SqlWarehouse) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every data table, sorted, without the load timestamps (they change per
    load). The ledger is not data: it is append-only, see `ledger`."""
    out = {}
    for table in TABLES:
        shown = ", ".join(ident(c) for c, _ in columns(table) if c != "_loaded_at")
        rows = wh.query(f"select {shown} from {wh.qualified(table)}")
        out[table] = sorted((tuple(row.values()) for row in rows), key=repr)
    return out


def ledger(wh: SqlWarehouse) -> list[tuple[str, str, str | None]]:
    """(run id, status, error) of every load attempt, oldest first."""
    rows = wh.query(
        f"select run_id, status, error from {wh.qualified('load_ledger')} order by loaded_at"
    )
    return [(row["run_id"], row["status"], row["error"]) for row in rows]


def names(wh: SqlWarehouse) -> dict[str, str]:
    rows = wh.query(f"select launch_id, name from {wh.qualified('launches')}")
    return {row["launch_id"]: row["name"] for row in rows}


def cores_of(wh: SqlWarehouse, launch_id: str) -> list[str | None]:
    rows = wh.query(
        f"select core_id from {wh.qualified('launch_cores')} where launch_id = "
        f"{wh.paramstyle} order by core_index",
        (launch_id,),
    )
    return [row["core_id"] for row in rows]


def test_load_snapshot_then_rerun_gives_identical_rows(wh_settings: Settings) -> None:
    wh = open_warehouse(wh_settings)
    result = wh.load_batch(snapshot_batch())
    assert result.rows == {
        "launches": 205,
        "launch_cores": 215,
        "launch_payloads": 222,
        "launch_failures": 5,
    }
    first = state(wh)
    assert {t: len(rows) for t, rows in first.items()} == {
        "launches": 205,
        "launch_cores": 215,
        "launch_payloads": 222,
        "launch_failures": 5,
        "cores": 0,
        "quarantine": 0,
    }

    again = wh.load_batch(snapshot_batch())  # the same batch (same run id) once more

    assert again.keys_written == 205
    assert state(wh) == first
    run = "20240601T000000Z-snap00"
    assert ledger(wh) == [(run, "succeeded", None), (run, "succeeded", None)]  # two attempts


def test_rerun_with_a_new_run_id_replaces_not_duplicates(wh_settings: Settings) -> None:
    wh = open_warehouse(wh_settings)
    wh.load_batch(make_batch([launch(ID_A, "A", [CORE_1])], DAY1, "20240601T000000Z-aaaaaa"))
    wh.load_batch(make_batch([launch(ID_A, "A", [CORE_1])], DAY1, "20240601T090000Z-bbbbbb"))

    counts = wh.row_counts()
    assert (counts["launches"], counts["launch_cores"]) == (1, 1)
    assert ledger(wh) == [
        ("20240601T000000Z-aaaaaa", "succeeded", None),
        ("20240601T090000Z-bbbbbb", "succeeded", None),
    ]


def test_newer_batch_updates_records_and_drops_stale_children(wh_settings: Settings) -> None:
    wh = open_warehouse(wh_settings)
    wh.load_batch(
        make_batch(
            [launch(ID_A, "Falcon Heavy", [CORE_1, CORE_2, CORE_3]), launch(ID_B, "B", [CORE_1])],
            DAY1,
        )
    )

    result = wh.load_batch(make_batch([launch(ID_A, "Falcon Heavy (renamed)", [CORE_2])], DAY2))

    assert result.keys_written == 1
    assert names(wh) == {ID_A: "Falcon Heavy (renamed)", ID_B: "B"}
    assert cores_of(wh, ID_A) == [CORE_2]  # the two cores the new record no longer has are gone
    assert cores_of(wh, ID_B) == [CORE_1]  # a launch absent from the new batch is kept
    assert wh.row_counts()["load_ledger"] == 2


def test_free_text_survives_the_bulk_load_unchanged(wh_settings: Settings) -> None:
    wh = open_warehouse(wh_settings)
    wh.load_batch(make_batch([launch(ID_A, "A, with comma", [None], details=TRICKY_TEXT)], DAY1))

    rows = wh.query(f"select name, details, date_utc from {wh.qualified('launches')}")

    assert rows[0]["name"] == "A, with comma"
    assert rows[0]["details"] == TRICKY_TEXT
    assert rows[0]["date_utc"].isoformat() == "2020-01-07T02:19:00"
    assert cores_of(wh, ID_A) == [None]


def test_older_batch_does_not_overwrite_newer_rows_unless_forced(wh_settings: Settings) -> None:
    wh = open_warehouse(wh_settings)
    wh.load_batch(make_batch([launch(ID_A, "new", [CORE_1, CORE_2])], DAY2))

    older = wh.load_batch(make_batch([launch(ID_A, "old", [CORE_3]), launch(ID_C, "C", [])], DAY1))

    assert (older.keys_written, older.keys_skipped_newer) == (1, 1)  # C is new, A is newer
    assert older.rows["launches"] == 1
    assert names(wh) == {ID_A: "new", ID_C: "C"}
    assert cores_of(wh, ID_A) == [CORE_1, CORE_2]

    forced = wh.load_batch(make_batch([launch(ID_A, "old", [CORE_3])], DAY1), force=True)

    assert forced.keys_written == 1
    assert names(wh)[ID_A] == "old"
    assert cores_of(wh, ID_A) == [CORE_3]


def test_a_batch_failing_midway_leaves_the_previous_state(
    wh_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = open_warehouse(wh_settings)
    wh.load_batch(make_batch([launch(ID_A, "A", [CORE_1, CORE_2])], DAY1))
    before = state(wh)
    real_merge = type(wh).merge_statements

    def failing_merge(self: SqlWarehouse, *args: Any) -> list[tuple[str, tuple[Any, ...]]]:
        # after the first table's delete + insert: rows already written
        statements = real_merge(self, *args)
        assert statements[0][0].startswith("delete from")
        return [*statements[:2], ('select * from "injected failure midway"', ())]

    monkeypatch.setattr(type(wh), "merge_statements", failing_merge)
    newer = make_batch([launch(ID_A, "A v2", [CORE_3]), launch(ID_B, "B", [CORE_1])], DAY2)

    with pytest.raises(LoadError, match=r"rolled back: .*injected failure midway"):
        wh.load_batch(newer)

    assert state(wh) == before
    [(_, status, error)] = ledger(wh)[1:]  # the attempt is on record, in its own transaction
    assert status == "failed" and "injected failure midway" in (error or "")
    monkeypatch.setattr(type(wh), "merge_statements", real_merge)
    wh.load_batch(newer)  # and the same batch loads once the cause is gone
    assert names(wh) == {ID_A: "A v2", ID_B: "B"}


def test_quarantine_rows_are_replaced_per_batch(wh_settings: Settings) -> None:
    wh = open_warehouse(wh_settings)
    bad = launch(ID_B, "B", [CORE_1]) | {"flight_number": "2"}  # a string is not a flight number
    first = make_batch([launch(ID_A, "A", []), bad], DAY1)
    other_day = make_batch([launch(ID_C, "C", []), bad], DAY2)
    assert len(first.quarantine) == 1

    wh.load_batch(first)
    wh.load_batch(other_day)
    wh.load_batch(first)  # a rerun replaces, not appends, its quarantine rows

    def quarantined() -> list[tuple[str, str, str]]:
        rows = wh.query(
            f"select _ingest_date, record_id, field from {wh.qualified('quarantine')} "
            "order by _ingest_date"
        )
        return [(str(r["_ingest_date"]), r["record_id"], r["field"]) for r in rows]

    assert quarantined() == [
        ("2024-06-01", ID_B, "flight_number"),
        ("2024-06-02", ID_B, "flight_number"),
    ]

    wh.load_batch(
        make_batch(
            [launch(ID_A, "A", []), launch(ID_B, "B", [CORE_1])], DAY1, "20240601T120000Z-fixed0"
        )
    )

    assert quarantined() == [("2024-06-02", ID_B, "flight_number")]
    assert sorted(names(wh)) == [ID_A, ID_B, ID_C]


def test_same_date_replays_keep_the_later_extraction(wh_settings: Settings) -> None:
    wh = open_warehouse(wh_settings)
    morning, noon = datetime(2024, 6, 1, 8, tzinfo=UTC), datetime(2024, 6, 1, 12, tzinfo=UTC)
    wh.load_batch(make_batch([launch(ID_A, "noon", [])], DAY1, "r-noon", extracted_at=noon))

    late = wh.load_batch(
        make_batch([launch(ID_A, "morning", [])], DAY1, "r-morning", extracted_at=morning)
    )

    assert (late.keys_written, late.keys_skipped_newer) == (0, 1)
    assert names(wh) == {ID_A: "noon"}


def test_empty_or_shrunken_batch_is_refused_and_recorded(wh_settings: Settings) -> None:
    wh = open_warehouse(wh_settings)
    three = [launch(ID_A, "A", []), launch(ID_B, "B", []), launch(ID_C, "C", [])]
    wh.load_batch(make_batch(three, DAY1), min_share=0.5)
    before = state(wh)

    for records in ([], [launch(ID_C, "C2", [])]):  # 0 and 1 of the last load's 3: < 50 %
        with pytest.raises(ContractError, match=r"empty extract|shrunken extract"):
            wh.load_batch(make_batch(records, DAY2), min_share=0.5)

    assert state(wh) == before
    assert [status for _, status, _ in ledger(wh)] == ["succeeded", "rejected", "rejected"]
    wh.load_batch(make_batch([launch(ID_C, "C2", [])], DAY2), min_share=None)  # --allow-shrink
    assert names(wh) == {ID_A: "A", ID_B: "B", ID_C: "C2"}


def test_tables_of_an_older_release_gain_the_new_columns(wh_settings: Settings) -> None:
    wh = open_warehouse(wh_settings)
    wh.load_batch(make_batch([launch(ID_A, "A", [])], DAY1))
    with wh.transaction() as cur:  # what an older release created: no such columns
        cur.execute(f"alter table {wh.qualified('launches')} drop column _extracted_at")
        for column in ("status", "error", "extracted_at"):
            cur.execute(f"alter table {wh.qualified('load_ledger')} drop column {column}")

    wh.load_batch(make_batch([launch(ID_A, "A v2", [])], DAY2))

    assert names(wh) == {ID_A: "A v2"}
    assert [status for _, status, _ in ledger(wh)] == [None, "succeeded"]


def test_a_new_duckdb_file_gets_the_newer_format_and_an_old_one_keeps_its_own(
    settings: Settings, tmp_path: Path
) -> None:
    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()  # a file an older release made: DuckDB's default format
    for path, version in ((settings.duckdb_file, STORAGE_VERSION), (old, "v1.0.0")):
        wh = DuckDBWarehouse(path, settings.raw_schema)
        wh.load_batch(make_batch([launch(ID_A, "A", [CORE_1])], DAY1))
        assert names(wh) == {ID_A: "A"}
        [row] = wh.query(
            "select tags from duckdb_databases() where database_name = current_database()"
        )
        assert row["tags"]["storage_version"] == f"{version}+"


@pytest.mark.slow
def test_duckdb_and_postgres_give_the_same_answers(pg_settings: Settings, tmp_path: Path) -> None:
    duck = Settings(data_dir=tmp_path / "duck", warehouse="duckdb")

    on_duckdb = pipeline.run(duck, DAY1, run_id="20240601T000000Z-duck00")
    on_postgres = pipeline.run(pg_settings, DAY1, run_id="20240601T000000Z-pg0000")

    assert on_postgres.dbt["failures"] == []
    # the same answers; only where the whole Q2 lives differs (each warehouse's dbt schema)
    where = {"q2_model": f"{pg_settings.dbt_schema}.q2_cores_reused_within_50_days"}
    assert on_postgres.answers == on_duckdb.answers | where
    assert on_postgres.answers["q1_max_reuse"]["value"] > 0
    assert on_postgres.answers["q2_cores"]
    assert on_postgres.as_dict()["counts"]["loaded"] == on_duckdb.as_dict()["counts"]["loaded"]
    assert open_warehouse(pg_settings).row_counts() == open_warehouse(duck).row_counts()

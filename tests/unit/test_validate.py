"""Validation and flattening on small hand-written inputs, good and bad."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from spacex_etl.batch import BatchKey
from spacex_etl.errors import InputFormatError
from spacex_etl.validate import parse_array, validate_records
from tests.staging import stage_records, table

LAUNCH: dict[str, Any] = {
    "id": "5eb87cd9ffd86e000604b32a",
    "name": "FalconSat",
    "flight_number": 1,
    "date_utc": "2006-03-24T22:30:00.000Z",
    "date_unix": 1143239400,
    "date_local": "2006-03-25T10:30:00+12:00",
    "date_precision": "hour",
    "upcoming": False,
    "success": False,
    "rocket": "5e9d0d95eda69955f709d1eb",
    "launchpad": "5e9e4502f5090995de566f86",
    "details": "Engine failure at 33 seconds",
    "payloads": ["5eb0e4b5b6c3bb0006eeb1e1"],
    "failures": [{"time": 33, "altitude": None, "reason": "merlin engine failure"}],
    "cores": [
        {
            "core": "5e9e289df35918033d3b2623",
            "flight": 1,
            "gridfins": False,
            "legs": False,
            "reused": False,
            "landing_attempt": False,
            "landing_success": None,
            "landing_type": None,
            "landpad": None,
        }
    ],
}


def launch(**changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(LAUNCH)
    record.update(changes)
    return record


def falcon_heavy() -> dict[str, Any]:
    record = launch(
        id="5eb87d13ffd86e000604b360", name="Falcon Heavy Test Flight", flight_number=55
    )
    record["cores"] = [
        {**LAUNCH["cores"][0], "core": f"5e9e28a6f35918c0803b26{n}"} for n in ("5a", "5b", "5c")
    ]
    return record


def body(records: Any) -> bytes:
    return json.dumps(records).encode()


def test_clean_records_flatten_to_all_tables() -> None:
    batch = stage_records([launch(), falcon_heavy()], BatchKey("launches", "t", date(2024, 6, 1)))

    assert (batch.received, batch.records_loaded, len(batch.quarantine)) == (2, 2, 0)

    assert batch.row_counts() == {
        "launches": 2,
        "launch_cores": 4,  # Falcon Heavy explodes into three core rows
        "launch_payloads": 2,
        "launch_failures": 2,
    }
    row = next(r for r in table(batch, "launches").to_pylist() if r["launch_id"] == LAUNCH["id"])
    assert row["date_utc"].isoformat() == "2006-03-24T22:30:00"  # UTC, naive
    assert row["_ingest_date"] == date(2024, 6, 1)
    cores = table(batch, "launch_cores").to_pylist()
    assert sorted(c["core_index"] for c in cores) == [0, 0, 1, 2]


def test_unknown_fields_are_reported_as_drift_and_do_not_break_the_run() -> None:
    record = launch(brand_new_field={"nested": [1, 2]})
    record["cores"][0]["booster_colour"] = "white"

    batch = stage_records([record], BatchKey("launches", "t", date(2024, 6, 1)))

    assert len(batch.quarantine) == 0
    assert batch.row_counts()["launches"] == 1
    assert batch.drift["added"] == ["brand_new_field", "cores[].booster_colour"]


def test_expected_fields_absent_from_every_record_are_reported_as_removed() -> None:
    record = launch(fairings=None, failures=[])
    del record["details"]
    del record["cores"][0]["landpad"]
    batch = stage_records([record], BatchKey("launches", "t", date(2024, 6, 1)))

    removed = batch.drift["removed"]
    assert {"details", "cores[].landpad"} <= set(removed) and "fairings" not in removed
    assert "failures[].reason" not in removed  # no failure in the file: nothing lost


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "file is empty"),
        (b"not json at all", "not valid JSON"),
        (json.dumps([LAUNCH])[:-40].encode(), "not valid JSON (truncated?)"),
        (
            body({"docs": [LAUNCH], "totalDocs": 9}),
            "found a paginated query response ({'docs': [...]}, 1 of 9 records); refusing",
        ),
        (body({"error": "Not Found"}), "found an API error body: Not Found"),
        (body({"launches": []}), "found an object with keys ['launches']"),
        (b"42", "expected a JSON array of records, found int"),
        (b"[NaN]", "not valid JSON (NaN/Infinity are not JSON)"),
        (b"[" * 2000 + b"]" * 2000, "not valid JSON: depth limit exceeded"),
    ],
    ids=[
        "empty",
        "not-json",
        "truncated",
        "paginated",
        "api-error",
        "object",
        "scalar",
        "nan",
        "deep",
    ],
)
def test_unusable_file_fails_with_one_clear_error_naming_it(raw: bytes, message: str) -> None:
    with pytest.raises(InputFormatError) as info:
        parse_array(raw, "lake/raw/launches.json")
    text = str(info.value)
    assert text.startswith("lake/raw/launches.json: ")
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"flight_number": "7"}, "flight_number", "int_type"),
        ({"flight_number": 7.5}, "flight_number", "int_type"),
        ({"upcoming": "no"}, "upcoming", "bool_type"),
        ({"date_utc": "yesterday"}, "date_utc", "datetime_from_date_parsing"),
        ({"date_utc": "2020-01-01T00:00:00"}, "date_utc", "timezone_aware"),
        ({"id": None}, "id", "string_type"),
        ({"id": "not-an-object-id"}, "id", "string_pattern_mismatch"),
        (
            {"cores": [{"core": "5e9e289df35918033d3b2623", "flight": "two"}]},
            "cores.0.flight",
            "int_type",
        ),
        ({"cores": "B1049"}, "cores", "list_type"),
    ],
)
def test_wrong_types_are_quarantined_with_field_and_rule(
    change: dict[str, Any], field: str, rule: str
) -> None:
    bad = (
        launch(id="5eb87cdaffd86e000604b32b", **change) if "id" not in change else launch(**change)
    )
    validated = validate_records([launch(), bad], "launches")

    assert (validated.received, validated.valid, len(validated.quarantine)) == (2, 1, 1)
    entry = validated.quarantine[0]
    assert (entry.record_index, entry.field, entry.rule) == (1, field, rule)
    assert entry.message
    assert json.loads(entry.record_json) == bad  # the record is kept, unchanged


def test_missing_required_field_is_quarantined() -> None:
    record = launch()
    del record["date_utc"]
    validated = validate_records([record], "launches")
    assert validated.valid == 0
    assert (validated.quarantine[0].field, validated.quarantine[0].rule) == ("date_utc", "missing")
    assert validated.quarantine[0].record_id == LAUNCH["id"]


def test_record_that_is_not_an_object_is_quarantined() -> None:
    validated = validate_records([launch(), "oops", None], "launches")
    assert validated.valid == 1
    assert [(q.record_index, q.field, q.record_id) for q in validated.quarantine] == [
        (1, "(record)", None),
        (2, "(record)", None),
    ]


def test_several_errors_in_one_record_are_summarised_once() -> None:
    validated = validate_records([launch(flight_number="x", upcoming="y")], "launches")
    assert len(validated.quarantine) == 1
    assert "(+1 more)" in validated.quarantine[0].message


def test_null_core_id_is_loaded_as_an_unassigned_slot() -> None:
    record = launch(upcoming=True, success=None)
    record["cores"][0]["core"] = None
    validated = validate_records([record], "launches")
    batch = stage_records([record], BatchKey("launches", "t", date(2024, 6, 1)))

    assert validated.quarantine == [] and len(batch.quarantine) == 0
    assert table(batch, "launch_cores").column("core_id").to_pylist() == [None]


def test_duplicate_ids_identical_are_collapsed_conflicting_are_quarantined() -> None:
    changed = launch(details="a different text")
    validated = validate_records([launch(), launch(), changed], "launches")

    assert (validated.received, validated.valid, validated.deduplicated) == (3, 1, 1)
    assert [(q.record_index, q.rule) for q in validated.quarantine] == [(2, "duplicate_id")]
    # counts in = loaded + quarantined + collapsed duplicates
    assert (
        validated.received == validated.valid + len(validated.quarantine) + validated.deduplicated
    )


def test_integral_floats_are_accepted_for_integer_fields() -> None:
    validated = validate_records(
        [{"id": "5e9e289ef359185f2b3b2628", "block": 1.0, "reuse_count": 0, "serial": "B0003"}],
        "cores",
    )
    assert validated.quarantine == []
    assert validated.records[0][0].block == 1  # type: ignore[attr-defined]


def test_bundled_snapshot_is_clean() -> None:
    from tests.conftest import SNAPSHOT_LAUNCHES

    batch = stage_records(
        SNAPSHOT_LAUNCHES.read_bytes(), BatchKey("launches", "s", date(2024, 6, 1))
    )
    assert (batch.received, len(batch.quarantine), batch.drift) == (205, 0, {})
    assert batch.row_counts()["launch_cores"] == 215
    assert table(batch, "launch_cores").column("core_id").null_count == 19

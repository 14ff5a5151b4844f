"""Every class of bad input, through `spacex-etl run` on a warehouse that already holds the
snapshot: the exit code, the one line a user reads (naming the file, record and field), the rows
before and after, the raw bytes kept, the quarantine complete, and the counts reconciling
(received = loaded + quarantined + deduplicated)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import DAY2, Env, one_line_error, snapshot_records

Records = list[dict[str, Any]]


def _body(records: Any) -> bytes:
    return json.dumps(records).encode()


def _deep() -> bytes:
    records = snapshot_records()
    records[0]["links"] = "deep"
    return _body(records).replace(b'"deep"', b"[" * 2000 + b"]" * 2000, 1)


UNUSABLE: dict[str, tuple[Callable[[], bytes], str]] = {
    "not-json": (lambda: b"<html>502 Bad Gateway</html>", "not valid JSON"),
    "truncated": (lambda: _body(snapshot_records())[:-500], "not valid JSON (truncated?)"),
    "empty-file": (lambda: b"", "file is empty"),
    "object": (lambda: _body({"launches": snapshot_records()}), "found an object with keys"),
    "api-error": (
        lambda: _body({"error": "Rate limit exceeded, retry later"}),
        "found an API error body: Rate limit exceeded, retry later",
    ),
    "paginated": (
        lambda: _body({"docs": snapshot_records()[:10], "totalDocs": 205, "page": 1}),
        "found a paginated query response ({'docs': [...]}, 10 of 205 records); refusing",
    ),
    "nan": (lambda: _body(snapshot_records()).replace(b'"window": 0', b'"window": NaN', 1), "NaN"),
    "nan-in-unread-field": (
        lambda: _body(snapshot_records()).replace(b'"links": {', b'"links": {"x": NaN, ', 1),
        "not valid JSON",
    ),
}


UNUSABLE_SUFFIX = {"not-json": ".html", "truncated": ".not-json", "empty-file": ".empty"}
UNUSABLE_SUFFIX |= dict.fromkeys(["object", "api-error", "paginated"], ".json")


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_file_is_refused_whole_and_kept(loaded: Env, tmp_path: Path, case: str) -> None:
    make, fragment = UNUSABLE[case]
    body = make()
    bad = tmp_path / "launches.json"
    bad.write_bytes(body)
    before = loaded.counts()

    proc = loaded.cli("run", "--input", str(bad), "--date", DAY2, "--skip-transform", expect=1)

    line = one_line_error(proc)
    assert str(bad) in line and fragment in line
    assert loaded.counts() == before  # refused before the warehouse was touched
    assert loaded.raw_files(DAY2) == []  # nothing a later `load --date` could pick up
    zone = loaded.data_dir / "lake" / "quarantine" / "spacex" / "launches" / f"ingest_date={DAY2}"
    [kept] = [path for path in zone.rglob("launches.*") if path.is_file()]
    assert kept.read_bytes() == body  # the evidence, named for what it is
    assert kept.suffix == UNUSABLE_SUFFIX.get(case, kept.suffix)
    assert f"kept at {kept}" in line


def test_deep_nesting_in_a_field_the_contract_does_not_read_loads(
    loaded: Env, tmp_path: Path
) -> None:
    """JSON sets no depth limit: 2,000 levels inside `links` (kept only in the raw zone) load;
    the raw bytes are kept as they came."""
    body = _deep()

    assert _received_quarantined_loaded(loaded, tmp_path, body) == (205, 0, 205)
    assert [p.read_bytes() for p in loaded.raw_files(DAY2)] == [body]


def _received_quarantined_loaded(env: Env, tmp_path: Path, body: bytes) -> tuple[int, int, int]:
    """Run the load on `body`; the run summary's record counts."""
    path = tmp_path / "launches.json"
    path.write_bytes(body)
    proc = env.cli("run", "--input", str(path), "--date", DAY2, "--skip-transform", "--json")
    counts = json.loads(proc.stdout)["counts"]
    return counts["received"], counts["quarantined"], counts["loaded"]["launches"]


def test_empty_array_is_refused_unless_allowed(loaded: Env, tmp_path: Path) -> None:
    empty = tmp_path / "launches.json"
    empty.write_bytes(b"[]")
    before = loaded.counts()

    proc = loaded.cli("run", "--input", str(empty), "--date", DAY2, "--skip-transform", expect=1)

    line = one_line_error(proc)
    assert "empty extract" in line and str(empty) in line and "--allow-shrink" in line
    assert loaded.counts() == before | {"load_ledger": before["load_ledger"] + 1}

    args = ("run", "--input", str(empty), "--date", DAY2, "--skip-transform", "--allow-shrink")
    loaded.cli(*args)

    assert loaded.counts()["launches"] == before["launches"] == 205  # existing rows survive
    assert loaded.ledger()[-1][:2] == ("launches", "succeeded")


def _set(index: int, **values: Any) -> Callable[[Records], None]:
    def change(records: Records) -> None:
        records[index].update(values)

    return change


def _drop(index: int, name: str) -> Callable[[Records], None]:
    return lambda records: records[index].pop(name) and None


def _duplicate(index: int, **values: Any) -> Callable[[Records], None]:
    return lambda records: records.append(records[index] | values)


def _set_core(index: int, **values: Any) -> Callable[[Records], None]:
    return lambda records: records[index]["cores"][0].update(values)


# case -> (change, (record index, field, rule) quarantined or None, records deduplicated)
BAD_RECORDS: dict[str, tuple[Callable[[Records], None], tuple[int, str, str] | None, int]] = {
    "missing-id": (_drop(5, "id"), (5, "id", "missing"), 0),
    "duplicate-id": (_duplicate(0, name="Other"), (205, "id", "duplicate_id"), 0),
    "exact-duplicate": (_duplicate(1), None, 1),
    "wrong-type": (_set(3, flight_number="four"), (3, "flight_number", "int_type"), 0),
    "impossible-date": (
        _set(4, date_utc="2021-02-30T00:00:00.000Z"),
        (4, "date_utc", "datetime_from_date_parsing"),
        0,
    ),
    "naive-date": (_set(6, date_utc="2021-02-01T00:00:00"), (6, "date_utc", "timezone_aware"), 0),
    "int32-overflow": (_set(7, flight_number=2**31), (7, "flight_number", "out_of_range"), 0),
    "bigint-overflow": (_set(8, date_unix=2**63), (8, "date_unix", "out_of_range"), 0),
    "core-flight-overflow": (
        _set_core(9, flight=-(2**31) - 1),
        (9, "cores.0.flight", "out_of_range"),
        0,
    ),
    "key-too-long": (
        _set(10, launch_library_id="x" * 257),
        (10, "launch_library_id", "too_long"),
        0,
    ),
    "text-too-long": (_set(11, details="é" * 40_000), (11, "details", "too_long"), 0),
    "cores-not-a-list": (_set(12, cores={"core": None}), (12, "cores", "list_type"), 0),
    "long-unread-field": (  # raw keeps it; the warehouse holds typed columns only
        _set(13, links={"article": "x" * 70_000}),
        None,
        0,
    ),
    "bom": (lambda records: None, None, 0),
}


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_bad_record_is_quarantined_with_field_and_rule(
    loaded: Env, tmp_path: Path, case: str
) -> None:
    change, expected, deduplicated = BAD_RECORDS[case]
    records = snapshot_records()
    change(records)
    body = _body(records)
    if case == "bom":
        body = b"\xef\xbb\xbf" + body
    path = tmp_path / "launches.json"
    path.write_bytes(body)
    before = loaded.counts()

    proc = loaded.cli("run", "--input", str(path), "--date", DAY2, "--skip-transform", "--json")

    summary = json.loads(proc.stdout)
    counts = summary["counts"]
    quarantined = [] if expected is None else [expected]
    assert counts["received"] == len(records)
    assert (counts["quarantined"], counts["deduplicated"]) == (len(quarantined), deduplicated)
    assert counts["received"] == counts["loaded"]["launches"] + len(quarantined) + deduplicated
    lines = loaded.quarantine_lines(DAY2)
    assert [(q["record_index"], q["field"], q["rule"]) for q in lines] == quarantined
    assert all(json.loads(q["record_json"]) == records[q["record_index"]] for q in lines)
    if expected is not None:
        assert summary["quarantine_uri"]
        [row] = loaded.query("select field, rule from {raw}.quarantine")
        assert (row["field"], row["rule"]) == expected[1:]
    # the bad record's launch keeps its row from the earlier load: nothing lost, no duplicate
    assert loaded.counts() == before | {
        "load_ledger": before["load_ledger"] + 1,
        "quarantine": len(quarantined),
    }
    assert [path.read_bytes() for path in loaded.raw_files(DAY2)] == [body]


def test_out_of_range_and_long_values_are_quarantined_on_each_warehouse(
    env: Env, tmp_path: Path
) -> None:
    """The type traps of each warehouse's columns: int32, bigint, varchar byte limits."""
    records = snapshot_records()
    for case in ("int32-overflow", "bigint-overflow", "key-too-long", "text-too-long"):
        BAD_RECORDS[case][0](records)
    window = 987_654_321
    records[20]["window"] = window
    body = _body(records).replace(str(window).encode(), b"1e400")  # beyond any double

    assert _received_quarantined_loaded(env, tmp_path, body) == (205, 5, 200)
    rows = env.query("select record_index, field, rule from {raw}.quarantine order by 1")
    assert [(r["record_index"], r["field"], r["rule"]) for r in rows] == [
        (7, "flight_number", "out_of_range"),
        (8, "date_unix", "out_of_range"),
        (10, "launch_library_id", "too_long"),
        (11, "details", "too_long"),
        (20, "window", "out_of_range"),
    ]
    assert env.counts()["launches"] == 200

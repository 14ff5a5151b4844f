"""The fast path (DuckDB checks generated from the contract) must stage exactly what a
per-record validation of the whole file by the record models gives, and quarantine exactly the
same records with the same messages, on generated data with broken records."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spacex_etl import decode, parts
from spacex_etl.contract import METADATA_COLUMNS, for_resource
from spacex_etl.errors import InputFormatError
from spacex_etl.records import rows
from spacex_etl.validate import Validated, parse_array, validate_records
from tests.benchmarks import generate

METADATA = [name for name, _ in METADATA_COLUMNS]
LOADED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC).replace(tzinfo=None)


def _meta() -> parts.BatchMeta:
    known = {
        "_source": "bench",
        "_ingest_date": date(2024, 6, 1),
        "_run_id": "run-1",
        "_raw_uri": "file:///raw/launches.json",
        "_loaded_at": LOADED_AT,
    }
    return parts.BatchMeta({name: known.get(name) for name in METADATA})


def _sorted(data: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(row.values()) for row in data), key=repr)


def _staged_rows(staged: parts.Staged, table: str) -> list[tuple[Any, ...]]:
    got = pa.concat_tables([pq.read_table(part) for part in staged.parts[table]])
    assert got.schema == for_resource("launches")[0].arrow_schema() or table != "launches"
    return _sorted(got.drop(METADATA).to_pylist())


def _reference(path: Path, resource: str = "launches") -> tuple[Validated, dict[str, list[Any]]]:
    """The whole file through the record models, and the rows `records.rows` makes of it."""
    validated = validate_records(parse_array(path.read_bytes(), str(path)), resource)
    tables: dict[str, list[dict[str, Any]]] = {c.name: [] for c in for_resource(resource)}
    for model, _ in validated.records:
        for table, row in rows(model):
            tables[table].append(row)
    return validated, {table: _sorted(data) for table, data in tables.items()}


def _assert_same(staged: parts.Staged, path: Path) -> None:
    today, expected = _reference(path)
    assert (staged.received, staged.deduplicated) == (today.received, today.deduplicated)
    assert (
        list(staged.quarantine) == today.quarantine
    )  # index, id, field, rule, message, record_json
    assert staged.rule_counts == today.rule_counts  # the contract-break verdict's input
    assert staged.loaded == today.valid
    for table, want in expected.items():
        assert _staged_rows(staged, table) == want, table
        assert staged.rows[table] == len(want)


@pytest.fixture(params=["here", "workers"])
def decoding(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: blocks decoded in this process, and on the worker processes that decode
    a big file (forced here for a small one)."""
    if request.param == "workers":
        monkeypatch.setattr(parts, "PARALLEL_BYTES", 0)
        monkeypatch.setattr(decode, "BLOCK_BYTES", 4096)  # many blocks, cut mid-record
    return str(request.param)


@pytest.fixture(scope="module")
def broken_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 1,200 launches, every 20th broken: each kind of BAD_KINDS several times, plus exact and
    # conflicting duplicates; upcoming launches with null cores at the end.
    path = tmp_path_factory.mktemp("gen") / "launches.json"
    return generate.write(path, 1200, seed=7, bad_every=20)


def test_the_fast_path_loads_and_quarantines_like_the_record_models(
    broken_file: Path, tmp_path: Path, decoding: str
) -> None:
    staged = parts.stage_file(broken_file, tmp_path / "staged", "launches", _meta())

    _assert_same(staged, broken_file)
    assert len(staged.quarantine) >= len(generate.BAD_KINDS) - 3  # 3.0, no/null cores are valid
    assert all(part.exists() for parts in staged.parts.values() for part in parts)


def test_slow_records_are_decided_in_chunks_with_one_duplicate_rule(
    broken_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decoding: str
) -> None:
    monkeypatch.setattr(parts, "SLOW_CHUNK", 7)  # duplicates straddle chunk boundaries
    staged = parts.stage_file(broken_file, tmp_path / "staged", "launches", _meta())

    _assert_same(staged, broken_file)


def test_values_do_not_depend_on_the_input_spelling(tmp_path: Path, decoding: str) -> None:
    # escapes, indentation, exponent numbers and non-ASCII: the same values as the models give
    base = next(generate.launches(1, seed=5))
    base["details"] = 'caf\u00e9 / "q" \u00fc \t tab'
    text = json.dumps(base, indent=2, ensure_ascii=True)[:-1]
    text += ', "extra": {"n": 1e3, "f": 0.5, "s": "caf\\u00e9 \\/ \\"q\\" \u00fc"}}'
    raw = tmp_path / "launches.json"
    raw.write_text(f"[\n{text}\n]\n", encoding="utf-8")

    staged = parts.stage_file(raw, tmp_path / "staged", "launches", _meta())

    _assert_same(staged, raw)
    assert staged.drift == {"added": ["extra"]}


@pytest.mark.parametrize("where", ["window", "links"])
def test_nan_anywhere_makes_the_file_unusable_as_json_does(tmp_path: Path, where: str) -> None:
    record = next(generate.launches(1, seed=5))
    record[where] = "NAN_HERE"
    raw = tmp_path / "launches.json"
    raw.write_bytes(json.dumps([record]).replace('"NAN_HERE"', "NaN").encode())

    with pytest.raises(InputFormatError, match=r"launches\.json record 0: not valid JSON"):
        parts.stage_file(raw, tmp_path / "staged", "launches", _meta(), name=str(raw))


def test_parts_are_sized_for_parallel_copy() -> None:
    assert parts.part_count(100_000) == 1  # small: one file
    assert parts.part_count(200 * 1024 * 1024, slices=4) == 4
    assert parts.part_count(2 * 1024**3, slices=4) == 32  # 64 MB each, a multiple of 4


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"id": "a"}, {"id": ', "not valid JSON (truncated?)"),
        (b"", "file is empty"),
        (b'{"docs": [], "totalDocs": 3}', "paginated query response"),
    ],
)
def test_not_a_json_array_is_refused_naming_the_file(
    tmp_path: Path, body: bytes, message: str
) -> None:
    bad = tmp_path / "launches.json"
    bad.write_bytes(body)
    with pytest.raises(InputFormatError, match=r"launches\.json") as caught:
        parts.stage_file(bad, tmp_path / "staged", "launches", _meta(), name=str(bad))
    assert message in str(caught.value)


def test_hostile_records_are_set_aside_alike_here_and_on_the_workers(
    tmp_path: Path, decoding: str
) -> None:
    """Keys given twice at any depth (one beside an escaped colon, `\\u003a`, which a colon
    count alone would miss), U+0000 and a 5,000-digit number: each record is quarantined with
    its field and rule, the others load, whichever process decoded them."""
    records = list(generate.launches(40, seed=3))
    texts = [json.dumps(record) for record in records]

    def twice(i: int, old: str, new: str) -> None:
        assert old in texts[i], old
        texts[i] = texts[i].replace(old, f"{old}, {new}", 1)

    twice(1, f'"id": "{records[1]["id"]}"', f'"id": "{"0" * 24}"')
    twice(2, f'"core": "{records[2]["cores"][0]["core"]}"', f'"core": "{"1" * 24}"')
    twice(3, '"media": null', '"media": "x"')
    records[4]["details"] = "a:b"  # written `a\u003ab`: the encode adds the colon the repeat drops
    texts[4] = json.dumps(records[4]).replace('"a:b"', '"a\\u003ab"', 1)
    texts[4] = texts[4].replace('"name": ', '"name": "dropped", "name": ', 1)
    records[5]["details"] = "before\x00after"
    texts[5] = json.dumps(records[5])
    texts[6] = texts[6].replace(
        f'"flight_number": {records[6]["flight_number"]}', '"flight_number": ' + "9" * 5000, 1
    )
    raw = tmp_path / "launches.json"
    raw.write_text("[" + ",\n".join(texts) + "]")

    staged = parts.stage_file(raw, tmp_path / "staged", "launches", _meta())

    assert [(q.record_index, q.field, q.rule) for q in staged.quarantine] == [
        (1, "id", "duplicate_key"),
        (2, "cores.0.core", "duplicate_key"),
        (3, "links.reddit.media", "duplicate_key"),
        (4, "name", "duplicate_key"),
        (5, "details", "unstorable_character"),
        (6, "flight_number", "out_of_range"),
    ]
    assert (staged.received, staged.loaded, staged.rows["launches"]) == (40, 34, 34)

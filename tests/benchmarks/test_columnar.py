"""The columnar prototype must load exactly what today's per-record path loads, and quarantine
exactly the same records with the same messages, on generated data with broken records."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spacex_etl import columnar
from spacex_etl.batch import BatchKey, build_batch
from spacex_etl.errors import InputFormatError
from spacex_etl.schema import METADATA_COLUMNS
from spacex_etl.validate import parse_array, validate_records
from tests.benchmarks import generate

METADATA = [name for name, _ in METADATA_COLUMNS]
LOADED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC).replace(tzinfo=None)


def _meta() -> columnar.BatchMeta:
    known = {
        "_source": "bench",
        "_ingest_date": date(2024, 6, 1),
        "_run_id": "run-1",
        "_raw_uri": "file:///raw/launches.json",
        "_loaded_at": LOADED_AT,
    }
    return columnar.BatchMeta({name: known.get(name) for name in METADATA})


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    data = table.drop([name for name in METADATA if name in table.column_names]).to_pylist()
    return sorted((tuple(row.values()) for row in data), key=repr)


@pytest.fixture(scope="module")
def broken_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 1,200 launches, every 20th broken: each kind of BAD_KINDS several times, plus exact and
    # conflicting duplicates; upcoming launches with null cores at the end.
    path = tmp_path_factory.mktemp("gen") / "launches.json"
    return generate.write(path, 1200, seed=7, bad_every=20)


def test_columnar_loads_and_quarantines_like_the_per_record_path(
    broken_file: Path, tmp_path: Path
) -> None:
    staged = columnar.stage_file(broken_file, tmp_path / "staged", "launches", _meta())
    today = validate_records(parse_array(broken_file.read_bytes(), "f"), "launches")
    batch = build_batch(today, BatchKey("launches", "bench", date(2024, 6, 1)), "run-1", "u", "h")

    assert (staged.received, staged.deduplicated) == (today.received, today.deduplicated)
    assert staged.quarantine == today.quarantine  # index, id, field, rule, message, record_json
    assert len(staged.quarantine) >= len(generate.BAD_KINDS) - 2  # 3.0 and no cores are valid
    assert staged.loaded == batch.records_loaded
    for table, expected in batch.tables.items():
        parts = staged.parts[table]
        got = pa.concat_tables([pq.read_table(part) for part in parts])
        assert got.schema == expected.schema, table
        assert _rows(got) == _rows(expected), table
        assert staged.rows[table] == expected.num_rows


def test_record_json_is_the_same_text_whatever_the_input_spelling(tmp_path: Path) -> None:
    # escapes, indentation, exponent numbers and non-ASCII in the raw file: record_json must
    # still be byte-equal to today's (orjson's dump of the parsed record)
    base = next(generate.launches(1, seed=5))
    text = json.dumps(base, indent=2, ensure_ascii=True)[:-1]
    text += ', "extra": {"n": 1e3, "f": 0.5, "s": "caf\\u00e9 \\/ \\"q\\" \u00fc"}}'
    raw = tmp_path / "launches.json"
    raw.write_text(f"[\n{text}\n]\n", encoding="utf-8")
    staged = columnar.stage_file(raw, tmp_path / "staged", "launches", _meta())
    today = validate_records(parse_array(raw.read_bytes(), "f"), "launches")
    got = pq.read_table(staged.parts["launches"][0]).column("record_json").to_pylist()
    assert got == [today.records[0][1].decode()]


def test_parts_are_sized_for_parallel_copy() -> None:
    assert columnar.part_count(100_000) == 1  # small: one file
    assert columnar.part_count(200 * 1024 * 1024, slices=4) == 4
    assert columnar.part_count(2 * 1024**3, slices=4) == 32  # 64 MB each, a multiple of 4


def test_not_a_json_array_is_refused_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "launches.json"
    bad.write_text('[{"id": "a"}, {"id": ')
    with pytest.raises(InputFormatError, match=r"launches\.json"):
        columnar.stage_file(bad, tmp_path / "staged", "launches", _meta(), name=str(bad))

"""Bounded-memory parse + validate + flatten of a raw JSON array file into Parquet parts.

The fast path is DuckDB: `read_json_objects` streams the array one record at a time (the file is
never held whole), and SQL generated from `contract.py` checks every column (JSON type, format,
range, byte length) and flattens the record and its arrays. Only records that fail a check, or
whose id repeats, go to Python, where today's per-record diagnostic path (`validate.py`'s pydantic
models) decides: quarantine them with the exact message, or accept them and flatten them with
`flatten.py`. The checks accept a strict subset of what the models accept, with equal values, so
the outcome equals the per-record path's.

Memory: DuckDB works inside `memory_limit` and spills to `<work>/duckdb.tmp`; Python holds only
the slow records. Parts: each table is written as `parts` files (see `part_count`) so that
Redshift's COPY loads them in parallel, one file per slice.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from spacex_etl.contract import PRECISIONS, Column, TableContract, for_resource
from spacex_etl.errors import InputFormatError
from spacex_etl.flatten import rows
from spacex_etl.schema import METADATA_COLUMNS, ColumnType
from spacex_etl.validate import QuarantineEntry, validate_records

KEY_MAX_BYTES = 256
"""Redshift `varchar(256)` counts bytes (the same limit the record models enforce)."""
TEXT_MAX_BYTES = 65535
"""Redshift's longest varchar; also the ceiling for `record_json`."""
PART_TARGET_BYTES = 64 * 1024 * 1024
ROW_GROUP_ROWS = 16_384
"""~32 MB of launches per row group: bounded writer memory, still large for readers."""
"""Aim for ~64 MB per Parquet file: inside Redshift's advised 1-125 MB compressed per file."""
DEFAULT_SLICES = 4
SQL_TYPES: dict[ColumnType, str] = {
    "key": "varchar",
    "text": "varchar",
    "int": "integer",
    "bigint": "bigint",
    "bool": "boolean",
    "timestamp": "timestamp",
    "date": "date",
}
ISO_UTC = (
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
"""The timestamp spelling the fast path takes (the API's); other spellings go to the models."""


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _path(key: str) -> str:
    return _lit("$." + '"' + key.replace('"', '\\"') + '"')


def part_count(estimated_bytes: int, slices: int = DEFAULT_SLICES) -> int:
    """Files per table: one when small, else a multiple of the slice count, each ~64 MB.

    Redshift COPY gives each slice one file at a time, so k x slices equal files keep every
    slice busy; files between 1 MB and 125 MB compressed load best. A table under one MB per
    slice is one file (splitting it only adds per-file overhead).
    """
    if estimated_bytes < slices * 1024 * 1024:
        return 1
    return slices * max(1, math.ceil(estimated_bytes / (slices * PART_TARGET_BYTES)))


# -- SQL from the contract -----------------------------------------------------------------------
# Each record is parsed twice in full (`json_type` and `json_extract_string` over the list of its
# top-level paths); arrays are checked on their own small JSON text. Measured: per-field JSON
# calls on the whole record cost 5x more.
JSON_TYPES: dict[ColumnType, list[str]] = {
    "key": ["VARCHAR"],
    "text": ["VARCHAR"],
    "int": ["BIGINT", "UBIGINT"],
    "bigint": ["BIGINT", "UBIGINT"],
    "bool": ["BOOLEAN"],
    "timestamp": ["VARCHAR"],
}
FROM_JSON_TYPES: dict[ColumnType, str] = {
    "key": "VARCHAR",
    "text": "VARCHAR",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "bool": "BOOLEAN",
    "timestamp": "VARCHAR",
}


def _string_check(column: Column, s: str) -> str | None:
    """Check of the text `s` of a value whose JSON type is already one of the allowed ones."""
    if column.type in ("key", "text"):
        limit = KEY_MAX_BYTES if column.type == "key" else TEXT_MAX_BYTES
        parts = [f"strlen({s}) <= {limit}"]
        if column.check == "object_id":
            parts.append(f"regexp_full_match({s}, '[0-9a-f]{{24}}')")
        elif column.check == "non_empty":
            parts.append(f"{s} <> ''")
        elif column.check == "precision":
            parts.append(f"{s} in ({', '.join(_lit(p) for p in PRECISIONS)})")
        return " and ".join(parts)
    if column.type in ("int", "bigint"):
        low, high = column.range or (0, 0)
        return f"try_cast({s} as hugeint) between {low} and {high}"
    if column.type == "timestamp":
        return (
            f"regexp_full_match({s}, {_lit(ISO_UTC)}) and not starts_with({s}, '0000') "
            f"and try_cast({s} as timestamptz) is not null"
        )
    return None


def _types(column: Column, nullable: bool) -> str:
    return "[" + ", ".join(_lit(t) for t in JSON_TYPES[column.type] + ["NULL"] * nullable) + "]"


def _scalar_check(column: Column, t: str, s: str) -> str:
    """A top-level field: `t` its JSON type (SQL NULL when the key is missing), `s` its text."""
    value = f"list_contains({_types(column, False)}, {t})"
    if (check := _string_check(column, s)) is not None:
        value += f" and {check}"
    if not column.nullable:
        return f"coalesce({value}, false)"
    if column.required:
        return f"({t} is not null and ({t} = 'NULL' or coalesce({value}, false)))"
    return f"({t} is null or {t} = 'NULL' or coalesce({value}, false))"


def _element_check(column: Column, array: str) -> str:
    """A field of every element of the JSON array text `array` (wildcard paths skip missing
    keys, so a required key is checked by counting)."""
    path = "'$[*]'" if column.source == "element" else _lit(f"$[*].{column.path}")
    types, texts = f"json_type({array}, {path})", f"json_extract_string({array}, {path})"
    parts = [f"list_has_all({_types(column, column.nullable)}, {types})"]
    if column.required or column.source == "element":
        parts.append(f"len({types}) = json_array_length({array})")
    if (check := _string_check(column, "x")) is not None:
        parts.append(
            f"list_bool_and(list_transform(list_filter({texts}, x -> x is not null), "
            f"x -> {check})) is not false"
        )
    return " and ".join(parts)


def top_level_paths(contracts: list[TableContract]) -> list[str]:
    """The record's top-level keys the checks read: record-level fields, then the arrays."""
    record, *arrays = contracts
    keys = [c.path or c.name for c in record.columns if c.source == "field"]
    return keys + [contract.array for contract in arrays if contract.array]


def check_sql(contracts: list[TableContract], rt: str, t: str, s: str) -> str:
    """One boolean: the record passes every check. `rt` is the record's JSON type, `t`/`s` the
    lists of JSON types/texts of `top_level_paths` (SQL lists, 1-based)."""
    position = {key: i + 1 for i, key in enumerate(top_level_paths(contracts))}
    record, *arrays = contracts
    checks = [f"{rt} = 'OBJECT'"]
    for column in record.columns:
        if column.source == "field":
            i = position[column.path or column.name]
            checks.append(_scalar_check(column, f"{t}[{i}]", f"{s}[{i}]"))
    for contract in arrays:
        i = position[contract.array or ""]
        kind, text = f"{t}[{i}]", f"{s}[{i}]"
        elements = [
            _element_check(c, text) for c in contract.columns if c.source in ("field", "element")
        ]
        if contract.columns[-1].source != "element":
            elements.insert(0, f"list_has_all(['OBJECT'], json_type({text}, '$[*]'))")
        checks.append(f"({kind} is null or ({kind} = 'ARRAY' and {' and '.join(elements)}))")
    return "\n  and ".join(f"coalesce({check}, false)" for check in checks)


def _typed(column: Column, s: str) -> str:
    if column.type == "timestamp":
        return f"timezone('UTC', try_cast({s} as timestamptz))"
    return f"try_cast({s} as {SQL_TYPES[column.type]})"


def record_values_sql(contracts: list[TableContract], s: str) -> list[str]:
    """Typed values of the record-level table's field columns, named like them."""
    position = {key: i + 1 for i, key in enumerate(top_level_paths(contracts))}
    return [
        f"{_typed(c, f'{s}[{position[c.path or c.name]}]')} as {c.name}"
        for c in contracts[0].columns
        if c.source == "field"
    ]


def array_rows_sql(contract: TableContract, source: str) -> str:
    """Rows of an array table from `source(idx, id, <array> JSON text)` of checked records."""
    parent = next(c for c in contract.columns if c.source == "parent_key")
    index = next(c for c in contract.columns if c.source == "index")
    fields = [c for c in contract.columns if c.source in ("field", "element")]
    if fields[0].source == "element":
        spec = f'["{FROM_JSON_TYPES[fields[0].type]}"]'
        values = [f"e as {fields[0].name}"]
    else:
        spec = "[{" + ", ".join(f'"{c.path}": "{FROM_JSON_TYPES[c.type]}"' for c in fields) + "}]"
        values = [f'e."{c.path}" as {c.name}' for c in fields]
    exploded = (
        f"select idx, id, unnest(l) as e, unnest(range(len(l)::bigint)) as i "
        f"from (select idx, id, from_json({contract.array}, {_lit(spec)}) as l from {source})"
    )
    return (
        f"select idx, id as {parent.name}, cast(i as integer) as {index.name}, "
        f"{', '.join(values)} from ({exploded})"
    )


# -- the run -------------------------------------------------------------------------------------
@dataclass
class Staged:
    """What staging one raw file produced."""

    resource: str
    received: int
    deduplicated: int
    quarantine: list[QuarantineEntry]
    parts: dict[str, list[Path]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    """Seconds per step (pass 1, slow records, each table), for the benchmark's profile."""

    @property
    def loaded(self) -> int:
        return self.received - self.deduplicated - len(self.quarantine)


@dataclass(frozen=True)
class BatchMeta:
    """The batch metadata columns (`schema.METADATA_COLUMNS`) every staged row carries."""

    values: dict[str, Any]

    def __post_init__(self) -> None:
        expected = [name for name, _ in METADATA_COLUMNS]
        if sorted(self.values) != sorted(expected):
            raise ValueError(f"batch metadata needs exactly {expected}, got {sorted(self.values)}")

    def as_row(self) -> dict[str, Any]:
        return dict(self.values)

    def sql(self) -> str:
        """The metadata as SQL literals, typed like the warehouse columns."""
        items = []
        for name, kind in METADATA_COLUMNS:
            value = self.values[name]
            if value is None:
                literal = f"cast(null as {SQL_TYPES[kind]})"
            elif kind == "date":
                literal = f"date {_lit(value.isoformat())}"
            elif kind == "timestamp":
                literal = f"timestamp {_lit(value.isoformat(sep=' '))}"
            else:
                literal = f"cast({_lit(str(value))} as {SQL_TYPES[kind]})"
            items.append(f"{literal} as {name}")
        return ", ".join(items)


def _connect(work: Path, memory_limit: str, threads: int) -> duckdb.DuckDBPyConnection:
    work.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(work / "stage.duckdb"))
    con.execute(f"set memory_limit = {_lit(memory_limit)}")
    con.execute(f"set temp_directory = {_lit(str(work / 'duckdb.tmp'))}")
    con.execute(f"set threads = {int(threads)}")
    con.execute("set preserve_insertion_order = true")
    con.execute("set TimeZone = 'UTC'")
    return con


def _slow_outcome(
    slow: Iterable[tuple[int, str]], resource: str
) -> tuple[list[QuarantineEntry], list[tuple[int, Any, bytes]], int]:
    """Run the per-record diagnostic path on the slow records, in file order.

    Returns (quarantine, accepted (index, model, raw), exact duplicates dropped). Duplicate ids
    follow today's rule: the first valid record of an id is kept, a later identical one is
    dropped, a later different one is quarantined (`duplicate_id`).
    """
    quarantine: list[QuarantineEntry] = []
    accepted: list[tuple[int, Any, bytes]] = []
    seen: dict[str, tuple[int, bytes]] = {}
    deduplicated = 0
    for index, text in slow:
        outcome = validate_records([orjson.loads(text)], resource)
        for entry in outcome.quarantine:
            quarantine.append(_at(entry, index))
        for model, raw in outcome.records:
            record_id = str(model.id)  # type: ignore[attr-defined]
            if record_id in seen:
                first_index, first_raw = seen[record_id]
                if raw == first_raw:
                    deduplicated += 1
                    continue
                quarantine.append(
                    QuarantineEntry(
                        resource=resource,
                        record_index=index,
                        record_id=record_id,
                        field="id",
                        rule="duplicate_id",
                        message=f"id also at record {first_index} with different content; "
                        "kept the first",
                        record_json=raw.decode(),
                    )
                )
                continue
            seen.setdefault(record_id, (index, raw))
            accepted.append((index, model, raw))
    return quarantine, accepted, deduplicated


def _at(entry: QuarantineEntry, index: int) -> QuarantineEntry:
    return replace(entry, record_index=index)


def _batches(cursor: duckdb.DuckDBPyConnection, size: int = 10_000) -> Iterator[tuple[int, str]]:
    while chunk := cursor.fetchmany(size):
        yield from ((int(index), str(text)) for index, text in chunk)


def _scan(path: Path) -> str:
    return f"read_json_objects({_lit(str(path))}, format = 'array') as t(j)"


def stage_file(
    path: Path,
    out: Path,
    resource: str,
    meta: BatchMeta,
    *,
    slices: int = DEFAULT_SLICES,
    memory_limit: str = "384MB",
    threads: int = 2,
    name: str | None = None,
) -> Staged:
    """Check, flatten and write `path` (a JSON array of `resource` records) as Parquet parts.

    Pass 1 streams the file into a narrow table (index, id, verdict, typed fields, the arrays'
    JSON text); pass 2 streams it again beside that table (POSITIONAL JOIN: same order) for
    the slow records and the record_json column. Nothing holds the whole file.
    """
    contracts = for_resource(resource)
    record, *arrays = contracts
    paths = ", ".join(_path(key) for key in top_level_paths(contracts))
    id_index = top_level_paths(contracts).index(record.columns[0].path or "id") + 1
    array_cols = [
        f"s[{top_level_paths(contracts).index(a.array or '') + 1}] as {a.array}" for a in arrays
    ]
    con = _connect(out / "_work", memory_limit, threads)
    clock = _Clock()
    try:
        con.execute(
            "create or replace table stage1 as select idx, s[" + str(id_index) + "] as id, "
            f"{check_sql(contracts, 'rt', 't', 's')} as ok, "
            f"{', '.join([*record_values_sql(contracts, 's'), *array_cols])} "
            "from (select row_number() over () - 1 as idx, json_type(j) as rt, "
            f"json_type(j, [{paths}]) as t, json_extract_string(j, [{paths}]) as s "
            f"from {_scan(path)})"
        )
        clock.lap("pass1_check")
        received = int(con.execute("select count(*) from stage1").fetchall()[0][0])
        # Slow: failed a check, or shares its id with another record (today's first-wins rule)
        con.execute(
            "create or replace table repeated as select id from stage1 where ok "
            "group by id having count(*) > 1 "
            "union select id from stage1 where not ok and id is not null"
        )
        con.execute(
            "alter table stage1 add column fast boolean; "
            "update stage1 set fast = ok and not exists "
            "(select 1 from repeated r where r.id = stage1.id)"
        )
        slow_count = con.execute("select count(*) from stage1 where not fast").fetchall()[0][0]
        quarantine: list[QuarantineEntry] = []
        accepted: list[tuple[int, Any, bytes]] = []
        deduplicated = 0
        if slow_count:  # a clean file is not read a second time for nothing
            slow_cursor = con.execute(
                f"select s.idx, json(j)::varchar from {_scan(path)} positional join stage1 s "
                "where not s.fast"
            )
            quarantine, accepted, deduplicated = _slow_outcome(_batches(slow_cursor), resource)
        staged = Staged(resource, received, deduplicated, sorted(quarantine, key=_index_of))
        clock.lap("slow_records")
        fast_rows = int(con.execute("select count(*) from stage1 where fast").fetchall()[0][0])
        estimate = path.stat().st_size * fast_rows // max(received, 1) // 3
        names = [name for name, _ in record.warehouse_columns()]
        record_sql = (
            f"select s.idx, {', '.join(f's.{n}' for n in names[:-1])}, "
            f"json(j)::varchar as {names[-1]} from {_scan(path)} positional join stage1 s "
            "where s.fast"
        )
        for contract in contracts:
            select = (
                record_sql
                if contract is record
                else array_rows_sql(contract, "(select * from stage1 where fast)")
            )
            size = estimate if contract is record else estimate // 20
            staged.parts[contract.name], staged.rows[contract.name] = _write_table(
                con, contract, select, meta, out, part_count(size, slices), size, accepted
            )
            clock.lap(contract.name)
    except duckdb.InvalidInputException as exc:  # not a JSON array: the file, not the code
        raise InputFormatError(f"{name or path}: {' '.join(str(exc).split())[:300]}") from exc
    finally:
        con.close()
        shutil.rmtree(out / "_work", ignore_errors=True)
    staged.timings_s = clock.laps
    return staged


class _Clock:
    """Wall and CPU seconds per step (CPU: all threads of this process)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.laps[name] = round(wall - self._wall, 3)
        self.laps[f"{name}_cpu"] = round(cpu - self._cpu, 3)
        self._wall, self._cpu = wall, cpu


def _index_of(entry: QuarantineEntry) -> int:
    return entry.record_index


def _write_table(
    con: duckdb.DuckDBPyConnection,
    contract: TableContract,
    select: str,
    meta: BatchMeta,
    out: Path,
    parts: int,
    estimated_bytes: int,
    accepted: list[tuple[int, Any, bytes]],
) -> tuple[list[Path], int]:
    """The fast rows as `parts` files, plus one file of the slow-but-valid rows if any."""
    folder = out / contract.name
    shutil.rmtree(folder, ignore_errors=True)  # a rerun replaces the parts, never adds to them
    names = [name for name, _ in contract.warehouse_columns()]
    # One writer that starts a new file every `size` bytes: memory stays one row group, however
    # many parts (a PARTITION_BY writer buffers a row group per part and ran out at 1M).
    size = math.ceil(estimated_bytes / parts) if parts > 1 else 1 << 40
    con.execute("set preserve_insertion_order = false")  # parts need no order; less in flight
    con.execute(
        f"copy (select {', '.join(names)}, {meta.sql()} from ({select})) to {_lit(str(folder))} "
        f"(format parquet, compression snappy, row_group_size {ROW_GROUP_ROWS}, "
        f"file_size_bytes {size}, filename_pattern 'part_{{i}}')"
    )
    folder.mkdir(exist_ok=True)
    files = sorted(folder.glob("part_*.parquet"))
    count = sum(pq.ParquetFile(file).metadata.num_rows for file in files)
    extra = [
        row
        for _, model, raw in accepted
        for table, row in rows(model, raw.decode())
        if table == contract.name
    ]
    if extra:
        meta_row = meta.as_row()
        slow_file = folder / "slow_0.parquet"
        table = pa.Table.from_pylist(
            [row | meta_row for row in extra], schema=contract.arrow_schema()
        )
        pq.write_table(table, slow_file, compression="snappy")
        files.append(slow_file)
        count += len(extra)
    return files, count

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
def _value_and_check(column: Column, json: str) -> tuple[str, str]:
    """SQL for a column's typed value and its check, reading the JSON value `json`."""
    kind = f"json_type({json})"
    text = f"json_extract_string({json}, '$')"
    if column.type in ("key", "text"):
        limit = KEY_MAX_BYTES if column.type == "key" else TEXT_MAX_BYTES
        check = f"{kind} = 'VARCHAR' and strlen({text}) <= {limit}"
        if column.check == "object_id":
            check += f" and regexp_full_match({text}, '[0-9a-f]{{24}}')"
        elif column.check == "non_empty":
            check += f" and {text} <> ''"
        elif column.check == "precision":
            check += f" and {text} in ({', '.join(_lit(p) for p in PRECISIONS)})"
        return text, check
    if column.type in ("int", "bigint"):
        low, high = column.range or (0, 0)
        sql_type = "integer" if column.type == "int" else "bigint"
        number = f"try_cast({text} as hugeint)"
        check = f"{kind} in ('BIGINT', 'UBIGINT') and {number} between {low} and {high}"
        return f"try_cast({text} as {sql_type})", check
    if column.type == "bool":
        return f"try_cast({text} as boolean)", f"{kind} = 'BOOLEAN'"
    if column.type == "timestamp":
        check = (
            f"{kind} = 'VARCHAR' and regexp_full_match({text}, {_lit(ISO_UTC)}) "
            f"and not starts_with({text}, '0000') and try_cast({text} as timestamptz) is not null"
        )
        return f"timezone('UTC', try_cast({text} as timestamptz))", check
    raise ValueError(f"no fast path for {column.type} ({column.name})")  # pragma: no cover


def _nullable(column: Column, json: str, check: str) -> str:
    """Wrap a value check with the column's presence and null rules."""
    missing = f"{json} is null"
    is_null = f"json_type({json}) = 'NULL'"
    if not column.nullable:
        return f"coalesce({check}, false)"
    if column.required:
        return f"(not {missing} and ({is_null} or coalesce({check}, false)))"
    return f"({missing} or {is_null} or coalesce({check}, false))"


def _json_columns(contract: TableContract) -> list[Column]:
    return [c for c in contract.columns if c.source in ("field", "element")]


def field_list_sql(contract: TableContract, rec: str) -> str:
    """One JSON parse of the record for all its top-level fields: a list, in contract order."""
    paths = ", ".join(_path(c.path or c.name) for c in _json_columns(contract))
    return f"json_extract({rec}, [{paths}])"


def _columns_sql(
    contract: TableContract, parent: str, fields: str | None = None
) -> tuple[list[str], list[str]]:
    """(value expressions named like the columns, checks) of the contract's JSON columns.

    `fields` is the SQL of `field_list_sql` (record-level tables); array elements are small and
    read field by field from `parent`.
    """
    values, checks = [], []
    position = {c.name: i + 1 for i, c in enumerate(_json_columns(contract))}
    for column in contract.columns:
        if column.source in ("parent_key", "index"):
            continue
        if column.source == "record":
            values.append(f"{parent} as {column.name}")
            checks.append(f"strlen({parent}) <= {TEXT_MAX_BYTES}")
            continue
        if column.source == "element":
            json = parent
        elif fields is not None:
            json = f"{fields}[{position[column.name]}]"
        else:
            json = f"json_extract({parent}, {_path(column.path or column.name)})"
        value, check = _value_and_check(column, json)
        values.append(f"{value} as {column.name}")
        checks.append(_nullable(column, json, check))
    return values, checks


def record_check_sql(contracts: list[TableContract], rec: str = "rec", fields: str = "f") -> str:
    """One boolean: the record (JSON text `rec`, its field list `fields`) passes every check."""
    checks = [f"json_type({rec}) = 'OBJECT'"]
    for contract in contracts:
        if contract.array is None:
            checks += _columns_sql(contract, rec, fields)[1]
            continue
        array = f"json_extract({rec}, {_path(contract.array)})"
        element_checks = _columns_sql(contract, "e")[1]
        if any(column.source != "element" for column in contract.columns[2:]):
            element_checks.insert(0, "json_type(e) = 'OBJECT'")
        every = " and ".join(element_checks)
        checks.append(
            f"({array} is null or (json_type({array}) = 'ARRAY' and coalesce(list_bool_and("
            f"list_transform(json_extract({rec}, {_lit('$.' + contract.array + '[*]')}), "
            f"e -> {every})), true)))"
        )
    return "\n  and ".join(f"coalesce({check}, false)" for check in checks)


def table_select_sql(contract: TableContract, key_column: str, source: str) -> str:
    """SELECT of a table's data columns from `source(idx, rec)` (records already checked)."""
    if contract.array is None:
        values, _ = _columns_sql(contract, "rec", "f")
        fields = field_list_sql(contract, "rec")
        return f"select idx, {', '.join(values)} from (select *, {fields} as f from {source})"
    values, _ = _columns_sql(contract, "e")
    parent = next(c for c in contract.columns if c.source == "parent_key")
    index = next(c for c in contract.columns if c.source == "index")
    key = f"json_extract_string(rec, {_path(parent.path or key_column)})"
    exploded = (
        f"select idx, {key} as {parent.name}, "
        f"unnest(json_extract(rec, {_lit('$.' + contract.array + '[*]')})) as e, "
        f"unnest(range(coalesce(json_array_length(rec, {_path(contract.array)}), 0)::bigint))"
        f" as {index.name} from {source}"
    )
    return (
        f"select idx, {parent.name}, cast({index.name} as integer) as {index.name}, "
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


def stage_file(
    path: Path,
    out: Path,
    resource: str,
    meta: BatchMeta,
    *,
    slices: int = DEFAULT_SLICES,
    memory_limit: str = "512MB",
    threads: int = 2,
    name: str | None = None,
) -> Staged:
    """Check, flatten and write `path` (a JSON array of `resource` records) as Parquet parts."""
    contracts = for_resource(resource)
    key_column = contracts[0].columns[0].name
    id_path = contracts[0].columns[0].path or "id"
    con = _connect(out / "_work", memory_limit, threads)
    try:
        # Two statements: JSON functions and lambdas in the same pipeline as the record text
        # exhausted DuckDB's memory limit (measured); apart, each streams in bounded memory.
        con.execute(
            "create or replace table records as "
            "select row_number() over () - 1 as idx, json(j)::varchar as rec "
            f"from read_json_objects({_lit(str(path))}, format = 'array') as t(j)"
        )
        con.execute(
            "create or replace table checked as "
            f"select idx, json_extract_string(rec, {_path(id_path)}) as id, "
            f"{record_check_sql(contracts, 'rec', 'f')} as ok "
            f"from (select idx, rec, {field_list_sql(contracts[0], 'rec')} as f from records)"
        )
        received = int(con.execute("select count(*) from records").fetchall()[0][0])
        # ids that repeat among the records that passed, or that a slow record may also hold
        con.execute(
            "create or replace table repeated as select id from checked where ok "
            "group by id having count(*) > 1 "
            "union select id from checked where not ok and id is not null"
        )
        con.execute(
            "create or replace table fast as select r.idx, r.rec from records r "
            "join checked c on c.idx = r.idx where c.ok "
            "and not exists (select 1 from repeated d where d.id = c.id)"
        )
        slow_cursor = con.execute(
            "select r.idx, r.rec from records r join checked c on c.idx = r.idx "
            "where not c.ok or exists (select 1 from repeated d where d.id = c.id) order by r.idx"
        )
        quarantine, accepted, deduplicated = _slow_outcome(_batches(slow_cursor), resource)
        staged = Staged(resource, received, deduplicated, sorted(quarantine, key=_index_of))
        fast_rows = int(con.execute("select count(*) from fast").fetchall()[0][0])
        estimate = path.stat().st_size * fast_rows // max(received, 1) // 3
        for contract in contracts:
            staged.parts[contract.name], staged.rows[contract.name] = _write_table(
                con, contract, key_column, meta, out, part_count(estimate, slices), accepted
            )
            estimate //= 20  # child tables are a small fraction of the record table
    except duckdb.InvalidInputException as exc:  # not a JSON array: the file, not the code
        raise InputFormatError(f"{name or path}: {' '.join(str(exc).split())[:300]}") from exc
    finally:
        con.close()
        shutil.rmtree(out / "_work", ignore_errors=True)
    return staged


def _index_of(entry: QuarantineEntry) -> int:
    return entry.record_index


def _write_table(
    con: duckdb.DuckDBPyConnection,
    contract: TableContract,
    key_column: str,
    meta: BatchMeta,
    out: Path,
    parts: int,
    accepted: list[tuple[int, Any, bytes]],
) -> tuple[list[Path], int]:
    """The fast rows as `parts` files, plus one file of the slow-but-valid rows if any."""
    folder = out / contract.name
    shutil.rmtree(folder, ignore_errors=True)  # a rerun replaces the parts, never adds to them
    folder.mkdir(parents=True)
    select = table_select_sql(contract, key_column, "fast")
    names = [name for name, _ in contract.warehouse_columns()]
    con.execute(
        f"copy (select {', '.join(names)}, {meta.sql()}, idx % {parts} as part "
        f"from ({select})) to {_lit(str(folder))} "
        "(format parquet, compression snappy, partition_by (part), overwrite_or_ignore, "
        "filename_pattern 'part_{i}', write_partition_columns false)"
    )
    files = sorted(folder.glob("part=*/*.parquet"))
    count = sum(pq.ParquetFile(file).metadata.num_rows for file in files)
    extra = [
        row
        for index, model, raw in accepted
        for table, row in rows(model, raw.decode())
        if table == contract.name and index >= 0
    ]
    if extra:
        schema = contract.arrow_schema()
        meta_row = meta.as_row()
        slow_file = folder / "part=slow" / "part_0.parquet"
        slow_file.parent.mkdir(exist_ok=True)
        table = pa.Table.from_pylist([row | meta_row for row in extra], schema=schema)
        pq.write_table(table, slow_file, compression="snappy")
        files.append(slow_file)
        count += len(extra)
    return files, count

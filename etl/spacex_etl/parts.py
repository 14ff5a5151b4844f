"""Bounded-memory parse + validate + flatten of a raw JSON array file into Parquet parts.

The fast path is DuckDB: `read_json_objects` streams the array one record at a time (the file is
never held whole), and SQL generated from `contract.py` checks every column (JSON type, format,
range, byte length) and flattens the record and its arrays. Only records that fail a check, whose
id repeats, or whose text holds `NaN`/`Infinity` (DuckDB's reader accepts them, JSON does not) go
to Python, in chunks, where the per-record rules (`records.py`, compiled from the same contract)
decide: quarantine them with the exact message, or accept them and flatten them
(`records.rows`). The checks accept a strict subset of what the models accept, with equal values, so
the outcome equals a per-record validation of the whole file.

Memory: DuckDB works inside `memory_limit` and spills to `<work>/_work/duckdb.tmp`; Python holds
one chunk of slow records at a time. Parts: each table is written as `part_count` files so that
Redshift's COPY loads them in parallel, one file per slice.
"""

from __future__ import annotations

import math
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from spacex_etl.contract import (
    KEY_MAX_BYTES,
    METADATA_COLUMNS,
    PRECISIONS,
    TEXT_MAX_BYTES,
    Column,
    ColumnType,
    TableContract,
    for_resource,
    known_paths,
)
from spacex_etl.errors import InputFormatError
from spacex_etl.records import rows
from spacex_etl.validate import (
    UTF8_BOM,
    Deduper,
    QuarantineLog,
    _rule_field,
    drift_from_paths,
    duplicate_key,
    duplicate_key_entry,
    loads_record,
    parse_array,
    validate_records,
)

PART_TARGET_BYTES = 64 * 1024 * 1024
"""Aim for ~64 MB per Parquet file: inside Redshift's advised 1-125 MB compressed per file."""
ROW_GROUP_ROWS = 122_880
"""DuckDB's default row group: bounded writer memory (a few MB of typed columns)."""
DEFAULT_SLICES = 4
"""Slices of the smallest provisioned Redshift node (ra3.xlplus: 2 nodes x 2 slices)."""
SLOW_CHUNK = 5_000
"""Slow records parsed and validated per Python chunk (bounds the slow path's memory)."""
MEMORY_LIMIT = "384MB"
"""DuckDB's share of the 1 GiB task: measured, pass 1 needs > 200MB whatever N; 512MB took the
whole process over 1 GiB at 3M launches."""
SMALL_FILE_BYTES = 64 * 1024 * 1024
"""A file DuckDB refuses and is this small is parsed whole once more for the exact message."""
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
# Each record is parsed in full by `json_type` and `json_extract_string` over the list of its
# top-level paths (measured: per-field JSON calls on the whole record cost 5x more), once by
# `json_keys` (drift, repeated keys) and once by `json_keys(j, '$.**')` (repeated nested keys);
# each array is read once into JSON values (`from_json`) and its fields checked on those.
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
        parts = [f"strlen({s}) <= {limit}", f"not contains({s}, chr(0))"]
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
            f"and try_cast({s} as timestamp) is not null"
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


def _element_check(contract: TableContract, text: str) -> str:
    """Every element of the array whose JSON text is `text`: one `from_json` of the array into
    JSON values (not 2 x fields wildcard parses), then each field's checks on its small value.
    `from_json` reads a missing key and a JSON null alike, so a required key is counted."""
    fields = contract.field_columns
    parts = []
    if fields[0].source == "element":
        (column,) = fields
        spec = '["JSON"]'
        each = f"lambda v: {_json_value_check(column, 'v')}"
    else:
        parts.append(f"list_has_all(['OBJECT'], json_type({text}, '$[*]'))")
        for column in fields:
            if column.required:
                path = _lit(f"$[*].{column.path}")
                parts.append(f"len(json_type({text}, {path})) = json_array_length({text})")
        spec = "[{" + ", ".join(f'"{c.path}": "JSON"' for c in fields) + "}]"
        each = "lambda e: " + " and ".join(_json_value_check(c, f'e."{c.path}"') for c in fields)
    parts.append(
        f"list_bool_and(list_transform(from_json({text}, {_lit(spec)}), {each})) is not false"
    )
    return " and ".join(parts)


def _json_value_check(column: Column, v: str) -> str:
    """A value read as JSON text `v` (SQL NULL: missing or JSON null)."""
    value = f"list_contains({_types(column, False)}, json_type({v}))"
    if (check := _string_check(column, f"({v} ->> '$')")) is not None:
        value += f" and {check}"
    if column.nullable:
        return f"({v} is null or coalesce({value}, false))"
    return f"coalesce({v} is not null and {value}, false)"


def value_paths(contracts: list[TableContract]) -> list[str]:
    """The top-level keys whose values pass 1 reads: record-level fields, then the arrays."""
    record, *arrays = contracts
    keys = [c.path or c.name for c in record.columns if c.source == "field"]
    return keys + [contract.array for contract in arrays if contract.array]


def top_level_paths(contracts: list[TableContract]) -> list[str]:
    """The record's top-level keys pass 1 looks up: `value_paths`, then every other key the
    contract knows (only their JSON types are read, to see which are present: schema drift; a
    record with more keys than these has unknown ones)."""
    keys = value_paths(contracts)
    known, _ = known_paths(contracts[0].resource)
    return keys + sorted(p for p in known if "[]." not in p and p not in keys)


def check_sql(contracts: list[TableContract], rt: str, t: str, s: str) -> str:
    """One boolean: the record passes every check. `rt` is the record's JSON type, `t`/`s` the
    lists of JSON types of `top_level_paths` / texts of `value_paths` (SQL lists, 1-based)."""
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
        elements = _element_check(contract, text)
        checks.append(f"({kind} is null or ({kind} = 'ARRAY' and {elements}))")
    return "\n  and ".join(f"coalesce({check}, false)" for check in checks)


def _utc(s: str) -> str:
    """An `ISO_UTC` text as a naive UTC timestamp: the local time less its offset (DuckDB's
    `timestamp` cast ignores the offset; `timestamptz` goes through ICU, several times slower)."""
    offset = (
        f"if(substr({s}, -6, 1) = '-', -1, 1) * "
        f"(try_cast(substr({s}, -5, 2) as integer) * 60 + try_cast(substr({s}, -2, 2) as integer))"
    )
    return f"try_cast({s} as timestamp) - to_minutes(if(right({s}, 1) = 'Z', 0, {offset}))"


def _typed(column: Column, s: str) -> str:
    if column.type == "timestamp":
        return _utc(s)
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
        f"select idx, id, unnest(l) as e, unnest(range(len(l)::bigint)) as i "  # noqa: S608 - names from contract.py, paths and values quoted by _lit()
        f"from (select idx, id, from_json({contract.array}, {_lit(spec)}) as l from {source})"
    )
    return (
        f"select idx, id as {parent.name}, cast(i as integer) as {index.name}, "  # noqa: S608 - names from contract.py, paths and values quoted by _lit()
        f"{', '.join(values)} from ({exploded})"
    )


# -- the run -------------------------------------------------------------------------------------
@dataclass
class Staged:
    """What staging one raw file produced."""

    resource: str
    received: int
    deduplicated: int = 0
    quarantine: QuarantineLog = field(default_factory=QuarantineLog)
    """Every set-aside record, in record order, on disk (`<out>/quarantine.jsonl`)."""
    rule_counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Records rejected per (field, rule): the contract-break verdict counts these."""
    drift: dict[str, list[str]] = field(default_factory=dict)
    parts: dict[str, list[Path]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    """Wall and CPU seconds per step (pass 1, slow records, each table)."""

    @property
    def loaded(self) -> int:
        return self.received - self.deduplicated - len(self.quarantine)


@dataclass(frozen=True)
class BatchMeta:
    """The batch metadata columns (`contract.METADATA_COLUMNS`) every staged row carries."""

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


def connect(
    work: Path, memory_limit: str = MEMORY_LIMIT, threads: int = 2, database: str = ":memory:"
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that stays inside `memory_limit`, spilling under `work`."""
    work.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(database)
    con.execute(f"set memory_limit = {_lit(memory_limit)}")
    con.execute(f"set temp_directory = {_lit(str(work / 'duckdb.tmp'))}")
    con.execute(f"set threads = {int(threads)}")
    con.execute("set TimeZone = 'UTC'")
    return con


def _scan(path: Path) -> str:
    return f"read_json_objects({_lit(str(path))}, format = 'array') as t(j)"


def _mentions(path: Path, needles: tuple[bytes, ...], block: int = 16 << 20) -> bool:
    """Whether any of `needles` occurs anywhere in the file: a byte scan in 16 MiB blocks (no
    parse; not an mmap, whose touched pages would count against the task's memory)."""
    keep = max(len(needle) for needle in needles) - 1
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(block):
            window = tail + chunk
            if any(needle in window for needle in needles):
                return True
            tail = window[-keep:] if keep else b""
    return False


def _first_byte(path: Path) -> bytes:
    """The first byte that is not a byte order mark or white space (b'' for none in 64 KiB)."""
    with path.open("rb") as handle:
        head = handle.read(65536).removeprefix(UTF8_BOM).lstrip()
    return head[:1]


def _unusable(path: Path, name: str, detail: str) -> InputFormatError:
    """The error for a file that is not a JSON array: the exact one when the file is small."""
    if path.stat().st_size <= SMALL_FILE_BYTES:
        try:
            parse_array(path.read_bytes(), name)
        except InputFormatError as exc:
            return exc
    return InputFormatError(f"{name}: not a JSON array of records: {detail[:300]}")


def stage_file(
    path: Path,
    out: Path,
    resource: str,
    meta: BatchMeta,
    *,
    slices: int = DEFAULT_SLICES,
    memory_limit: str = MEMORY_LIMIT,
    threads: int = 2,
    name: str | None = None,
) -> Staged:
    """Check, flatten and write `path` (a JSON array of `resource` records) as Parquet parts.

    Pass 1 streams the file into a narrow table (index, id, verdict, typed fields, the arrays'
    JSON text); the slow records (only they) are read again, beside that table (POSITIONAL
    JOIN: same order), and decided by the record models. Nothing holds the whole file.
    Raises InputFormatError when the file is not a JSON array.
    """
    name = name or str(path)
    if _first_byte(path) != b"[":
        raise _unusable(path, name, f"starts with {_first_byte(path)!r}")
    contracts = for_resource(resource)
    record, *arrays = contracts
    keys = top_level_paths(contracts)
    paths = ", ".join(_path(key) for key in keys)
    # the texts of the passthrough keys (nested objects, re-serialised) are never needed
    texts = ", ".join(_path(key) for key in value_paths(contracts))
    known, _ = known_paths(resource)
    known_top = ", ".join(_lit(k) for k in sorted(known) if "[]." not in k)
    array_cols = [f"s[{keys.index(a.array or '') + 1}] as {a.array}" for a in arrays]
    id_at = keys.index(record.columns[0].path or "id") + 1
    checks = check_sql(contracts, "rt", "t", "s")
    # NaN/Infinity: only records whose text holds them need the look (most files have none)
    odd = (
        "contains(j::varchar, 'NaN') or contains(j::varchar, 'Infinity')"
        if _mentions(path, (b"NaN", b"Infinity"))
        else "false"
    )
    con = connect(out / "_work", memory_limit, threads, str(out / "_work" / "stage.duckdb"))
    clock = _Clock()
    try:
        pass1 = (
            f"create table stage1 as select idx, s[{id_at}] as id, {checks} as ok, "  # noqa: S608 - names from contract.py, paths and values quoted by _lit()
            f"{', '.join([*record_values_sql(contracts, 's'), *array_cols])}, "
            # which known keys are present (a bit each) and which keys are unknown: drift
            "list_sum(list_transform(range(len(t)), "
            "i -> if(t[i + 1] is null, 0::hugeint, (1::hugeint << i::int)))) as present, "
            # only a record with more keys than known ones present has unknown (or repeated) keys
            f"if(len(k) > list_count(t), list_filter(k, lambda x: not list_contains("
            f"[{known_top}], x)), []) as unknown, "
            # DuckDB's reader takes NaN/Infinity; JSON does not: such records go to the models
            f"{odd} as odd, "
            # a key given twice in one object (parsers disagree on which counts): to the models
            "coalesce(rt = 'OBJECT' and (len(k) > list_count(t) "
            "and len(k) <> len(list_distinct(k)) "
            "or list_bool_or(list_transform(json_keys(j, '$.**'), "
            "lambda x: len(x) <> len(list_distinct(x))))), false) as dup "
            "from (select *, if(rt = 'OBJECT', json_keys(j), []) as k from ("
            "select row_number() over () - 1 as idx, j, "
            # the root's type from its first byte: no parse (read_json_objects gives JSON values)
            "case left(ltrim(j::varchar), 1) when '{' then 'OBJECT' else 'OTHER' end as rt, "
            f"json_type(j, [{paths}]) as t, json_extract_string(j, [{texts}]) as s "
            f"from {_scan(path)}))"
        )
        # The array is read by one thread, and every check runs in its pipeline: a second
        # thread added no speed and up to twice the CPU (measured at 100k and 1M launches).
        con.execute("set threads = 1")
        con.execute(pass1)
        con.execute(f"set threads = {int(threads)}")
        clock.lap("pass1_check")
        received = int(_one(con, "select count(*) from stage1"))
        staged = Staged(resource, received, quarantine=QuarantineLog(out / "quarantine.jsonl"))
        staged.quarantine.path.unlink(missing_ok=True)  # type: ignore[union-attr]
        staged.drift = _drift(con, keys, arrays, resource)
        # Slow: failed a check, odd text, or shares its id with another record (first wins)
        con.execute(
            "create table repeated as select id from stage1 where ok and id is not null "
            "group by id having count(*) > 1 "
            "union select id from stage1 where not (ok and not odd and not dup) and id is not null"
        )
        con.execute(
            "alter table stage1 add column fast boolean; "
            "update stage1 set fast = ok and not odd and not dup and not exists "
            "(select 1 from repeated r where r.id = stage1.id)"
        )
        clock.lap("verdicts")
        writers = _SlowWriters(out, contracts, meta)
        try:
            if _one(con, "select count(*) from stage1 where not fast"):
                _decide_slow(con, path, staged, writers, name)
        finally:
            writers.close()
        clock.lap("slow_records")
        fast_rows = int(_one(con, "select count(*) from stage1 where fast"))
        estimate = path.stat().st_size * fast_rows // max(received, 1) // 12
        names = [column for column, _ in record.warehouse_columns()]
        for contract in contracts:
            if contract is record:
                select = f"select idx, {', '.join(names)} from stage1 where fast"  # noqa: S608 - names from contract.py, paths and values quoted by _lit()
                size = estimate
            else:
                select = array_rows_sql(contract, "(select * from stage1 where fast)")
                size = estimate // 4
            files, count = _write_table(
                con, contract, select, meta, out, part_count(size, slices), size
            )
            slow_file, slow_count = writers.result(contract.name)
            staged.parts[contract.name] = files + ([slow_file] if slow_file else [])
            staged.rows[contract.name] = count + slow_count
            clock.lap(contract.name)
    except duckdb.InvalidInputException as exc:  # not a JSON array: the file, not the code
        raise _unusable(path, name, " ".join(str(exc).split())) from exc
    finally:
        con.close()
        shutil.rmtree(out / "_work", ignore_errors=True)
    staged.timings_s = clock.laps
    return staged


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def _drift(
    con: duckdb.DuckDBPyConnection, keys: list[str], arrays: list[TableContract], resource: str
) -> dict[str, list[str]]:
    """Schema drift of the whole file, from what pass 1 kept (no third read of the file)."""
    mask = int(_one(con, "select coalesce(bit_or(present), 0) from stage1") or 0)
    present = {key for i, key in enumerate(keys) if mask >> i & 1}
    present |= {
        str(row[0]) for row in con.execute("select distinct unnest(unknown) from stage1").fetchall()
    }
    for contract in arrays:
        if contract.field_columns[0].source == "element":
            continue  # an array of plain values has no nested fields
        found = con.execute(
            f"select distinct unnest(json_keys(e)) from (select unnest(json_extract("  # noqa: S608 - names from contract.py, paths and values quoted by _lit()
            f"{contract.array}, '$[*]')) as e from stage1 where json_type({contract.array}) = "
            "'ARRAY')"
        ).fetchall()
        present |= {f"{contract.array}[].{row[0]}" for row in found}
    return drift_from_paths(present, resource)


def _decide_slow(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    staged: Staged,
    writers: _SlowWriters,
    name: str,
) -> None:
    """Read the slow records again, in file order, and let the record models decide them."""
    deduper = Deduper(staged.resource)
    cursor = con.execute(
        f"select s.idx, j::varchar, s.dup from {_scan(path)} positional join stage1 s "  # noqa: S608 - names from contract.py, paths and values quoted by _lit()
        "where not s.fast"
    )
    while chunk := cursor.fetchmany(SLOW_CHUNK):
        indices, records, ambiguous = [], [], []
        for index, text, dup in chunk:
            record = loads_record(text, name, int(index))
            key = duplicate_key(text) if dup else None
            if key is None:
                indices.append(int(index))
                records.append(record)
            else:
                ambiguous.append(duplicate_key_entry(staged.resource, int(index), key, text))
        outcome = validate_records(records, staged.resource, indices=indices, deduper=deduper)
        entries = sorted([*outcome.quarantine, *ambiguous], key=lambda e: e.record_index)
        staged.quarantine.write(entries)  # chunks come in file order
        staged.rule_counts.update(outcome.rule_counts)
        staged.rule_counts.update((_rule_field(e.field), e.rule) for e in ambiguous)
        writers.write(model for model, _ in outcome.records)
    staged.deduplicated = deduper.deduplicated


class _SlowWriters:
    """One Parquet file per table for the slow-but-valid records, written chunk by chunk."""

    def __init__(self, out: Path, contracts: list[TableContract], meta: BatchMeta) -> None:
        self.out, self.meta = out, meta.as_row()
        self.contracts = {contract.name: contract for contract in contracts}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.counts: Counter[str] = Counter()

    def _file(self, table: str) -> Path:
        return self.out / table / "slow_0.parquet"

    def write(self, models: Iterator[Any]) -> None:
        buffers: dict[str, list[dict[str, Any]]] = {}
        for model in models:
            for table, row in rows(model):
                buffers.setdefault(table, []).append(row | self.meta)
        for table, data in buffers.items():
            schema = self.contracts[table].arrow_schema()
            if table not in self.writers:
                self._file(table).parent.mkdir(parents=True, exist_ok=True)
                self.writers[table] = pq.ParquetWriter(
                    self._file(table), schema, compression="snappy"
                )
            self.writers[table].write_table(pa.Table.from_pylist(data, schema=schema))
            self.counts[table] += len(data)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()

    def result(self, table: str) -> tuple[Path | None, int]:
        return (self._file(table), self.counts[table]) if table in self.writers else (None, 0)


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


def _write_table(
    con: duckdb.DuckDBPyConnection,
    contract: TableContract,
    select: str,
    meta: BatchMeta,
    out: Path,
    parts: int,
    estimated_bytes: int,
) -> tuple[list[Path], int]:
    """The fast rows of one table as `parts` Parquet files (fewer when the estimate was high)."""
    folder = out / contract.name
    for stale in folder.glob("part_*.parquet"):  # a rerun replaces the parts, never adds
        stale.unlink()
    names = [name for name, _ in contract.warehouse_columns()]
    # One writer that starts a new file every `size` bytes: memory stays one row group, however
    # many parts (a PARTITION_BY writer buffers a row group per part and ran out at 1M).
    size = math.ceil(estimated_bytes / parts) if parts > 1 else 1 << 40
    con.execute("set preserve_insertion_order = false")  # parts need no order; less in flight
    con.execute(
        f"copy (select {', '.join(names)}, {meta.sql()} from ({select})) to "  # noqa: S608 - names from contract.py, paths and values quoted by _lit()
        f"{_lit(str(folder))} (format parquet, compression snappy, row_group_size "
        f"{ROW_GROUP_ROWS}, file_size_bytes {size}, filename_pattern 'part_{{i}}', "
        "overwrite_or_ignore true)"
    )
    files = sorted(folder.glob("part_*.parquet"), key=lambda f: int(f.stem.split("_")[1]))
    count = sum(pq.ParquetFile(file).metadata.num_rows for file in files)
    return files, count

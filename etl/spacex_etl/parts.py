"""Bounded-memory check + flatten of a raw JSON array file into Parquet parts.

Pass 1 cuts the file into records and decodes each once into types compiled from `contract.py`
(`decode.py`: JSON types, presence, integer ranges); the typed rows go to DuckDB stage tables,
where SQL from the same columns checks the string rules (id pattern, byte limits, U+0000,
precision, timestamp spelling), finds repeated ids and writes the parts. Only records that fail
a type or a rule, may hold a key twice, or share their id with another go to Python's record
models (`records.py`), in chunks and in file order: they quarantine them with the exact message,
or accept them and flatten them (`records.rows`). The types and rules accept a strict subset of
what the models accept, with equal values, so the outcome equals a per-record validation of the
whole file.

Memory: the split holds one block (~16 MiB) and its decoded rows at a time; DuckDB works inside
`memory_limit` and spills to `<work>/_work/duckdb.tmp`; the models hold one chunk of slow
records. Parts: each table is written as `part_count` files so that Redshift's COPY loads them in
parallel, one file per slice.
"""

from __future__ import annotations

import hashlib
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
)
from spacex_etl.decode import (
    UTF8_BOM,
    Block,
    BlockResult,
    Decoder,
    Stager,
    Unsplittable,
    Workers,
    deep_json,
    split_file,
)
from spacex_etl.errors import InputFormatError
from spacex_etl.records import rows
from spacex_etl.validate import (
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
PARALLEL_BYTES = 64 * 1024 * 1024
"""A file this big is decoded on two worker processes (the other core); smaller ones here."""
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


def part_count(estimated_bytes: int, slices: int = DEFAULT_SLICES) -> int:
    """Files per table: one when small, else a multiple of the slice count, each ~64 MB.

    Redshift COPY gives each slice one file at a time, so k x slices equal files keep every
    slice busy; files between 1 MB and 125 MB compressed load best. A table under one MB per
    slice is one file (splitting it only adds per-file overhead).
    """
    if estimated_bytes < slices * 1024 * 1024:
        return 1
    return slices * max(1, math.ceil(estimated_bytes / (slices * PART_TARGET_BYTES)))


# -- the string rules, SQL on the decoded columns -------------------------------------------------
def _string_check(column: Column, s: str) -> str | None:
    """The rules of a decoded text column `s` beyond its JSON type (msgspec checked the type,
    presence and integer ranges): byte limits, U+0000, id pattern, precision, timestamp spelling.
    None when the column has none."""
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
    if column.type == "timestamp":
        return (
            f"regexp_full_match({s}, {_lit(ISO_UTC)}) and not starts_with({s}, '0000') "
            f"and try_cast({s} as timestamp) is not null"
        )
    return None


def rules_sql(contract: TableContract) -> str:
    """One boolean: every decoded column of a stage table passes its string rules (a null passes:
    the types already refused nulls where the contract does)."""
    checks = [
        f"coalesce({column.name} is null or ({check}), false)"
        for column in contract.field_columns
        if (check := _string_check(column, column.name)) is not None
    ]
    return " and ".join(checks) or "true"


def _utc(s: str) -> str:
    """An `ISO_UTC` text as a naive UTC timestamp: the local time less its offset (DuckDB's
    `timestamp` cast ignores the offset; `timestamptz` goes through ICU, several times slower)."""
    offset = (
        f"if(substr({s}, -6, 1) = '-', -1, 1) * "
        f"(try_cast(substr({s}, -5, 2) as integer) * 60 + try_cast(substr({s}, -2, 2) as integer))"
    )
    return f"try_cast({s} as timestamp) - to_minutes(if(right({s}, 1) = 'Z', 0, {offset}))"


def _typed(column: Column) -> str:
    """A stage column as its warehouse value (timestamps are decoded text until here)."""
    return _utc(column.name) if column.type == "timestamp" else column.name


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
    sha256: str | None = None
    """sha256 of the bytes pass 1 read (None when DuckDB's reader read them)."""

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

    Pass 1 cuts the file into records and decodes each into the contract's types
    (`decode.py`); the typed rows go to DuckDB stage tables, which check the string rules, find
    repeated ids and write the parts. The records the types or rules refuse (only they) are read
    again, in file order, and decided by the record models. A file the split cannot cut (not
    strict JSON, an odd layout) is read by DuckDB's JSON reader instead, through the same decode.
    Nothing holds the whole file. Raises InputFormatError when the file is not a JSON array.
    """
    name = name or str(path)
    if _first_byte(path) != b"[":
        raise _unusable(path, name, f"starts with {_first_byte(path)!r}")
    run = _Staging(path, out, resource, meta, slices, memory_limit, threads, name)
    with deep_json():
        try:
            return run.stage(split=True)
        except Unsplittable:
            return run.stage(split=False)


@dataclass
class _Staging:
    """One staging of one raw file (see `stage_file`)."""

    path: Path
    out: Path
    resource: str
    meta: BatchMeta
    slices: int
    memory_limit: str
    threads: int
    name: str

    def _blocks(self, con: duckdb.DuckDBPyConnection, split: bool, digest: Any) -> Iterator[Block]:
        return split_file(self.path, digest) if split else _duckdb_blocks(con, self.path)

    def stage(self, split: bool) -> Staged:
        contracts = for_resource(self.resource)
        record = contracts[0]
        work = self.out / "_work"
        shutil.rmtree(work, ignore_errors=True)
        con = connect(work, self.memory_limit, self.threads)
        clock = _Clock()
        folder = work / "stage"
        parallel = split and self.path.stat().st_size >= PARALLEL_BYTES
        workers = Workers(self.path, self.resource, folder) if parallel else None
        stager = Stager(Decoder(self.resource), folder, "here")
        try:
            _create_verdict_tables(con)
            digest = hashlib.sha256() if split else None
            found = _Found(con)
            for block in self._blocks(con, split, digest):
                found.add(workers.submit(block) if workers else [stager.stage(block)])
            if workers is not None:
                found.add(workers.finish())
            if not any(folder.glob(f"{record.name}/*.parquet")):  # no record at all
                found.add([stager.stage(Block(0, []))])
            stager.close()
            clock.lap("pass1_check")
            staged = Staged(
                self.resource,
                found.received,
                quarantine=QuarantineLog(self.out / "quarantine.jsonl"),
                sha256=digest.hexdigest() if digest is not None else None,
            )
            staged.quarantine.path.unlink(missing_ok=True)  # type: ignore[union-attr]
            staged.drift = drift_from_paths(found.present, self.resource)
            _verdicts(con, contracts, folder)
            clock.lap("verdicts")
            writers = _SlowWriters(self.out, contracts, self.meta)
            try:
                if _one(con, "select count(*) from decide"):
                    self._decide_slow(con, split, staged, writers)
            finally:
                writers.close()
            clock.lap("slow_records")
            key = record.columns[0].name
            fast_rows = int(_one(con, "select count(*) from fast"))
            estimate = self.path.stat().st_size * fast_rows // max(staged.received, 1) // 12
            for contract in contracts:
                names = ", ".join(f"{_typed(c)} as {c.name}" for c in contract.columns[1:])
                if contract is record:
                    select = (
                        f"select {_typed(record.columns[0])} as {key}, {names} from "  # noqa: S608 - names from contract.py, paths quoted by _lit()
                        f"{_stage_scan(folder, contract)} semi join fast using (idx)"
                    )
                    size = estimate
                else:
                    select = (
                        f"select fast.id as {contract.columns[0].name}, {names} from "  # noqa: S608 - names from contract.py, paths quoted by _lit()
                        f"{_stage_scan(folder, contract)} join fast using (idx)"
                    )
                    size = estimate // 4
                files, count = _write_table(
                    con,
                    contract,
                    select,
                    self.meta,
                    self.out,
                    part_count(size, self.slices),
                    size,
                )
                slow_file, slow_count = writers.result(contract.name)
                staged.parts[contract.name] = files + ([slow_file] if slow_file else [])
                staged.rows[contract.name] = count + slow_count
                clock.lap(contract.name)
        except duckdb.InvalidInputException as exc:  # not a JSON array: the file, not the code
            raise _unusable(self.path, self.name, " ".join(str(exc).split())) from exc
        finally:
            if workers is not None:
                workers.close()
            stager.close()
            con.close()
            shutil.rmtree(work, ignore_errors=True)
        staged.timings_s = clock.laps
        return staged

    def _decide_slow(
        self, con: duckdb.DuckDBPyConnection, split: bool, staged: Staged, writers: _SlowWriters
    ) -> None:
        """Read the file again and let the record models decide the slow records, in file
        order (the repeated-id rule keeps the first valid record of an id)."""
        wanted = con.execute(
            "select idx, idx in (select idx from suspects) from decide order by idx"
        ).fetchall()
        slow = iter(wanted)
        deduper = Deduper(staged.resource)
        pending: list[tuple[int, str, bool]] = []
        target = next(slow, None)
        for block in self._blocks(con.cursor(), split, None):
            for index, text in enumerate(block.records, block.first_index):
                if target is None:
                    break
                if index != target[0]:
                    continue
                pending.append((index, _text(text), bool(target[1])))
                target = next(slow, None)
                if len(pending) >= SLOW_CHUNK:
                    self._decide(pending, staged, writers, deduper)
                    pending = []
            if target is None:
                break
        self._decide(pending, staged, writers, deduper)
        staged.deduplicated = deduper.deduplicated

    def _decide(
        self,
        chunk: list[tuple[int, str, bool]],
        staged: Staged,
        writers: _SlowWriters,
        deduper: Deduper,
    ) -> None:
        indices, records, ambiguous = [], [], []
        for index, text, exact in chunk:
            record = loads_record(text, self.name, index)
            key = duplicate_key(text) if exact else None
            if key is None:
                indices.append(index)
                records.append(record)
            else:
                ambiguous.append(duplicate_key_entry(staged.resource, index, key, text))
        outcome = validate_records(records, staged.resource, indices=indices, deduper=deduper)
        entries = sorted([*outcome.quarantine, *ambiguous], key=lambda e: e.record_index)
        staged.quarantine.write(entries)  # chunks come in file order
        staged.rule_counts.update(outcome.rule_counts)
        staged.rule_counts.update((_rule_field(e.field), e.rule) for e in ambiguous)
        writers.write(model for model, _ in outcome.records)


@dataclass
class _Found:
    """What pass 1's blocks found, kept as they come: the count, the field paths present, and
    (in DuckDB) the records the types refused and those that may hold a key twice."""

    con: duckdb.DuckDBPyConnection
    received: int = 0
    present: set[str] = field(default_factory=set)

    def add(self, results: list[BlockResult]) -> None:
        for result in results:
            self.received += result.received
            self.present.update(result.present)
            if result.slow:
                slow_in = pa.table(  # noqa: F841 - DuckDB reads it by name
                    {
                        "idx": pa.array([index for index, _ in result.slow], pa.int64()),
                        "id": pa.array([key for _, key in result.slow], pa.string()),
                    }
                )
                self.con.execute("insert into slow select * from slow_in")
            if result.suspects:
                suspects_in = pa.table({"idx": pa.array(result.suspects, pa.int64())})  # noqa: F841 - DuckDB reads it by name
                self.con.execute("insert into suspects select * from suspects_in")


def _text(record: Any) -> str:
    """A record's JSON text; bytes that are not UTF-8 go to DuckDB's reader, which names them."""
    if isinstance(record, str):
        return record
    try:
        return bytes(record).decode()
    except UnicodeDecodeError as exc:
        raise Unsplittable("not UTF-8") from exc


def _duckdb_blocks(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[Block]:
    """The records as DuckDB's JSON reader cuts them (any layout; NaN/Infinity pass here and
    are refused by the record's own parse, like the models' strict JSON)."""
    reader = con.execute(f"select j::varchar from {_scan(path)}").to_arrow_reader(SLOW_CHUNK)  # noqa: S608 - path quoted by _lit()
    index = 0
    for batch in reader:
        texts = batch.column(0).to_pylist()
        yield Block(index, texts, None)
        index += len(texts)


def _create_verdict_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table slow (idx bigint, id varchar)")  # refused by the types
    con.execute("create table suspects (idx bigint)")  # may hold a key twice


def _stage_scan(folder: Path, contract: TableContract) -> str:
    return f"read_parquet({_lit(str(folder / contract.name / '*.parquet'))})"


def _verdicts(con: duckdb.DuckDBPyConnection, contracts: list[TableContract], folder: Path) -> None:
    """`fast` (idx, id): the typed records whose columns and array elements pass the string
    rules, that hold no key twice, and whose id is neither repeated nor shared with a record the
    models decide (they keep the first valid one, in file order); `decide`: every other record,
    for the models."""
    record, *arrays = contracts
    key = record.columns[0].name
    failed = " union all ".join(
        [
            "select idx from suspects",
            f"select idx from {_stage_scan(folder, record)} where not ({rules_sql(record)})",  # noqa: S608 - names from contract.py, paths quoted by _lit()
            *(
                f"select idx from {_stage_scan(folder, a)} where not ({rules_sql(a)})"  # noqa: S608 - names from contract.py, paths quoted by _lit()
                for a in arrays
            ),
        ]
    )
    con.execute(f"create table failed as select distinct idx from ({failed})")  # noqa: S608 - names from contract.py
    con.execute(
        f"create table typed as select idx, {key} as id, idx in (select idx from failed) as bad "  # noqa: S608 - names from contract.py, paths quoted by _lit()
        f"from {_stage_scan(folder, record)}"
    )
    con.execute(
        "create table repeated as select id from typed where not bad group by id "
        "having count(*) > 1 union select id from typed where bad "
        "union select id from slow where id is not null"
    )
    con.execute(
        "create table fast as select idx, id from typed where not bad "
        "and id not in (select id from repeated)"
    )
    con.execute(
        "create table decide as select idx from slow union all "
        "select idx from typed where idx not in (select idx from fast)"
    )


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else None


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

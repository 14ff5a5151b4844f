"""One contract per raw table: each column's name, logical type, JSON path, nullability, check and
range. The warehouse columns (`schema.TABLES`), the staged Arrow/Parquet schema, the columnar
checks and flattening (`columnar.py`) and the slow path's flattening (`flatten.py`) all derive from
it; a test checks that dbt's `_spacex__sources.yml` and the pydantic record models agree with it.

The pydantic models in `schema.py` stay the per-record diagnostic rules (the exact quarantine
messages); the checks derived from here are a strict subset of what those models accept, so a
record passing every check is one the models accept with the same values (anything else is handed
to them to decide).

The raw tables hold typed columns only. The full original record stays in the raw zone of the lake
(immutable, byte for byte); a field added later is a new column here and a reload from raw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

ColumnType = Literal["key", "text", "int", "bigint", "bool", "timestamp", "date"]
"""Logical column types: key (short id), text (free text, may be long), int, bigint, bool,
timestamp (UTC, naive), date. Each warehouse adapter maps them to its own types."""

KEY_MAX_BYTES = 256
"""Redshift `varchar(256)` counts bytes, not characters."""
TEXT_MAX_BYTES = 65535
"""Redshift's longest `varchar`."""

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "key": pa.string(),
    "text": pa.string(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}

METADATA_COLUMNS: list[tuple[str, ColumnType]] = [
    ("_source", "text"),
    ("_ingest_date", "date"),
    ("_run_id", "key"),
    ("_raw_uri", "text"),
    ("_loaded_at", "timestamp"),
    ("_extracted_at", "timestamp"),
]
"""The batch metadata every raw row carries, after its data columns."""

Check = Literal["object_id", "non_empty", "precision", "any"]
"""What a value must look like beyond its JSON type (see `columnar.py` for the SQL of each)."""

PRECISIONS = ("half", "quarter", "year", "month", "day", "hour")
INT_RANGES: dict[ColumnType, tuple[int, int]] = {
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}

Source = Literal["field", "parent_key", "index", "element"]
"""Where a column's value comes from: a JSON key of the record (or array element), the parent
record's key, the position in the array, or the array element itself (arrays of plain ids)."""


@dataclass(frozen=True)
class Column:
    """One warehouse column and the JSON it is read from."""

    name: str
    type: ColumnType
    path: str | None = None
    source: Source = "field"
    required: bool = False
    """The key must be present (it may still be null when `nullable`)."""
    nullable: bool = True
    check: Check = "any"

    @property
    def range(self) -> tuple[int, int] | None:
        """The values an integer column can hold (the warehouse type's range)."""
        return INT_RANGES.get(self.type)


@dataclass(frozen=True)
class TableContract:
    """A raw table: one row per record, or one row per element of one of its arrays."""

    name: str
    resource: str
    columns: tuple[Column, ...]
    array: str | None = None
    """The record's array the rows come from (None: one row per record)."""

    def warehouse_columns(self) -> list[tuple[str, ColumnType]]:
        """(name, logical type) of the data columns, in table order."""
        return [(column.name, column.type) for column in self.columns]

    def arrow_schema(self) -> pa.Schema:
        """Arrow schema of the table as staged: data columns, then the batch metadata."""
        return arrow_schema([*self.warehouse_columns(), *METADATA_COLUMNS])

    @property
    def field_columns(self) -> list[Column]:
        """The columns read from a JSON key or element (not the parent key or the index)."""
        return [c for c in self.columns if c.source in ("field", "element")]


def arrow_schema(columns: list[tuple[str, ColumnType]]) -> pa.Schema:
    """The Arrow schema of (name, logical type) columns."""
    return pa.schema([pa.field(name, ARROW_TYPES[kind]) for name, kind in columns])


def _id(name: str, path: str, required: bool = False, nullable: bool = True) -> Column:
    return Column(name, "key", path, required=required, nullable=nullable, check="object_id")


def _flag(name: str) -> Column:
    return Column(name, "bool", name)


def _parent(name: str) -> Column:
    return Column(name, "key", "id", source="parent_key", nullable=False, check="object_id")


def _index(name: str) -> Column:
    return Column(name, "int", source="index", nullable=False)


LAUNCHES = TableContract(
    "launches",
    "launches",
    (
        _id("launch_id", "id", required=True, nullable=False),
        Column("flight_number", "int", "flight_number", required=True, nullable=False),
        Column("name", "text", "name", required=True, nullable=False, check="non_empty"),
        Column("date_utc", "timestamp", "date_utc", required=True, nullable=False),
        Column("date_unix", "bigint", "date_unix"),
        Column("date_local", "key", "date_local"),
        Column("date_precision", "key", "date_precision", check="precision"),
        Column("upcoming", "bool", "upcoming", required=True, nullable=False),
        _flag("success"),
        _id("rocket_id", "rocket"),
        _id("launchpad_id", "launchpad"),
        Column("details", "text", "details"),
        Column("static_fire_date_utc", "timestamp", "static_fire_date_utc"),
        Column("window_seconds", "int", "window"),
        Column("launch_library_id", "key", "launch_library_id"),
        _flag("auto_update"),
        _flag("tbd"),
        _flag("net"),
    ),
)
LAUNCH_CORES = TableContract(
    "launch_cores",
    "launches",
    (
        _parent("launch_id"),
        _index("core_index"),
        _id("core_id", "core", required=True),
        Column("flight", "int", "flight"),
        _flag("reused"),
        _flag("gridfins"),
        _flag("legs"),
        _flag("landing_attempt"),
        _flag("landing_success"),
        Column("landing_type", "key", "landing_type"),
        _id("landpad_id", "landpad"),
    ),
    array="cores",
)
LAUNCH_PAYLOADS = TableContract(
    "launch_payloads",
    "launches",
    (
        _parent("launch_id"),
        _index("payload_index"),
        Column("payload_id", "key", source="element", nullable=False, check="object_id"),
    ),
    array="payloads",
)
LAUNCH_FAILURES = TableContract(
    "launch_failures",
    "launches",
    (
        _parent("launch_id"),
        _index("failure_index"),
        Column("time_seconds", "int", "time"),
        Column("altitude_km", "int", "altitude"),
        Column("reason", "text", "reason"),
    ),
    array="failures",
)
CORES = TableContract(
    "cores",
    "cores",
    (
        _id("core_id", "id", required=True, nullable=False),
        Column("serial", "key", "serial"),
        Column("block", "int", "block"),
        Column("reuse_count", "int", "reuse_count"),
        Column("status", "key", "status"),
        Column("last_update", "text", "last_update"),
    ),
)

CONTRACTS: dict[str, TableContract] = {
    contract.name: contract
    for contract in (LAUNCHES, LAUNCH_CORES, LAUNCH_PAYLOADS, LAUNCH_FAILURES, CORES)
}


def for_resource(resource: str) -> list[TableContract]:
    """The tables one resource fills, the record-level table first."""
    return [contract for contract in CONTRACTS.values() if contract.resource == resource]

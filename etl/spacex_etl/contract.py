"""The one declaration of every raw table: each column's name, logical type, JSON path,
nullability, check and range, the API keys a record may carry without a column, and the raw
tables the loader itself writes (quarantine, load ledger).

Everything else derives from it: the warehouse DDL (`TABLES`, `columns`), the staged
Arrow/Parquet schema, the fast path's SQL checks and flattening (`parts.py`), the per-record
rules that name a bad record's field and rule (`records.py`, compiled from these columns), the
schema-drift lists (`known_paths`); a test holds dbt's `_spacex__sources.yml`
to it and names any difference.

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
"""What a value must look like beyond its JSON type (see `parts.py` for the SQL of each)."""

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
    expected: bool = True
    """Every extract carries the key today: one absent from all records is schema drift."""

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
    passthrough: tuple[str, ...] = ()
    """API keys the contract knows but stores in no column (the raw zone keeps them)."""
    passthrough_expected: bool = True
    """Whether every extract carries the passthrough keys (their absence is schema drift)."""

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


def _optional(name: str, kind: ColumnType, path: str | None = None) -> Column:
    """A column whose key not every extract carries (the bundled cores file lacks it)."""
    return Column(name, kind, path or name, expected=False)


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
    passthrough=("fairings", "links", "static_fire_date_unix", "crew", "ships", "capsules"),
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
        _optional("status", "key"),
        _optional("last_update", "text"),
    ),
    passthrough=("launches", "rtls_attempts", "rtls_landings", "asds_attempts", "asds_landings"),
    passthrough_expected=False,
)

CONTRACTS: dict[str, TableContract] = {
    contract.name: contract
    for contract in (LAUNCHES, LAUNCH_CORES, LAUNCH_PAYLOADS, LAUNCH_FAILURES, CORES)
}


def for_resource(resource: str) -> list[TableContract]:
    """The tables one resource fills, the record-level table first."""
    return [contract for contract in CONTRACTS.values() if contract.resource == resource]


def known_paths(resource: str) -> tuple[set[str], set[str]]:
    """(known, expected) field paths of a resource's records (`cores[].flight` for a field of an
    array's elements): known keys are not drift; an expected one absent from a file is."""
    known: set[str] = set()
    expected: set[str] = set()
    for contract in for_resource(resource):
        prefix = f"{contract.array}[]." if contract.array else ""
        if contract.array:
            known.add(contract.array)
            expected.add(contract.array)
        for column in contract.columns:
            if column.source == "field":
                path = f"{prefix}{column.path or column.name}"
                known.add(path)
                if column.expected:
                    expected.add(path)
        known |= set(contract.passthrough)
        if contract.passthrough_expected:
            expected |= set(contract.passthrough)
    return known, expected


def fit_text(value: str | None, limit: int = TEXT_MAX_BYTES) -> str | None:
    """Cut `value` to at most `limit` UTF-8 bytes, U+0000 written as `\\u0000` (for
    diagnostics, never for loaded data)."""
    if value is not None:
        value = value.replace("\x00", "\\u0000")
    if value is None or len(value.encode()) <= limit:
        return value
    return value.encode()[: limit - 3].decode(errors="ignore") + "..."


# -- the tables the loader writes beside the record tables --------------------------------------
QUARANTINE_COLUMNS: list[tuple[str, ColumnType]] = [
    ("resource", "key"),
    ("record_index", "int"),
    ("record_id", "text"),
    ("field", "text"),
    ("rule", "key"),
    ("message", "text"),
    ("record_json", "text"),
]
"""One row per set-aside record (the lake's quarantine file keeps the record whole)."""

TABLES: dict[str, list[tuple[str, ColumnType]]] = {
    **{name: contract.warehouse_columns() for name, contract in CONTRACTS.items()},
    "quarantine": QUARANTINE_COLUMNS,
}
"""The raw tables that carry batch metadata: the record tables and the quarantine."""

LEDGER_COLUMNS: list[tuple[str, ColumnType]] = [
    ("resource", "key"),
    ("source", "text"),
    ("ingest_date", "date"),
    ("run_id", "key"),
    ("raw_uri", "text"),
    ("raw_sha256", "key"),
    ("records_received", "int"),
    ("records_loaded", "int"),
    ("records_quarantined", "int"),
    ("records_deduplicated", "int"),
    ("loaded_at", "timestamp"),
    ("status", "key"),
    ("error", "text"),
    ("extracted_at", "timestamp"),
    # run history (see `monitoring`): what the batch looked like beyond its counts
    ("bytes", "bigint"),
    ("drift_events", "int"),
    ("quarantined_by_rule", "text"),
    ("newest_source_at", "timestamp"),
]
PHASE_COLUMNS: list[tuple[str, ColumnType]] = [
    ("run_id", "key"),
    ("ingest_date", "date"),
    ("phase", "key"),
    ("milliseconds", "bigint"),
    ("recorded_at", "timestamp"),
]
"""`run_phases`: one row per run and phase (extract, load, dbt, report) with its wall time."""
LEDGER_STATUSES = ("succeeded", "failed", "rejected")
"""A ledger row per load attempt: loaded; failed (error, rolled back); rejected (refused input)."""

RESOURCE_TABLES: dict[str, list[str]] = {
    resource: [contract.name for contract in for_resource(resource)]
    for resource in dict.fromkeys(contract.resource for contract in CONTRACTS.values())
}
"""The tables each resource fills, the record-level table first."""
PARENT_KEY: dict[str, str] = {
    resource: CONTRACTS[tables[0]].columns[0].name for resource, tables in RESOURCE_TABLES.items()
}
"""The column that identifies a parent record: a newer batch replaces every row of that key
(so a launch that lost a core loses its row)."""


def columns(table: str) -> list[tuple[str, ColumnType]]:
    """All columns of a raw table, data columns first, then batch metadata."""
    return TABLES[table] + METADATA_COLUMNS

"""The record contract (what a launch or core must look like) and the raw warehouse tables.

Records allow unknown fields (the API adds fields over time; raw keeps them all and
`record_json` carries them into the warehouse), but required fields must be present with the
right type. Integers and booleans are strict: `"3"` is not a flight number.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)


def _whole_number(value: object) -> object:
    """Accept 3 and 3.0 (some dumps went through pandas) but not 3.5, "3" or true."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Int = Annotated[StrictInt, BeforeValidator(_whole_number)]
ObjectId = Annotated[str, Field(pattern=r"^[0-9a-f]{24}$")]
NonEmpty = Annotated[str, Field(min_length=1)]
Precision = Literal["half", "quarter", "year", "month", "day", "hour"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class CoreSlot(_Record):
    """One entry of a launch's `cores` array (a booster position on that launch)."""

    core: ObjectId | None
    flight: Int | None = None
    gridfins: StrictBool | None = None
    legs: StrictBool | None = None
    reused: StrictBool | None = None
    landing_attempt: StrictBool | None = None
    landing_success: StrictBool | None = None
    landing_type: str | None = None
    landpad: ObjectId | None = None


class Failure(_Record):
    time: Int | None = None
    altitude: Int | None = None
    reason: str | None = None


class Launch(_Record):
    """A `/v4|v5/launches` record."""

    id: ObjectId
    name: NonEmpty
    flight_number: Int
    date_utc: AwareDatetime
    date_unix: Int | None = None
    date_local: str | None = None
    date_precision: Precision | None = None
    upcoming: StrictBool
    success: StrictBool | None = None
    rocket: ObjectId | None = None
    launchpad: ObjectId | None = None
    details: str | None = None
    static_fire_date_utc: AwareDatetime | None = None
    window: Int | None = None
    launch_library_id: str | None = None
    auto_update: StrictBool | None = None
    tbd: StrictBool | None = None
    net: StrictBool | None = None
    cores: list[CoreSlot] = Field(default_factory=list)
    payloads: list[ObjectId] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)


class Core(_Record):
    """A `/v4/cores` record (the bundled file has only id, serial, block, reuse_count)."""

    id: ObjectId
    serial: str | None = None
    block: Int | None = None
    reuse_count: Int | None = None
    status: str | None = None
    last_update: str | None = None


RECORD_MODELS: dict[str, type[_Record]] = {"launches": Launch, "cores": Core}

# Raw warehouse tables. Logical types: key (short id), text (free text, may be long),
# int, bigint, bool, timestamp (UTC, naive), date. Adapters map them to each warehouse.
ColumnType = Literal["key", "text", "int", "bigint", "bool", "timestamp", "date"]

METADATA_COLUMNS: list[tuple[str, ColumnType]] = [
    ("_source", "text"),
    ("_ingest_date", "date"),
    ("_run_id", "key"),
    ("_raw_uri", "text"),
    ("_loaded_at", "timestamp"),
]

TABLES: dict[str, list[tuple[str, ColumnType]]] = {
    "launches": [
        ("launch_id", "key"),
        ("flight_number", "int"),
        ("name", "text"),
        ("date_utc", "timestamp"),
        ("date_unix", "bigint"),
        ("date_local", "key"),
        ("date_precision", "key"),
        ("upcoming", "bool"),
        ("success", "bool"),
        ("rocket_id", "key"),
        ("launchpad_id", "key"),
        ("details", "text"),
        ("static_fire_date_utc", "timestamp"),
        ("window_seconds", "int"),
        ("launch_library_id", "key"),
        ("auto_update", "bool"),
        ("tbd", "bool"),
        ("net", "bool"),
        ("record_json", "text"),
    ],
    "launch_cores": [
        ("launch_id", "key"),
        ("core_index", "int"),
        ("core_id", "key"),
        ("flight", "int"),
        ("reused", "bool"),
        ("gridfins", "bool"),
        ("legs", "bool"),
        ("landing_attempt", "bool"),
        ("landing_success", "bool"),
        ("landing_type", "key"),
        ("landpad_id", "key"),
    ],
    "launch_payloads": [
        ("launch_id", "key"),
        ("payload_index", "int"),
        ("payload_id", "key"),
    ],
    "launch_failures": [
        ("launch_id", "key"),
        ("failure_index", "int"),
        ("time_seconds", "int"),
        ("altitude_km", "int"),
        ("reason", "text"),
    ],
    "cores": [
        ("core_id", "key"),
        ("serial", "key"),
        ("block", "int"),
        ("reuse_count", "int"),
        ("status", "key"),
        ("last_update", "text"),
        ("record_json", "text"),
    ],
    "quarantine": [
        ("resource", "key"),
        ("record_index", "int"),
        ("record_id", "text"),
        ("field", "text"),
        ("rule", "key"),
        ("message", "text"),
        ("record_json", "text"),
    ],
}

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
]

# Which tables each resource fills, keyed by the column that identifies the parent record.
# A newer batch replaces every row of a parent key (so a launch that lost a core loses its row).
RESOURCE_TABLES: dict[str, list[str]] = {
    "launches": ["launches", "launch_cores", "launch_payloads", "launch_failures"],
    "cores": ["cores"],
}
PARENT_KEY: dict[str, str] = {"launches": "launch_id", "cores": "core_id"}


def columns(table: str) -> list[tuple[str, ColumnType]]:
    """All columns of a raw table, data columns first, then batch metadata."""
    return TABLES[table] + METADATA_COLUMNS

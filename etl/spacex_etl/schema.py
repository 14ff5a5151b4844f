"""The record models (what a launch or core must look like) and the raw warehouse tables.

Records allow unknown fields (the API adds fields over time; the raw zone keeps every byte and
schema drift is reported), but required fields must be present with the right type. Integers
and booleans are strict: `"3"` is not a flight number. Every value must also fit the warehouse
column it lands in (int32, bigint, Redshift's varchar byte limits), so a value that would break
the bulk load is quarantined with its field and rule `out_of_range` or `too_long` instead of
failing the whole batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)
from pydantic_core import PydanticCustomError

from spacex_etl.contract import (
    CONTRACTS,
    INT_RANGES,
    KEY_MAX_BYTES,
    METADATA_COLUMNS,
    PRECISIONS,
    TEXT_MAX_BYTES,
    ColumnType,
)

INT32 = INT_RANGES["int"]
INT64 = INT_RANGES["bigint"]


def _whole_number(value: object) -> object:
    """Accept 3 and 3.0 (some dumps went through pandas) but not 3.5, "3" or true."""
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError(
            "out_of_range",
            "{value}: a number too large for any numeric type (e.g. 1e400 or thousands of "
            "digits) does not fit an integer column",
            {"value": value},
        )
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _within(rule: str, message: str, measure: Callable[[Any], int], low: int, high: int) -> Any:
    """A check that `low <= measure(value) <= high`, failing with `rule` (the quarantine's rule
    name) and `message` (may use {value} and {size})."""

    def check(value: Any) -> Any:
        size = measure(value)
        if not low <= size <= high:
            raise PydanticCustomError(rule, message, {"value": value, "size": size})
        return value

    return AfterValidator(check)


def _utf8_bytes(value: str) -> int:
    return len(value.encode())


def _int_range(bits: int, bounds: tuple[int, int]) -> Any:
    return _within(
        "out_of_range", f"{{value}} does not fit a {bits}-bit integer column", int, *bounds
    )


def _max_bytes(limit: int) -> Any:
    return _within(
        "too_long",
        f"{{size}} bytes is longer than the column's {limit} bytes",
        _utf8_bytes,
        0,
        limit,
    )


def _storable(value: str) -> str:
    """PostgreSQL's `text` and Redshift's `varchar` cannot hold U+0000 (DuckDB can): such a
    value is quarantined on every warehouse alike, not refused by one mid-load."""
    if "\x00" in value:
        raise PydanticCustomError(
            "unstorable_character",
            "contains U+0000 (NUL), which PostgreSQL and Redshift text columns cannot store",
        )
    return value


def fit_text(value: str | None, limit: int = TEXT_MAX_BYTES) -> str | None:
    """Cut `value` to at most `limit` UTF-8 bytes, U+0000 written as `\\u0000` (for
    diagnostics, never for loaded data)."""
    if value is not None:
        value = value.replace("\x00", "\\u0000")
    if value is None or len(value.encode()) <= limit:
        return value
    return value.encode()[: limit - 3].decode(errors="ignore") + "..."


Int = Annotated[StrictInt, BeforeValidator(_whole_number), _int_range(32, INT32)]
BigInt = Annotated[StrictInt, BeforeValidator(_whole_number), _int_range(64, INT64)]
Key = Annotated[str, _max_bytes(KEY_MAX_BYTES), AfterValidator(_storable)]
Text = Annotated[str, _max_bytes(TEXT_MAX_BYTES), AfterValidator(_storable)]
ObjectId = Annotated[str, Field(pattern=r"^[0-9a-f]{24}$")]
NonEmpty = Annotated[
    str, Field(min_length=1), _max_bytes(TEXT_MAX_BYTES), AfterValidator(_storable)
]
Precision = Literal[PRECISIONS]  # type: ignore[valid-type]


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    passthrough: ClassVar[frozenset[str]] = frozenset()
    """API fields the contract knows but does not model: kept in the raw zone only."""
    expected: ClassVar[frozenset[str]] = frozenset()
    """Fields every extract carries today; one absent from all records is schema drift."""


class CoreSlot(_Record):
    """One entry of a launch's `cores` array (a booster position on that launch)."""

    core: ObjectId | None
    flight: Int | None = None
    gridfins: StrictBool | None = None
    legs: StrictBool | None = None
    reused: StrictBool | None = None
    landing_attempt: StrictBool | None = None
    landing_success: StrictBool | None = None
    landing_type: Key | None = None
    landpad: ObjectId | None = None

    expected: ClassVar[frozenset[str]] = frozenset(
        {
            "core",
            "flight",
            "gridfins",
            "legs",
            "reused",
            "landing_attempt",
            "landing_success",
            "landing_type",
            "landpad",
        }
    )


class Failure(_Record):
    time: Int | None = None
    altitude: Int | None = None
    reason: Text | None = None

    expected: ClassVar[frozenset[str]] = frozenset({"time", "altitude", "reason"})


class Launch(_Record):
    """A `/v4|v5/launches` record."""

    id: ObjectId
    name: NonEmpty
    flight_number: Int
    date_utc: AwareDatetime
    date_unix: BigInt | None = None
    date_local: Key | None = None
    date_precision: Precision | None = None
    upcoming: StrictBool
    success: StrictBool | None = None
    rocket: ObjectId | None = None
    launchpad: ObjectId | None = None
    details: Text | None = None
    static_fire_date_utc: AwareDatetime | None = None
    window: Int | None = None
    launch_library_id: Key | None = None
    auto_update: StrictBool | None = None
    tbd: StrictBool | None = None
    net: StrictBool | None = None
    cores: list[CoreSlot] = Field(default_factory=list)
    payloads: list[ObjectId] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)

    passthrough: ClassVar[frozenset[str]] = frozenset(
        {"fairings", "links", "static_fire_date_unix", "crew", "ships", "capsules"}
    )
    expected: ClassVar[frozenset[str]] = frozenset(
        {
            "id",
            "name",
            "flight_number",
            "date_utc",
            "date_unix",
            "date_local",
            "date_precision",
            "upcoming",
            "success",
            "rocket",
            "launchpad",
            "details",
            "static_fire_date_utc",
            "window",
            "launch_library_id",
            "auto_update",
            "tbd",
            "net",
            "cores",
            "payloads",
            "failures",
            *passthrough,
        }
    )


class Core(_Record):
    """A `/v4/cores` record (the bundled file has only id, serial, block, reuse_count)."""

    id: ObjectId
    serial: Key | None = None
    block: Int | None = None
    reuse_count: Int | None = None
    status: Key | None = None
    last_update: Text | None = None

    passthrough: ClassVar[frozenset[str]] = frozenset(
        {"launches", "rtls_attempts", "rtls_landings", "asds_attempts", "asds_landings"}
    )
    expected: ClassVar[frozenset[str]] = frozenset({"id", "serial", "block", "reuse_count"})


RECORD_MODELS: dict[str, type[_Record]] = {"launches": Launch, "cores": Core}

# Raw warehouse tables: the record tables come from `contract.CONTRACTS`; the quarantine holds
# one row per set-aside record (the lake's quarantine file keeps the record whole).
TABLES: dict[str, list[tuple[str, ColumnType]]] = {
    **{name: contract.warehouse_columns() for name, contract in CONTRACTS.items()},
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
    ("status", "key"),
    ("error", "text"),
    ("extracted_at", "timestamp"),
]
LEDGER_STATUSES = ("succeeded", "failed", "rejected")
"""A ledger row per load attempt: loaded; failed (error, rolled back); rejected (refused input)."""

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

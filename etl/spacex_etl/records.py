"""The per-record rules, compiled from the table contracts: one pydantic model per record table
(and per array element), built from `contract.py`'s columns, never written by hand.

A record that fails them is quarantined with its field (`cores.0.flight`), rule (`int_type`,
`missing`, `out_of_range`, `too_long`, ...) and message. Records allow unknown fields (the API
adds fields over time; the raw zone keeps every byte and schema drift is reported), but required
fields must be present with the right type. Integers and booleans are strict: `"3"` is not a
flight number. Every value must also fit the warehouse column it lands in (int32, bigint,
Redshift's varchar byte limits), so a value that would break the bulk load is quarantined instead
of failing the whole batch.

The fast path (`parts.py`) compiles the same columns to SQL checks that accept a strict subset
of what these models accept, with equal values; a record they do not pass is decided here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    create_model,
)
from pydantic_core import PydanticCustomError

from spacex_etl import contract as declared
from spacex_etl.contract import Column, ColumnType, TableContract


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


def _int(bits: int, kind: ColumnType) -> Any:
    message = f"{{value}} does not fit a {bits}-bit integer column"
    fits = _within("out_of_range", message, int, *declared.INT_RANGES[kind])
    return Annotated[StrictInt, BeforeValidator(_whole_number), fits]


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


STORABLE = AfterValidator(_storable)
TYPES: dict[ColumnType, Any] = {
    "key": Annotated[str, _max_bytes(declared.KEY_MAX_BYTES), STORABLE],
    "text": Annotated[str, _max_bytes(declared.TEXT_MAX_BYTES), STORABLE],
    "int": _int(32, "int"),
    "bigint": _int(64, "bigint"),
    "bool": StrictBool,
    "timestamp": AwareDatetime,
}
"""What a JSON value of each logical type must be."""
CHECKS: dict[str, Any] = {
    "object_id": Annotated[str, Field(pattern=r"^[0-9a-f]{24}$")],
    "non_empty": Annotated[str, Field(min_length=1), _max_bytes(declared.TEXT_MAX_BYTES), STORABLE],
    "precision": Literal[declared.PRECISIONS],
}
"""What a value must look like beyond its type (`contract.Check`), replacing the type's rule."""


class Record(BaseModel):
    """A record or array element: unknown keys allowed (drift), values frozen."""

    model_config = ConfigDict(extra="allow", frozen=True)


def _annotation(column: Column) -> Any:
    kind = CHECKS.get(column.check, TYPES[column.type])
    return kind | None if column.nullable else kind


def _field(column: Column) -> tuple[Any, Any]:
    if column.required:
        return (_annotation(column), ...)
    return (_annotation(column), None)


def _model(contract: TableContract, arrays: list[TableContract]) -> type[Record]:
    fields: dict[str, Any] = {
        column.path or column.name: _field(column)
        for column in contract.columns
        if column.source == "field"
    }
    for array in arrays:
        element = array.field_columns[0]
        if element.source == "element":  # an array of plain values (payload ids)
            item: Any = CHECKS.get(element.check, TYPES[element.type])
        else:
            item = _model(array, [])
        fields[array.array or ""] = (list[item], Field(default_factory=list))
    return create_model(contract.name, __base__=Record, **fields)


def _resource_model(resource: str) -> type[Record]:
    record, *arrays = declared.for_resource(resource)
    return _model(record, arrays)


RECORD_MODELS: dict[str, type[Record]] = {
    resource: _resource_model(resource)
    for resource in dict.fromkeys(c.resource for c in declared.CONTRACTS.values())
}
"""The model of each resource's records, keyed by resource."""


RESOURCE_OF: dict[type[Record], str] = {model: name for name, model in RECORD_MODELS.items()}

Row = dict[str, Any]


def _value(column: Column, item: Any) -> Any:
    value = item if column.source == "element" else getattr(item, column.path or column.name)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _row(contract: TableContract, parent_key: str, index: int, item: Any) -> Row:
    row: Row = {}
    for column in contract.columns:
        if column.source == "parent_key":
            row[column.name] = parent_key
        elif column.source == "index":
            row[column.name] = index
        else:
            row[column.name] = _value(column, item)
    return row


def rows(record: Record) -> Iterator[tuple[str, Row]]:
    """(table, row) of an accepted record for its own table, then one row per element of each
    array (the slow path's flattening; the fast path's is SQL from the same contract)."""
    record_table, *arrays = declared.for_resource(RESOURCE_OF[type(record)])
    yield record_table.name, {c.name: _value(c, record) for c in record_table.columns}
    key = str(record.id)  # type: ignore[attr-defined]
    for contract in arrays:
        for index, item in enumerate(getattr(record, contract.array or "")):
            yield contract.name, _row(contract, key, index, item)

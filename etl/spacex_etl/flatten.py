"""Turn a validated record model into rows of the raw tables (pure functions, no I/O).

The slow path only: records that failed a columnar check, or share their id with another, are
decided by the pydantic models and, when accepted, flattened here. The columns come from
`contract.CONTRACTS`, the same declaration the columnar path's SQL is generated from.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from spacex_etl.contract import Column, TableContract, for_resource
from spacex_etl.records import RECORD_MODELS, Record

Row = dict[str, Any]
RESOURCE_OF: dict[type[Record], str] = {model: name for name, model in RECORD_MODELS.items()}


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
    """(table, row) for the record's own table, then one row per element of each array."""
    record_table, *arrays = for_resource(RESOURCE_OF[type(record)])
    yield record_table.name, {c.name: _value(c, record) for c in record_table.columns}
    key = str(record.id)  # type: ignore[attr-defined]
    for contract in arrays:
        for index, item in enumerate(getattr(record, contract.array or "")):
            yield contract.name, _row(contract, key, index, item)

"""Parse a raw file and split its records into valid ones and quarantined ones (with reasons).

A file that is not a JSON array of objects is unusable as a whole: `InputFormatError` names the
file and the problem. Inside a good file, each bad record is quarantined with its index, id,
field, rule and message; nothing is dropped silently. Clean batches take a fast path: the whole
array is validated in one call; only when that fails are the failing records singled out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from spacex_etl.errors import InputFormatError
from spacex_etl.schema import RECORD_MODELS, _Record


@dataclass(frozen=True)
class QuarantineEntry:
    """Why one record was set aside."""

    resource: str
    record_index: int
    record_id: str | None
    field: str
    rule: str
    message: str
    record_json: str


@dataclass
class Validated:
    """The outcome of validating one raw file."""

    resource: str
    received: int
    records: list[tuple[_Record, bytes]] = field(default_factory=list)
    quarantine: list[QuarantineEntry] = field(default_factory=list)
    deduplicated: int = 0

    @property
    def valid(self) -> int:
        return len(self.records)


def parse_array(body: bytes, name: str) -> list[Any]:
    """Parse `body` as a JSON array; raise InputFormatError naming `name` otherwise."""
    if not body.strip():
        raise InputFormatError(f"{name}: file is empty, expected a JSON array of launches")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        hint = " (truncated?)" if exc.pos >= len(body.rstrip()) - 1 else ""
        raise InputFormatError(f"{name}: not valid JSON{hint}: {exc}") from exc
    if not isinstance(data, list):
        found = type(data).__name__ if not isinstance(data, dict) else "an object"
        keys = f" with keys {sorted(data)[:5]}" if isinstance(data, dict) else ""
        raise InputFormatError(f"{name}: expected a JSON array of records, found {found}{keys}")
    return data


def _record_id(record: Any) -> str | None:
    if isinstance(record, dict):
        value = record.get("id")
        return value if isinstance(value, str) else None
    return None


def _dump(record: Any) -> bytes:
    return orjson.dumps(record)


_ADAPTERS: dict[str, TypeAdapter[list[_Record]]] = {}


def _adapter(resource: str) -> TypeAdapter[list[_Record]]:
    if resource not in _ADAPTERS:
        model = RECORD_MODELS[resource]
        _ADAPTERS[resource] = TypeAdapter(list[model])  # type: ignore[valid-type]
    return _ADAPTERS[resource]


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(record)"


def validate_records(records: list[Any], resource: str) -> Validated:
    """Validate parsed records; quarantine the bad ones and collapse exact duplicates."""
    result = Validated(resource=resource, received=len(records))
    adapter = _adapter(resource)
    bad: dict[int, QuarantineEntry] = {}
    try:
        models = adapter.validate_python(records)
        good = list(range(len(records)))
    except PydanticValidationError as exc:
        errors_by_index: dict[int, list[Any]] = defaultdict(list)
        for error in exc.errors(include_url=False):
            errors_by_index[int(error["loc"][0])].append(error)
        for index, errors in errors_by_index.items():
            first = errors[0]
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            bad[index] = QuarantineEntry(
                resource=resource,
                record_index=index,
                record_id=_record_id(records[index]),
                field=_field(tuple(first["loc"][1:])),
                rule=str(first["type"]),
                message=f"{first['msg']}{more}",
                record_json=_dump(records[index]).decode(),
            )
        good = [i for i in range(len(records)) if i not in bad]
        models = adapter.validate_python([records[i] for i in good])

    seen: dict[str, tuple[int, bytes]] = {}
    for index, model in zip(good, models, strict=True):
        raw = _dump(records[index])
        record_id = str(model.id)  # type: ignore[attr-defined]
        if record_id in seen:
            first_index, first_raw = seen[record_id]
            if raw == first_raw:
                result.deduplicated += 1
                continue
            bad[index] = QuarantineEntry(
                resource=resource,
                record_index=index,
                record_id=record_id,
                field="id",
                rule="duplicate_id",
                message=f"id also at record {first_index} with different content; kept the first",
                record_json=raw.decode(),
            )
            continue
        seen[record_id] = (index, raw)
        result.records.append((model, raw))
    result.quarantine = sorted(bad.values(), key=lambda entry: entry.record_index)
    return result


def validate_file(body: bytes, name: str, resource: str) -> Validated:
    """Parse and validate one raw file."""
    return validate_records(parse_array(body, name), resource)

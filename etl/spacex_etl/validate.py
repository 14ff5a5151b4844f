"""Parse a raw file and split its records into valid ones and quarantined ones (with reasons).

A file that is not a JSON array of objects is unusable as a whole: `InputFormatError` names the
file and the problem. Inside a good file, each bad record is quarantined with its index, id,
field, rule and message; nothing is dropped silently. Clean batches take a fast path: the whole
array is validated in one call; only when that fails are the failing records singled out.

Two batch-level verdicts sit on top of the per-record rules: a rule that rejects more than a
configured share of a batch is a contract break (the source changed, not a few records), and
fields the contract does not know, or expected fields absent from every record, are schema
drift (reported, not fatal).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from spacex_etl.contract import known_paths
from spacex_etl.decode import UTF8_BOM, record_id
from spacex_etl.errors import InputFormatError
from spacex_etl.records import RECORD_MODELS, Record


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
class QuarantineLog:
    """The quarantine of one file, kept on disk as JSON lines in record order (every record
    whole); memory holds only the count, so a file where every record fails cannot exhaust it.
    An empty log needs no file (`path` None until the first entry)."""

    path: Path | None = None
    count: int = 0

    def write(self, entries: Iterable[QuarantineEntry]) -> None:
        lines = b"".join(orjson.dumps(asdict(entry)) + b"\n" for entry in entries)
        if not lines:
            return
        if self.path is None:
            raise ValueError("a quarantine log needs a path before its first entry")
        with self.path.open("ab") as handle:
            handle.write(lines)
        self.count += lines.count(b"\n")

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[QuarantineEntry]:
        if self.path is None or not self.count:
            return
        with self.path.open("rb") as handle:
            for line in handle:
                yield QuarantineEntry(**orjson.loads(line))


@dataclass
class Validated:
    """The outcome of validating one raw file."""

    resource: str
    received: int
    records: list[tuple[Record, bytes]] = field(default_factory=list)
    quarantine: list[QuarantineEntry] = field(default_factory=list)
    deduplicated: int = 0
    rule_counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Records rejected per (field, rule); list positions are shown as `[]`."""

    @property
    def valid(self) -> int:
        return len(self.records)


def _loads(body: bytes, name: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "infinity when parsed as double" in str(exc):
            # Valid JSON (e.g. 1e400) that overflows a double: parse it the slow way so the
            # record holding it is quarantined as out of range, not the whole file refused.
            return json.loads(body, parse_constant=_refuse_constant, parse_int=_parse_int)
        hint = " (truncated?)" if exc.pos >= len(body.rstrip()) - 1 else ""
        if body[exc.pos : exc.pos + 3] in {b"NaN", b"Inf", b"-In"}:
            hint = " (NaN/Infinity are not JSON)"
        raise InputFormatError(f"{name}: not valid JSON{hint}: {exc}") from exc


def _refuse_constant(constant: str) -> float:
    raise ValueError(f"{constant} is not JSON")


def _parse_int(digits: str) -> int | float:
    """An integer, or infinity when it has more digits than Python converts (4,300 by default):
    like 1e400, the value is out of every column's range and its record is quarantined."""
    try:
        return int(digits)
    except ValueError:
        return float(digits)


def _describe_object(data: dict[str, Any]) -> str:
    if "error" in data:
        return f"an API error body: {str(data['error'])[:200]}"
    if isinstance(data.get("docs"), list):
        total = data.get("totalDocs", "?")
        return (
            f"a paginated query response ({{'docs': [...]}}, {len(data['docs'])} of {total} "
            "records); refusing a page, which would load part of the data: extract the "
            "plain array endpoint (/v5/launches) instead"
        )
    return f"an object with keys {sorted(data)[:5]}"


def parse_array(body: bytes, name: str) -> list[Any]:
    """Parse `body` as a JSON array; raise InputFormatError naming `name` otherwise.

    A UTF-8 byte order mark is tolerated (RFC 8259 allows ignoring it; the raw bytes are kept).
    """
    body = body.removeprefix(UTF8_BOM)
    if not body.strip():
        raise InputFormatError(f"{name}: file is empty, expected a JSON array of launches")
    try:
        data = _loads(body, name)
    except ValueError as exc:  # a NaN/Infinity constant on the slow path
        raise InputFormatError(f"{name}: not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise InputFormatError(f"{name}: not valid JSON: nested too deeply") from exc
    if not isinstance(data, list):
        found = _describe_object(data) if isinstance(data, dict) else type(data).__name__
        raise InputFormatError(f"{name}: expected a JSON array of records, found {found}")
    return data


def _dump(record: Any) -> bytes:
    try:
        return orjson.dumps(record)
    except TypeError:  # an integer beyond 64 bits (valid JSON; orjson cannot write it)
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


_ADAPTERS: dict[str, TypeAdapter[list[Record]]] = {}


def _adapter(resource: str) -> TypeAdapter[list[Record]]:
    if resource not in _ADAPTERS:
        model = RECORD_MODELS[resource]
        _ADAPTERS[resource] = TypeAdapter(list[model])  # type: ignore[valid-type]
    return _ADAPTERS[resource]


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(record)"


def _rule_field(name: str) -> str:
    """`cores.2.flight` -> `cores[].flight`: one rule on one field, whatever the position."""
    return re.sub(r"\.\d+(?=\.|$)", "[]", name)


def drift_from_paths(present: set[str], resource: str) -> dict[str, list[str]]:
    """Schema drift from the field paths present in a file (`cores[].flight` for nested ones).

    Nested expectations count only where the parent list has items (a batch without failures
    has not lost `failures[].reason`).
    """
    known, expected = known_paths(resource)
    parents_with_items = {path.split("[].")[0] for path in present if "[]." in path}
    removed = {
        path
        for path in expected - present
        if "[]." not in path or path.rsplit("[].", 1)[0] in parents_with_items
    }
    drift = {"added": sorted(present - known), "removed": sorted(removed)}
    return {kind: paths for kind, paths in drift.items() if paths}


def loads_record(text: str, name: str, index: int) -> Any:
    """One record's JSON text, parsed like a whole file: a record that is not strict JSON
    (NaN/Infinity, nesting deeper than the parser takes) makes the file unusable."""
    try:
        return _loads(text.encode(), f"{name} record {index}")
    except ValueError as exc:  # a NaN/Infinity constant on the slow path
        raise InputFormatError(f"{name} record {index}: not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise InputFormatError(f"{name} record {index}: not valid JSON: nested too deeply") from exc


class _Keyed(dict[str, Any]):
    """A parsed JSON object that remembers its first key given twice (at any depth)."""

    duplicate: str | None = None


def _inner_duplicate(value: Any) -> str | None:
    if isinstance(value, _Keyed):
        return value.duplicate
    if isinstance(value, list):
        for position, item in enumerate(value):
            if (found := _inner_duplicate(item)) is not None:
                return f"{position}.{found}"
    return None


def _keyed(pairs: list[tuple[str, Any]]) -> _Keyed:
    obj = _Keyed()
    for key, value in pairs:
        if obj.duplicate is None:
            inner = _inner_duplicate(value)
            if key in obj:
                obj.duplicate = key
            elif inner is not None:
                obj.duplicate = f"{key}.{inner}"
        obj[key] = value
    return obj


def duplicate_key(text: str) -> str | None:
    """The path (`cores.0.core`) of the first key that appears twice in one object of the JSON
    record `text`, or None. JSON parsers disagree on which occurrence wins (DuckDB keeps the
    first, orjson the last), so such a record has no single meaning and is quarantined."""
    try:
        return _inner_duplicate(json.loads(text, object_pairs_hook=_keyed, parse_int=_parse_int))
    except (ValueError, RecursionError):
        return None  # unreadable here: the record's parse decides


def duplicate_key_entry(resource: str, index: int, key: str, text: str) -> QuarantineEntry:
    """The quarantine entry of a record holding the duplicated key `key`."""
    return QuarantineEntry(
        resource,
        index,
        None,
        key,
        "duplicate_key",
        f"key {key.rsplit('.', 1)[-1]!r} appears more than once in one object; parsers "
        "disagree on which value counts",
        text,
    )


@dataclass
class Deduper:
    """Today's rule for repeated ids, kept across calls (the fast path sends its slow
    records in chunks): the first valid record of an id is kept, a later identical one is
    dropped (counted as deduplicated), a later different one is quarantined (`duplicate_id`).
    Holds one digest per kept id, not the records."""

    resource: str
    seen: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    deduplicated: int = 0

    def admit(self, index: int, record_id: str, raw: bytes) -> tuple[bool, QuarantineEntry | None]:
        """(kept, quarantine entry): kept; dropped as an exact repeat; or quarantined."""
        digest = hashlib.sha256(raw).digest()
        if record_id not in self.seen:
            self.seen[record_id] = (index, digest)
            return True, None
        first_index, first_digest = self.seen[record_id]
        if digest == first_digest:
            self.deduplicated += 1
            return False, None
        return False, QuarantineEntry(
            self.resource,
            index,
            record_id,
            "id",
            "duplicate_id",
            f"id also at record {first_index} with different content; kept the first",
            raw.decode(),
        )


def validate_records(
    records: list[Any],
    resource: str,
    *,
    indices: list[int] | None = None,
    deduper: Deduper | None = None,
) -> Validated:
    """Validate parsed records; quarantine the bad ones and collapse exact duplicates.

    `indices` are the records' positions in their file (default: their positions in `records`);
    `deduper` carries the repeated-id rule across calls.
    """
    result = Validated(resource=resource, received=len(records))
    positions = indices if indices is not None else list(range(len(records)))
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
                record_index=positions[index],
                record_id=record_id(records[index]),
                field=_field(tuple(first["loc"][1:])),
                rule=str(first["type"]),
                message=f"{first['msg']}{more}",
                record_json=_dump(records[index]).decode(),
            )
            result.rule_counts.update(
                {(_rule_field(_field(tuple(e["loc"][1:]))), str(e["type"])) for e in errors}
            )
        good = [i for i in range(len(records)) if i not in bad]
        models = adapter.validate_python([records[i] for i in good])

    dedupe = deduper if deduper is not None else Deduper(resource)
    dropped_before = dedupe.deduplicated
    for index, model in zip(good, models, strict=True):
        raw = _dump(records[index])
        kept, entry = dedupe.admit(positions[index], str(model.id), raw)  # type: ignore[attr-defined]
        if entry is not None:
            bad[index] = entry
            result.rule_counts[(entry.field, entry.rule)] += 1
        elif kept:
            result.records.append((model, raw))
    result.deduplicated = dedupe.deduplicated - dropped_before
    result.quarantine = sorted(bad.values(), key=lambda entry: entry.record_index)
    return result

"""The fast path's reader: a raw JSON array cut into records, each decoded once by msgspec into
a type compiled from the contract, staged as typed Parquet — on two worker processes for a big
file.

- `split` cuts the array into blocks of records without parsing them (a C skip-scan of ~8 MiB at
  a time, in a buffer framed as a JSON list: no other copy), hashing every byte it reads.
- `Decoder` gives each record one typed parse: JSON types, required keys, nulls and integer
  ranges are the types' own checks (`record_types`, from `contract.py`'s columns); the string
  rules (id pattern, byte limits, U+0000, precision, timestamp spelling) are SQL on the staged
  columns (`parts.py`), from the same columns. A record the types or the rules refuse is decided
  by the record models (`records.py`); what the types and rules accept, the models accept with
  equal values.
- the colon count (`_repeated`) finds records that may hold a key twice (a key given twice in
  one object has no single meaning: parsers keep the first or the last); the models' exact
  check names the key.
- `Stager` does both for each block and appends its typed rows to one Parquet file per table;
  `python -m spacex_etl.decode` serves blocks to a parent (`Workers`) on another core.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import keyword
import subprocess
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from msgspec import UNSET, Meta, Raw, UnsetType

from spacex_etl.contract import ARROW_TYPES, Column, TableContract, for_resource

UTF8_BOM = b"\xef\xbb\xbf"
BLOCK_BYTES = 8 << 20
"""Bytes read per step of the split (records are cut at a record boundary inside each)."""
MAX_RECORD_BYTES = 64 << 20
"""A record longer than this (or a file the split cannot cut) is read by DuckDB instead."""
CUT_TRIES = 32
"""Candidate boundaries tried per block before the split gives the file to DuckDB."""
WHITESPACE = b" \t\r\n"
DEPTH_LIMIT = 20_000
"""JSON sets no nesting limit; msgspec's is the interpreter's recursion limit, raised to this
while a file is decoded (measured: 50,000 levels decode without exhausting the C stack)."""


@contextlib.contextmanager
def deep_json() -> Iterator[None]:
    """Decode nesting up to DEPTH_LIMIT levels (a field the contract does not read may be deep)."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, DEPTH_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


class Unsplittable(Exception):
    """The array cannot be cut here (not strict JSON, a huge record, an odd layout): the file
    goes to DuckDB's reader, which takes every layout and names what is wrong."""


# -- the types ---------------------------------------------------------------------------------
def _value_type(column: Column) -> Any:
    if column.type in ("int", "bigint"):
        low, high = column.range or (0, 0)
        return Annotated[int, Meta(ge=low, le=high)]
    if column.type == "bool":
        return bool
    return str  # key, text, timestamp: their string rules are SQL on the decoded column


def _field(name: str, column: Column) -> tuple[Any, ...]:
    kind = _value_type(column)
    if not column.nullable:
        return (name, kind)
    if column.required:
        return (name, Optional[kind])  # noqa: UP045 - a runtime type, built from a variable
    return (name, Optional[kind] | UnsetType, UNSET)  # noqa: UP045


def _attribute(key: str, position: int) -> str:
    return key if key.isidentifier() and not keyword.iskeyword(key) else f"field_{position}"


@dataclass(frozen=True)
class RecordType:
    """The msgspec type of one table's records or array elements, and where each column's value
    sits in `msgspec.structs.astuple` of a decoded record."""

    struct: type[msgspec.Struct]
    columns: tuple[Column, ...]
    """The table's field columns, in tuple order (positions 0..n-1)."""
    arrays: tuple[tuple[TableContract, RecordType | None], ...]
    """The record's arrays after the columns: (table, element type or None for plain values)."""
    passthrough: tuple[str, ...]
    """Keys the contract knows but stores nowhere: taken out of a record before its conversion
    (only their presence counts, for schema drift)."""


def _record_type(contract: TableContract, arrays: list[TableContract], strict: bool) -> RecordType:
    columns = tuple(c for c in contract.columns if c.source == "field")
    keys = [c.path or c.name for c in columns]
    fields = [
        _field(_attribute(k, i), c) for i, (k, c) in enumerate(zip(keys, columns, strict=True))
    ]
    elements: list[tuple[TableContract, RecordType | None]] = []
    for array in arrays:
        element = array.field_columns[0]
        item: Any
        if element.source == "element":  # an array of plain values (payload ids)
            item = _value_type(element)
            item = item if not element.nullable else Optional[item]  # noqa: UP045
            elements.append((array, None))
        else:
            element_type = _record_type(array, [], strict)
            item = element_type.struct
            elements.append((array, element_type))
        keys.append(array.array or "")
        fields.append((_attribute(keys[-1], len(fields)), list[item] | UnsetType, UNSET))
    rename = {spec[0]: key for spec, key in zip(fields, keys, strict=True) if spec[0] != key}
    struct = msgspec.defstruct(
        f"{contract.name}_{'strict' if strict else 'open'}",
        fields,
        kw_only=True,
        forbid_unknown_fields=strict,
        gc=False,
        rename=rename or None,
    )
    return RecordType(struct, columns, tuple(elements), tuple(contract.passthrough))


def record_types(resource: str) -> tuple[RecordType, RecordType]:
    """(strict, open) types of a resource's records: strict refuses unknown keys (so a record
    carrying one is seen, for drift), open takes them."""
    record, *arrays = for_resource(resource)
    return _record_type(record, arrays, True), _record_type(record, arrays, False)


# -- the split ---------------------------------------------------------------------------------
_RAW_LIST = msgspec.json.Decoder(list[Raw])
_COMMA, _OPEN, _CLOSE, _COLON = ord(","), ord("["), ord("]"), ord(":")
_BACKSLASH, _U, _0, _3 = ord("\\"), ord("u"), ord("0"), ord("3")


@dataclass
class Block:
    """Records cut from the file, in order: `records[i]` is record `first_index + i`; `span` is
    the bytes they cover in the file (start, end), None when DuckDB's reader cut them."""

    first_index: int
    records: Sequence[Raw | str]
    span: tuple[int, int] | None = None
    framed: bytes | bytearray | None = None
    """The records as one JSON list (`[...]`), when the split cut them: `framed[:end]`."""
    end: int = 0


def _opener(data: bytes | bytearray) -> bytes:
    """The bytes a record of this file starts with: `{` up to the end of its first key (what the
    next record most likely starts with too; only a guess, every cut is verified)."""
    if not data.startswith(b"{"):
        return b"{"
    start = data.find(b'"')
    end = data.find(b'"', start + 1) if start > 0 else -1
    if start < 0 or end < 0 or end - start > 256 or bytes(data[1:start]).strip(WHITESPACE):
        return b"{"
    return bytes(data[: end + 1])


def split(handle: io.BufferedIOBase, digest: Any = None) -> Iterator[Block]:
    """The records of the JSON array read from `handle`, a block at a time (each block read
    once into a buffer framed as a JSON list and cut there: no other copy); `digest` (hashlib)
    sees every byte read. Raises Unsplittable where the array cannot be cut."""
    head = handle.read(BLOCK_BYTES)
    if digest is not None:
        digest.update(head)
    pending = head.removeprefix(UTF8_BOM).lstrip(WHITESPACE)
    if not pending.startswith(b"["):
        raise Unsplittable("not an array")
    pending = pending[1:].lstrip(WHITESPACE)
    position = len(head) - len(pending)  # the file offset of pending[0]
    opener = _opener(pending)
    index = 0
    while True:
        buffer = bytearray(1 + len(pending) + BLOCK_BYTES)
        buffer[0] = _OPEN
        buffer[1 : 1 + len(pending)] = pending
        with memoryview(buffer) as view, view[1 + len(pending) :] as target:
            read = handle.readinto(target)
            if digest is not None:
                digest.update(target[:read])
        del buffer[1 + len(pending) + read :]
        if not read:
            end = len(buffer.rstrip(WHITESPACE)) - 1
            if end < 1 or buffer[end] != _CLOSE:
                raise Unsplittable("no closing bracket")
            records = _decode_list(memoryview(buffer)[: end + 1])
            if records is None:
                raise Unsplittable("the last block is not strict JSON")
            yield Block(index, records, (position, position + end - 1), buffer, end + 1)
            return
        cut = _cut(buffer, opener)
        if cut is None:
            if len(buffer) > MAX_RECORD_BYTES:
                raise Unsplittable("no record boundary found")
            pending = bytes(buffer[1:])
            continue
        records, comma, start = cut
        yield Block(index, records, (position, position + comma - 1), buffer, comma + 1)
        index += len(records)
        pending = bytes(buffer[start:])
        position += start - 1


def _decode_list(view: memoryview) -> list[Raw] | None:
    try:
        return _RAW_LIST.decode(view)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _cut(buffer: bytearray, opener: bytes) -> tuple[list[Raw], int, int] | None:
    """(records, comma, next) of the longest run of whole records before a verified boundary:
    the comma before a record opener becomes the list's `]` and the bytes before it decode as
    a list (the buffer is kept as it is then: the records point into it)."""
    end = len(buffer)
    for _ in range(CUT_TRIES):
        start = buffer.rfind(opener, 1, end)
        if start <= 1:
            return None
        comma = start - 1
        while comma > 0 and buffer[comma] in WHITESPACE:
            comma -= 1
        if buffer[comma] == _COMMA:
            buffer[comma] = _CLOSE
            records = _decode_list(memoryview(buffer)[: comma + 1])
            if records is not None:
                return records, comma, start
            buffer[comma] = _COMMA
        end = start
    return None


def split_file(path: Path, digest: Any = None) -> Iterator[Block]:
    """`split` over a file."""
    with path.open("rb") as handle:
        yield from split(handle, digest)


# -- repeated keys -----------------------------------------------------------------------------
ESCAPED_COLON = b"\\u003"
"""`\\u003a` / `\\u003A` spell a colon that a decode + encode writes plain."""
_GENERIC = msgspec.json.Decoder()
_ENCODER = msgspec.json.Encoder()


def _bytes(text: Raw | str) -> bytes:
    return text.encode() if isinstance(text, str) else bytes(text)


def _repeated(
    block: Block, parsed: list[int], encoded: list[bytes], unparsed: list[int]
) -> list[int]:
    """The records `parsed` of `block` that may hold a key twice: their colons, counted before
    and after a generic decode + encode (`encoded`), differ. A dropped repeat loses at least its
    own colon; whitespace, escapes and number spellings change no colon except `\\u003a` (an
    escaped colon, written plain by the encode), so a block holding that spelling is checked
    record by record and such a record always counts. A block the split cut is compared as a
    whole first."""
    first = block.first_index
    if block.framed is not None:
        data = np.frombuffer(block.framed, np.uint8, block.end)
        slashes = np.flatnonzero(data[:-5] == _BACKSLASH)
        escaped = np.any(
            (data[slashes + 1] == _U)
            & (data[slashes + 2] == _0)
            & (data[slashes + 3] == _0)
            & (data[slashes + 4] == _3)
        )
        if not escaped:
            raw = int(np.count_nonzero(data == _COLON))
            raw -= sum(_bytes(block.records[index - first]).count(b":") for index in unparsed)
            after = np.count_nonzero(np.frombuffer(b"".join(encoded), np.uint8) == _COLON)
            if raw == after:
                return []
    found = []
    for index, again in zip(parsed, encoded, strict=True):
        text = _bytes(block.records[index - first])
        if ESCAPED_COLON in text or text.count(b":") != again.count(b":"):
            found.append(index)
    return found


# -- the decode ----------------------------------------------------------------------------------
@dataclass
class Decoded:
    """One block, decoded: Arrow tables of the records the types took (`idx`, the columns as
    decoded, timestamps still text), and the records they did not (`slow`)."""

    tables: dict[str, pa.Table]
    slow: list[tuple[int, str | None]]
    """(index, id) of each record the types refused."""
    suspects: list[int]
    """Records that may hold a key twice (the models' exact check decides)."""


_STAGE_TYPES = {**ARROW_TYPES, "timestamp": pa.string()}


def _loose(text: bytes) -> Any:
    """A record msgspec refuses to decode generically (an integer past 64 bits, 1e400): parsed
    leniently, only for its keys and id."""
    try:
        return json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
    except (ValueError, RecursionError):
        return None


def record_id(record: Any) -> str | None:
    """A parsed record's `id` when it is a string (what the repeated-id rule keys on)."""
    value = record.get("id") if isinstance(record, dict) else None
    return value if isinstance(value, str) else None


@dataclass
class Decoder:
    """Decodes blocks of one resource's records and keeps what the whole file's verdicts need:
    the count, and every field path present (schema drift)."""

    resource: str
    received: int = 0
    present: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.strict, self.open = record_types(self.resource)
        contracts = for_resource(self.resource)
        self.record_table = contracts[0]
        self.array_keys = {c.array: c for c in contracts[1:] if c.array}

    def decode(self, block: Block) -> Decoded:
        """Each record: one generic decode, then its colon count (repeated keys) and its
        conversion to the strict type (the open one when it holds a key the contract does not
        know); a record neither takes is refused (`slow`)."""
        typed: list[Any] = []
        indices: list[int] = []
        slow: list[tuple[int, str | None]] = []
        encoded: list[bytes] = []  # each decoded record, encoded again (repeated keys)
        parsed: list[int] = []
        unparsed: list[int] = []
        strict, open_ = self.strict.struct, self.open.struct
        passthrough, present = self.strict.passthrough, self.present
        unseen = [key for key in passthrough if key not in present]
        decode, encode, convert = _GENERIC.decode, _ENCODER.encode, msgspec.convert
        for index, text in enumerate(block.records, block.first_index):
            try:
                generic = decode(text)
            except (msgspec.DecodeError, msgspec.ValidationError):  # 1e400, 5,000 digits
                generic = _loose(_bytes(text))
                self._keys(generic)
                slow.append((index, record_id(generic)))
                unparsed.append(index)
                continue
            encoded.append(encode(generic))
            parsed.append(index)
            if type(generic) is dict:
                if unseen:
                    present.update(key for key in unseen if key in generic)
                    unseen = [key for key in unseen if key not in present]
                for key in passthrough:  # stored nowhere: only their presence counted
                    generic.pop(key, None)
            try:
                typed.append(convert(generic, strict, strict=True))
                indices.append(index)
                continue
            except msgspec.ValidationError as exc:
                unknown = "unknown field" in str(exc)
            self._keys(generic)
            if unknown:  # a key the contract does not know (drift): the open type takes it
                try:
                    typed.append(convert(generic, open_, strict=True))
                    indices.append(index)
                    continue
                except msgspec.ValidationError:
                    pass
            slow.append((index, record_id(generic)))
        self.received += len(block.records)
        suspects = unparsed + _repeated(block, parsed, encoded, unparsed)
        return Decoded(self._tables(indices, typed), slow, sorted(suspects))

    def _keys(self, record: Any) -> None:
        """The field paths of a record the strict type did not take (drift)."""
        if not isinstance(record, dict):
            return
        self.present.update(record)
        for key, contract in self.array_keys.items():
            items = record.get(key)
            if contract.field_columns[0].source == "element" or not isinstance(items, list):
                continue
            for item in items:
                if isinstance(item, dict):
                    self.present.update(f"{key}[].{k}" for k in item)

    def _tables(self, indices: list[int], typed: list[Any]) -> dict[str, pa.Table]:
        columns = list(zip(*map(msgspec.structs.astuple, typed), strict=True)) if typed else []
        record_type = self.open  # the strict and the open type have the same positions
        data: dict[str, Any] = {"idx": pa.array(indices, pa.int64())}
        for position, column in enumerate(record_type.columns):
            values = columns[position] if columns else ()
            data[column.name] = self._array(column.path or column.name, values, column)
        out = {self.record_table.name: pa.table(data)}
        base = len(record_type.columns)
        for offset, (contract, element_type) in enumerate(record_type.arrays):
            lists = columns[base + offset] if columns else ()
            out[contract.name] = self._elements(contract, element_type, indices, lists)
        return out

    def _array(self, path: str, values: Any, column: Column) -> pa.Array:
        """Column values as Arrow; a key missing from a record (UNSET) is a null, and the key
        counts as present (drift) once any record carries it, even as null."""
        if UNSET in values:
            if path not in self.present and any(value is not UNSET for value in values):
                self.present.add(path)
            values = [None if value is UNSET else value for value in values]
        elif path not in self.present and len(values):
            self.present.add(path)
        return pa.array(values, _STAGE_TYPES[column.type])

    def _elements(
        self,
        contract: TableContract,
        element_type: RecordType | None,
        indices: list[int],
        lists: Any,
    ) -> pa.Table:
        """One row per array element: the parent's `idx`, the position, the element's columns."""
        key = contract.array or ""
        lengths = np.fromiter((0 if v is UNSET else len(v) for v in lists), np.int64, len(lists))
        if key not in self.present and any(values is not UNSET for values in lists):
            self.present.add(key)  # present (as a list) in some record
        items = [item for values in lists if values is not UNSET for item in values]
        parents = np.repeat(np.asarray(indices, np.int64), lengths)
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        index_column = next(c for c in contract.columns if c.source == "index")
        data: dict[str, Any] = {
            "idx": pa.array(parents, pa.int64()),
            index_column.name: pa.array(np.arange(len(items)) - starts, pa.int32()),
        }
        if element_type is None:
            column = contract.field_columns[0]
            data[column.name] = pa.array(items, _STAGE_TYPES[column.type])
            return pa.table(data)
        columns = list(zip(*map(msgspec.structs.astuple, items), strict=True)) if items else []
        for position, column in enumerate(element_type.columns):
            values = columns[position] if columns else ()
            data[column.name] = self._array(f"{key}[].{column.path}", values, column)
        return pa.table(data)


# -- staging a block, here or on a worker ----------------------------------------------------------
class BlockResult(msgspec.Struct, array_like=True):
    """What staging one block found (one JSON line from a worker)."""

    first_index: int
    received: int
    slow: list[tuple[int, str | None]]
    """(index, id) of the records the types refused."""
    suspects: list[int]
    """Records that may hold a key twice."""
    present: list[str]
    """Every field path seen so far by this decoder (schema drift)."""


@dataclass
class Stager:
    """Decodes blocks and appends their typed rows to one Parquet file per table,
    `<folder>/<table>/<name>.parquet` (a row group per block), until `close`."""

    decoder: Decoder
    folder: Path
    name: str
    _writers: dict[str, pq.ParquetWriter] = field(default_factory=dict)

    def stage(self, block: Block) -> BlockResult:
        decoded = self.decoder.decode(block)
        for table, data in decoded.tables.items():
            if table not in self._writers:
                path = self.folder / table / f"{self.name}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                self._writers[table] = pq.ParquetWriter(path, data.schema, compression="snappy")
            self._writers[table].write_table(data)
        return BlockResult(
            block.first_index,
            len(block.records),
            decoded.slow,
            decoded.suspects,
            sorted(self.decoder.present),
        )

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


_RESULT_ENCODER = msgspec.json.Encoder()
_RESULT_DECODER = msgspec.json.Decoder(BlockResult)


def serve(path: Path, resource: str, folder: Path, name: str) -> None:
    """A worker: stage each block named on stdin (`first_index start end`: the records are the
    file's bytes [start, end)) and answer one JSON line per block, in order; its files are
    complete when stdin ends."""
    gc.disable()  # a block's objects are freed by their counts (no cycles); the collector
    # only re-walked them (measured: a third of the worker's time)
    stager = Stager(Decoder(resource), folder, name)
    with path.open("rb") as handle:
        for line in sys.stdin.buffer:
            first_index, start, end = (int(part) for part in line.split())
            handle.seek(start)
            framed = bytearray(b"[")
            framed += handle.read(end - start)
            framed += b"]"
            records = _RAW_LIST.decode(framed)
            result = stager.stage(Block(first_index, records, (start, end), framed, len(framed)))
            sys.stdout.buffer.write(_RESULT_ENCODER.encode(result) + b"\n")
            sys.stdout.buffer.flush()
    stager.close()


@dataclass
class Workers:
    """Blocks staged on `count` worker processes in turn (`python -m spacex_etl.decode`), each
    with at most `depth` blocks in flight: memory stays a few blocks whatever the file."""

    path: Path
    resource: str
    folder: Path
    count: int = 2
    depth: int = 2

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._errors = [(self.folder / f"worker_{i}.log").open("wb") for i in range(self.count)]
        command = [sys.executable, "-m", "spacex_etl.decode", str(self.path), self.resource]
        self._processes = [
            subprocess.Popen(
                [*command, str(self.folder), f"worker_{i}"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
            for i, errors in enumerate(self._errors)
        ]
        self._in_flight: deque[int] = deque()
        self._next = 0

    def submit(self, block: Block) -> list[BlockResult]:
        """Send a block (its span) to the next worker; return the results collected to make
        room for it, in block order."""
        done = []
        while len(self._in_flight) >= self.count * self.depth:
            done.append(self._collect())
        if block.span is None:
            raise ValueError("a worker reads a block by its span in the file")
        worker = self._processes[self._next]
        worker.stdin.write(f"{block.first_index} {block.span[0]} {block.span[1]}\n".encode())  # type: ignore[union-attr]
        worker.stdin.flush()  # type: ignore[union-attr]
        self._in_flight.append(self._next)
        self._next = (self._next + 1) % self.count
        return done

    def _collect(self) -> BlockResult:
        index = self._in_flight.popleft()
        line = self._processes[index].stdout.readline()  # type: ignore[union-attr]
        if not line:
            self.close()
            log = (self.folder / f"worker_{index}.log").read_text(errors="replace")
            raise RuntimeError(f"a staging worker stopped: {log[-2000:]}")
        return _RESULT_DECODER.decode(line)

    def finish(self) -> list[BlockResult]:
        """The remaining results; the workers then end."""
        done = [self._collect() for _ in range(len(self._in_flight))]
        for process in self._processes:
            process.stdin.close()  # type: ignore[union-attr]
            process.wait()
        return done

    def close(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        for errors in self._errors:
            errors.close()


if __name__ == "__main__":
    with deep_json():
        serve(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4])

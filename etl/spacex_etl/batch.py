"""One batch: the flattened tables of one raw file (one resource, one logical date, one run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from spacex_etl.flatten import rows
from spacex_etl.schema import RESOURCE_TABLES, TABLES, ColumnType, columns
from spacex_etl.validate import QuarantineEntry, Validated

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "key": pa.string(),
    "text": pa.string(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a raw table (data columns + batch metadata)."""
    return pa.schema([(name, ARROW_TYPES[kind]) for name, kind in columns(table)])


@dataclass(frozen=True)
class BatchKey:
    """What identifies a batch: the resource, where it came from, and the logical date."""

    resource: str
    source: str
    ingest_date: date


@dataclass
class Batch:
    """The tables of one batch, ready to load, plus everything the run summary reports."""

    key: BatchKey
    run_id: str
    raw_uri: str
    raw_sha256: str
    received: int
    deduplicated: int
    tables: dict[str, pa.Table]
    quarantine: list[QuarantineEntry] = field(default_factory=list)
    staged_uris: dict[str, str] = field(default_factory=dict)
    """Lake URIs of the Parquet file of each table (and `quarantine`), once written."""
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))

    @property
    def resource(self) -> str:
        return self.key.resource

    @property
    def records_loaded(self) -> int:
        return self.received - self.deduplicated - len(self.quarantine)

    def row_counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables.items()}

    def quarantine_table(self) -> pa.Table:
        meta = self._metadata()
        data = [asdict(entry) | meta for entry in self.quarantine]
        return pa.Table.from_pylist(data, schema=arrow_schema("quarantine"))

    def ledger_row(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "source": self.key.source,
            "ingest_date": self.key.ingest_date,
            "run_id": self.run_id,
            "raw_uri": self.raw_uri,
            "raw_sha256": self.raw_sha256,
            "records_received": self.received,
            "records_loaded": self.records_loaded,
            "records_quarantined": len(self.quarantine),
            "records_deduplicated": self.deduplicated,
            "loaded_at": self.loaded_at,
        }

    def _metadata(self) -> dict[str, Any]:
        return {
            "_source": self.key.source,
            "_ingest_date": self.key.ingest_date,
            "_run_id": self.run_id,
            "_raw_uri": self.raw_uri,
            "_loaded_at": self.loaded_at,
        }


def build_batch(
    validated: Validated, key: BatchKey, run_id: str, raw_uri: str, raw_sha256: str
) -> Batch:
    """Flatten validated records into Arrow tables with the batch metadata columns."""
    batch = Batch(
        key=key,
        run_id=run_id,
        raw_uri=raw_uri,
        raw_sha256=raw_sha256,
        received=validated.received,
        deduplicated=validated.deduplicated,
        tables={},
        quarantine=list(validated.quarantine),
    )
    data_columns = {t: [name for name, _ in TABLES[t]] for t in RESOURCE_TABLES[key.resource]}
    buffers: dict[str, dict[str, list[Any]]] = {
        table: {name: [] for name in names} for table, names in data_columns.items()
    }
    for record, raw in validated.records:
        for table, row in rows(record, raw.decode()):
            for name, column in buffers[table].items():
                column.append(row[name])
    meta = batch._metadata()
    for table, columns_ in buffers.items():
        schema = arrow_schema(table)
        size = len(next(iter(columns_.values())))
        arrays = [
            pa.array(values, type=schema.field(name).type) for name, values in columns_.items()
        ]
        arrays += [
            pa.array([value] * size, type=schema.field(name).type) for name, value in meta.items()
        ]
        batch.tables[table] = pa.Table.from_arrays(arrays, schema=schema)
    return batch

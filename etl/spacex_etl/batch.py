"""One batch: the flattened tables of one raw file (one resource, one logical date, one run)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from spacex_etl.flatten import rows
from spacex_etl.schema import KEY_MAX_BYTES, RESOURCE_TABLES, TABLES, ColumnType, columns, fit_text
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
    extracted_at: datetime | None = None
    """When the raw object was extracted (UTC, naive): breaks ties between same-date batches."""
    drift: dict[str, list[str]] = field(default_factory=dict)
    rule_counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Records rejected per (field, rule), from validation."""

    @property
    def resource(self) -> str:
        return self.key.resource

    @property
    def records_loaded(self) -> int:
        return self.received - self.deduplicated - len(self.quarantine)

    def broken_rules(self, max_share: float) -> list[tuple[str, str, int]]:
        """(field, rule, records) for each rule that rejected more than `max_share` of the
        batch: a contract break (the source changed), not a few bad records."""
        return [
            (name, rule, count)
            for (name, rule), count in self.rule_counts.most_common()
            if count > max_share * self.received
        ]

    def row_counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables.items()}

    def quarantine_table(self) -> pa.Table:
        """The quarantine rows; free text cut to what every warehouse column holds (the
        lake's quarantine file keeps each record whole)."""
        meta = self._metadata()
        data = [
            asdict(entry)
            | {
                "record_id": fit_text(entry.record_id, KEY_MAX_BYTES),
                "message": fit_text(entry.message),
                "record_json": fit_text(entry.record_json),
            }
            | meta
            for entry in self.quarantine
        ]
        return pa.Table.from_pylist(data, schema=arrow_schema("quarantine"))

    def ledger_row(self, status: str = "succeeded", error: str | None = None) -> dict[str, Any]:
        """This batch's row of the append-only load ledger."""
        return {
            "resource": self.resource,
            "source": self.key.source,
            "ingest_date": self.key.ingest_date,
            "run_id": self.run_id,
            "raw_uri": self.raw_uri,
            "raw_sha256": self.raw_sha256,
            "records_received": self.received,
            "records_loaded": self.records_loaded if status == "succeeded" else 0,
            "records_quarantined": len(self.quarantine),
            "records_deduplicated": self.deduplicated,
            # a success carries the load time stamped on its rows; a failure, when it happened
            "loaded_at": self.loaded_at
            if status == "succeeded"
            else datetime.now(UTC).replace(tzinfo=None),
            "status": status,
            "error": fit_text(error, 4000),
            "extracted_at": self.extracted_at,
        }

    def _metadata(self) -> dict[str, Any]:
        return {
            "_source": self.key.source,
            "_ingest_date": self.key.ingest_date,
            "_run_id": self.run_id,
            "_raw_uri": self.raw_uri,
            "_loaded_at": self.loaded_at,
            "_extracted_at": self.extracted_at,
        }


def build_batch(
    validated: Validated,
    key: BatchKey,
    run_id: str,
    raw_uri: str,
    raw_sha256: str,
    extracted_at: datetime | None = None,
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
        extracted_at=extracted_at.astimezone(UTC).replace(tzinfo=None) if extracted_at else None,
        drift=dict(validated.drift),
        rule_counts=Counter(validated.rule_counts),
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

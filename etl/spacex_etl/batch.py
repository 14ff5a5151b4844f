"""One batch: the staged tables of one raw file (one resource, one source, one logical date).

A batch holds no data in memory: `stage_batch` checks and flattens the raw file into Parquet
parts on local disk (`parts.stage_file`), one folder per table, and the batch keeps their
paths, row counts, the quarantine and the verdicts the load needs (contract break, drift).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from spacex_etl.contract import KEY_MAX_BYTES, RESOURCE_TABLES, arrow_schema, columns, fit_text
from spacex_etl.validate import QuarantineLog

if TYPE_CHECKING:
    from spacex_etl.parts import Staged
    from spacex_etl.warehouse.base import LoadResult

QUARANTINE_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class BatchKey:
    """What identifies a batch: the resource, where it came from, and the logical date."""

    resource: str
    source: str
    ingest_date: date


@dataclass
class Batch:
    """One batch from staging to the run summary: its key and raw object, what staging found
    (`staged`: counts, quarantine, parts, verdicts — computed once, carried, never copied), and
    what loading did (`result`)."""

    key: BatchKey
    run_id: str
    raw_uri: str
    raw_sha256: str
    staged: Staged | None = None
    """What checking and flattening the raw file produced; None until it is staged."""
    result: LoadResult | None = None
    """What the warehouse load did; None until it is loaded."""
    staged_uris: dict[str, list[str]] = field(default_factory=dict)
    """Lake URIs of the parts, once published to the lake's staged zone."""
    quarantine_uri: str | None = None
    """The lake's copy of the quarantine (JSON lines, every record whole), once published."""
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    extracted_at: datetime | None = None
    """When the raw object was extracted (UTC, naive): breaks ties between same-date batches."""
    bytes: int = 0
    """Size of the raw file."""
    newest_source_at: datetime | None = None
    """The newest event the source reported (launches: latest non-upcoming `date_utc`)."""

    def __post_init__(self) -> None:
        if self.extracted_at is not None and self.extracted_at.tzinfo is not None:
            self.extracted_at = self.extracted_at.astimezone(UTC).replace(tzinfo=None)

    @property
    def resource(self) -> str:
        return self.key.resource

    @property
    def tables(self) -> list[str]:
        """The data tables this batch fills, the parent table first."""
        return RESOURCE_TABLES[self.resource]

    @property
    def _stage(self) -> Staged:
        if self.staged is None:
            raise ValueError(f"{self.raw_uri} has not been staged")
        return self.staged

    @property
    def received(self) -> int:
        return self._stage.received

    @property
    def deduplicated(self) -> int:
        return self._stage.deduplicated

    @property
    def records_loaded(self) -> int:
        return self._stage.loaded

    @property
    def quarantine(self) -> QuarantineLog:
        return self._stage.quarantine

    @property
    def parts(self) -> dict[str, list[Path]]:
        """Local Parquet files of each table (and `quarantine`); none when a table has no rows."""
        return self._stage.parts

    @property
    def rows(self) -> dict[str, int]:
        """Rows staged per data table."""
        return self._stage.rows

    @property
    def drift(self) -> dict[str, list[str]]:
        return self._stage.drift

    @property
    def timings_s(self) -> dict[str, float]:
        """Wall and CPU seconds per staging step (for the benchmark's profile)."""
        return self._stage.timings_s

    def counts(self) -> dict[str, int]:
        """received = loaded + skipped_newer_in_warehouse + quarantined + deduplicated."""
        skipped = self.result.keys_skipped_newer if self.result else 0
        return {
            "received": self.received,
            "loaded": self.records_loaded - skipped,
            "quarantined": len(self.quarantine),
            "deduplicated": self.deduplicated,
            "skipped_newer_in_warehouse": skipped,
        }

    def broken_rules(self, max_share: float) -> list[tuple[str, str, int]]:
        """(field, rule, records) for each rule that rejected more than `max_share` of the
        batch: a contract break (the source changed), not a few bad records."""
        return [
            (name, rule, count)
            for (name, rule), count in self._stage.rule_counts.most_common()
            if count > max_share * self.received
        ]

    def row_counts(self) -> dict[str, int]:
        return {table: self.rows.get(table, 0) for table in self.tables}

    def metadata(self) -> dict[str, Any]:
        """The batch metadata columns (`contract.METADATA_COLUMNS`) every staged row carries."""
        return {
            "_source": self.key.source,
            "_ingest_date": self.key.ingest_date,
            "_run_id": self.run_id,
            "_raw_uri": self.raw_uri,
            "_loaded_at": self.loaded_at,
            "_extracted_at": self.extracted_at,
        }

    def write_quarantine_part(self, path: Path) -> Path:
        """The quarantine rows as one Parquet file, written in batches; free text cut to what
        every warehouse column holds (the lake's quarantine file keeps each record whole)."""
        schema = arrow_schema(columns("quarantine"))
        meta = self.metadata()
        path.parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(path, schema, compression="snappy") as writer:
            rows: list[dict[str, Any]] = []
            for entry in self.quarantine:
                rows.append(
                    asdict(entry)
                    | {
                        "record_id": fit_text(entry.record_id, KEY_MAX_BYTES),
                        "message": fit_text(entry.message),
                        "record_json": fit_text(entry.record_json),
                    }
                    | meta
                )
                if len(rows) == QUARANTINE_BATCH_ROWS:
                    writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                    rows = []
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
        return path

    def ledger_row(self, status: str = "succeeded", error: str | None = None) -> dict[str, Any]:
        """This batch's row of the append-only load ledger, for every outcome: loaded
        (`succeeded`), rolled back (`failed`), or refused (`rejected`: before staging, when the
        file was unusable, its counts are unknown)."""
        staged = self.staged
        return {
            "resource": self.resource,
            "source": self.key.source,
            "ingest_date": self.key.ingest_date,
            "run_id": self.run_id,
            "raw_uri": self.raw_uri,
            "raw_sha256": self.raw_sha256,
            "records_received": staged.received if staged else None,
            "records_loaded": staged.loaded if staged and status == "succeeded" else 0,
            "records_quarantined": len(staged.quarantine) if staged else None,
            "records_deduplicated": staged.deduplicated if staged else None,
            # a success carries the load time stamped on its rows; a failure, when it happened
            "loaded_at": self.loaded_at
            if status == "succeeded"
            else datetime.now(UTC).replace(tzinfo=None),
            "status": status,
            "error": fit_text(error, 4000),
            "extracted_at": self.extracted_at,
            "bytes": self.bytes,
            "drift_events": sum(len(paths) for paths in staged.drift.values()) if staged else None,
            "quarantined_by_rule": "; ".join(
                f"{rule}:{name}={count}"
                for (name, rule), count in sorted(staged.rule_counts.items() if staged else ())
            )
            or None,
            "newest_source_at": self.newest_source_at,
        }


def stage_batch(path: Path, work: Path, batch: Batch, name: str | None = None) -> Batch:
    """Check, flatten and stage the raw file `path` into Parquet parts under `work`.

    Sets `batch.staged`: counts, quarantine, verdicts and parts (the quarantine as one more part).
    `name` is how errors refer to the file (its lake URI). Raises InputFormatError when the file
    is not a JSON array of records.
    """
    from spacex_etl import monitoring, parts

    batch.staged = parts.stage_file(
        path, work, batch.resource, parts.BatchMeta(batch.metadata()), name=name
    )
    batch.bytes = path.stat().st_size
    batch.newest_source_at = monitoring.newest_source_at(batch.resource, batch.parts)
    if batch.quarantine:  # an empty quarantine needs no file (nor pyarrow's pandas import)
        part = batch.write_quarantine_part(work / "quarantine" / "part_0.parquet")
        batch.parts["quarantine"] = [part]
    else:
        batch.parts["quarantine"] = []
    return batch

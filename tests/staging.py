"""Build staged batches in tests through the real path (`batch.stage_batch`), from records."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from spacex_etl.batch import Batch, BatchKey, stage_batch


def stage_records(
    records: Any,
    key: BatchKey,
    run_id: str = "20240601T000000Z-abc123",
    raw_uri: str = "memory://launches.json",
    raw_sha256: str = "0" * 64,
    *,
    extracted_at: datetime | None = None,
    loaded_at: datetime | None = None,
    work: Path | None = None,
) -> Batch:
    """Write `records` (or raw bytes) to a file and stage it exactly as `pipeline.prepare` does."""
    work = work or Path(tempfile.mkdtemp(prefix="spacex-test-batch-"))
    work.mkdir(parents=True, exist_ok=True)
    raw = work / f"{key.resource}.json"
    raw.write_bytes(records if isinstance(records, bytes) else json.dumps(records).encode())
    batch = Batch(key, run_id, raw_uri, raw_sha256, extracted_at=extracted_at)
    if loaded_at is not None:
        batch.loaded_at = loaded_at
    return stage_batch(raw, work / "staged", batch, name=str(raw))


def table(batch: Batch, name: str) -> pa.Table:
    """Every staged row of one table (all its parts), in part order."""
    parts = [pq.read_table(path) for path in batch.parts[name]]
    return pa.concat_tables(parts) if parts else pa.table({})

"""The prototype load path, timed by `make bench` as `columnar`: what phase 2 wires into the
pipeline, end to end up to the warehouse, in one process.

file → raw lake (streamed copy + sha256, manifest) → `columnar.stage_file` (check, quarantine
through the per-record models, flatten, Parquet parts) → DuckDB warehouse: per table, a staging
table read from the parts (`read_parquet`, never an in-memory table), then delete-by-key + insert
in ONE transaction, as `warehouse/base.py` does → Q1/Q2 from the raw tables (part-4 definitions).

`python -m tests.benchmarks.prototype FILE WORKDIR` prints the answers digest plus counts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import orjson

from spacex_etl import columnar
from spacex_etl.contract import for_resource
from spacex_etl.schema import METADATA_COLUMNS, PARENT_KEY
from tests.benchmarks.answers import WAREHOUSE_FLIGHTS_SQL, duckdb_answers
from tests.benchmarks.baselines import sql_string

SCHEMA = "spacex_raw"


def land(path: Path, lake: Path, run_id: str) -> tuple[Path, str]:
    """Copy the file into the raw zone in 1 MiB blocks, hashing as it goes; write the manifest."""
    target = lake / "raw" / "spacex" / "launches" / "ingest_date=2024-06-01" / run_id
    target.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    raw = target / "launches.json"
    with path.open("rb") as src, raw.open("wb") as dst:
        while block := src.read(1 << 20):
            digest.update(block)
            dst.write(block)
    manifest = {"resource": "launches", "sha256": digest.hexdigest(), "bytes": raw.stat().st_size}
    (target / "_manifest.json").write_bytes(orjson.dumps(manifest))
    return raw, digest.hexdigest()


def load(con: duckdb.DuckDBPyConnection, staged: columnar.Staged) -> None:
    """Staging tables from the Parquet parts, then delete-by-key + insert, in one transaction."""
    key = PARENT_KEY[staged.resource]
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute("begin transaction")
    for contract in for_resource(staged.resource):
        files = "[" + ", ".join(sql_string(str(f)) for f in staged.parts[contract.name]) + "]"
        columns = [*contract.warehouse_columns(), *METADATA_COLUMNS]
        defs = ", ".join(f"{name} {columnar.SQL_TYPES[kind]}" for name, kind in columns)
        table = f"{SCHEMA}.{contract.name}"
        con.execute(f"create table if not exists {table} ({defs})")
        # a view, not a copy: the delete reads only the key column of the parts
        con.execute(
            "create temp view stg as select * from "
            f"read_parquet({files}, hive_partitioning = false)"
        )
        con.execute(f"delete from {table} where {key} in (select {key} from stg)")
        con.execute(f"insert into {table} by name select * from stg")
        con.execute("drop view stg")
    con.execute("commit")


def main() -> None:
    path, work = Path(sys.argv[1]), Path(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    run_id = "bench"
    clock = time.process_time()
    raw, _ = land(path, work / "lake", run_id)
    land_cpu = time.process_time() - clock
    now = datetime.now(UTC).replace(tzinfo=None)
    known = {
        "_source": str(path),
        "_ingest_date": date(2024, 6, 1),
        "_run_id": run_id,
        "_raw_uri": raw.as_uri(),
        "_loaded_at": now,
        "_extracted_at": now,
    }
    meta = columnar.BatchMeta({name: known.get(name) for name, _ in METADATA_COLUMNS})
    staged = columnar.stage_file(raw, work / "lake" / "staged", "launches", meta, name=str(path))
    con = duckdb.connect(str(work / "warehouse.duckdb"))
    con.execute("set memory_limit = '384MB'")
    con.execute(f"set temp_directory = {sql_string(str(work / 'duckdb.tmp'))}")
    clock = time.process_time()
    load(con, staged)
    load_cpu = time.process_time() - clock
    con.execute(WAREHOUSE_FLIGHTS_SQL.format(schema=SCHEMA))
    result = duckdb_answers(con)
    con.close()
    counts = {"received": staged.received, "quarantined": len(staged.quarantine)}
    counts["timings_s"] = staged.timings_s | {
        "land_cpu": round(land_cpu, 3),
        "warehouse_load_cpu": round(load_cpu, 3),
    }
    print(json.dumps(result | {"counts": counts | {"rows": staged.rows}}))


if __name__ == "__main__":
    main()

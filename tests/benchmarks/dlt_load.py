"""The dlt contestant of `make bench`: the same launches file loaded into DuckDB by dlt with its
defaults, then Q1/Q2 answered from the tables dlt made.

What a dlt user writes for this source: read the JSON array, hand the records to
`pipeline.run(..., table_name="launches")` with the DuckDB destination. dlt infers the schema,
normalises the nested `cores` list into the child table `launches__cores` (linked by
`_dlt_parent_id` to `launches._dlt_id`) and loads both. Nothing here validates, quarantines or
keeps the raw bytes: this is the loading cost of the tool, beside the project's load path.

Run in its own process: `python -m tests.benchmarks.dlt_load FILE WORK_DIR` (prints the digest).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.benchmarks.answers import duckdb_answers

DATASET = "spacex"
TABLE = "launches"

FLIGHTS_SQL = f"""
create or replace temp view flights as
select c.core as core_id, l.id as launch_id, l.flight_number,
       cast(l.date_utc as timestamptz) as date_utc
from {DATASET}.{TABLE}__cores c join {DATASET}.{TABLE} l on c._dlt_parent_id = l._dlt_id
where not l.upcoming and c.core is not null
"""


def load(path: Path, work: Path) -> Path:
    """Load `path` with dlt into a DuckDB file under `work`; returns the DuckDB file."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no usage pings from a bench
    import dlt

    database = work / "dlt.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="spacex_bench",
        pipelines_dir=str(work / "pipelines"),
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name=DATASET,
    )
    with path.open("rb") as handle:
        records = json.load(handle)
    pipeline.run(records, table_name=TABLE)
    return database


def answers(database: Path) -> dict[str, Any]:
    """Q1/Q2 digest from the tables dlt loaded (part-4's definitions, as for every contestant)."""
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        con.execute(FLIGHTS_SQL)
        return duckdb_answers(con)
    finally:
        con.close()


def main() -> None:
    path, work = Path(sys.argv[1]), Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    print(json.dumps(answers(load(path, work))))


if __name__ == "__main__":
    main()

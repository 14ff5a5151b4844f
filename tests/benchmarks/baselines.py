"""The two baselines `make bench` compares the project with; each prints its answers digest.

- floor: DuckDB `read_json` of only the columns Q1/Q2 need + the SQL answers. Nothing written,
  nothing validated: the least work a single machine can do to answer from the raw file.
- pandas: the naive script a data scientist would write (whole file into a DataFrame, explode the
  cores, groupby/shift). It holds everything in memory: the memory yardstick from the other side.

Run one in its own process: `python -m tests.benchmarks.baselines floor|pandas FILE`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.benchmarks.answers import digest, duckdb_answers

FLOOR_COLUMNS = (
    "{id: 'VARCHAR', flight_number: 'BIGINT', date_utc: 'TIMESTAMPTZ', upcoming: 'BOOLEAN', "
    "cores: 'STRUCT(core VARCHAR)[]'}"
)


def sql_string(value: str) -> str:
    """A SQL string literal (table functions take no bound parameters for their path)."""
    return "'" + value.replace("'", "''") + "'"


def floor(path: Path) -> dict[str, Any]:
    """DuckDB straight from the JSON file."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""
        create temp view flights as
        select slot.core as core_id, id as launch_id, flight_number,
               timezone('UTC', date_utc) as date_utc
        from (
            select id, flight_number, date_utc, unnest(cores) as slot
            from read_json({sql_string(str(path))}, format = 'array', columns = {FLOOR_COLUMNS})
            where not upcoming
        )
        where slot.core is not null
        """
    )
    return duckdb_answers(con)


def naive_pandas(path: Path) -> dict[str, Any]:
    """pandas the obvious way: read everything, explode, sort, shift."""
    import pandas as pd

    launches = pd.read_json(path, orient="records", dtype=False)
    past = launches.loc[~launches["upcoming"].astype(bool), ["id", "flight_number", "date_utc"]]
    past = past.assign(cores=launches.loc[past.index, "cores"]).explode("cores")
    past["core_id"] = past["cores"].map(lambda slot: slot.get("core") if slot else None)
    flights = past.dropna(subset=["core_id"]).copy()
    flights["date_utc"] = pd.to_datetime(flights["date_utc"], utc=True)
    per_core = flights.groupby("core_id").size() - 1
    top = int(per_core.max())
    flights = flights.sort_values(["core_id", "date_utc", "flight_number", "id"])
    previous = flights.groupby("core_id")["date_utc"].shift()
    gap = (flights["date_utc"] - previous).dt.total_seconds()
    q2 = flights.loc[gap < 50 * 86400, ["core_id", "id"]]
    return digest(
        top,
        [str(core) for core in per_core[per_core == top].index],
        list(q2.itertuples(index=False, name=None)),
    )


def main() -> None:
    kind, path = sys.argv[1], Path(sys.argv[2])
    result = {"floor": floor, "pandas": naive_pandas}[kind](path)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

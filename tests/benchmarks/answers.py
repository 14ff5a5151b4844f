"""Q1/Q2 with part-4's definitions, as DuckDB SQL over any `flights(core_id, launch_id,
flight_number, date_utc)` relation, and one comparable digest of the answers.

Flights: past launches (`upcoming = false`), core slots with a known id. Q1: reuse count = flights
- 1, every core at the maximum. Q2: flights of a core ordered by date_utc, flight_number,
launch_id; a reuse qualifies when elapsed seconds since the core's previous flight / 86400 < 50.
"""

from __future__ import annotations

import hashlib
from typing import Any

Q1_SQL = """
with per_core as (select core_id, count(*) - 1 as reuse_count from flights group by core_id)
select core_id, reuse_count from per_core
where reuse_count = (select max(reuse_count) from per_core) order by core_id
"""

Q2_SQL = """
select core_id, launch_id from (
    select core_id, launch_id, date_utc,
        lag(date_utc) over (partition by core_id order by date_utc, flight_number, launch_id)
            as previous_date_utc
    from flights
)
where previous_date_utc is not null
    and epoch(date_utc) - epoch(previous_date_utc) < 50 * 86400
"""

WAREHOUSE_FLIGHTS_SQL = """
create or replace temp view flights as
select c.core_id, l.launch_id, l.flight_number, l.date_utc
from {schema}.launch_cores c join {schema}.launches l on c.launch_id = l.launch_id
where not l.upcoming and c.core_id is not null
"""


def digest(q1_value: int, q1_cores: list[str], q2: list[tuple[str, str]]) -> dict[str, Any]:
    """A small comparable form: each answer as a row count and a hash of its sorted rows."""
    rows = sorted(f"{core},{launch}" for core, launch in q2)
    return {
        "q1": q1_value,
        "q1_cores": len(q1_cores),
        "q1_sha": _sha(sorted(q1_cores)),
        "q2_rows": len(rows),
        "q2_sha": _sha(rows),
    }


def _sha(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def duckdb_answers(con: Any) -> dict[str, Any]:
    """Q1/Q2 digest from a DuckDB connection that has a `flights` relation."""
    q1 = con.execute(Q1_SQL).fetchall()
    q2 = con.execute(Q2_SQL).fetchall()
    return digest(int(q1[0][1]) if q1 else 0, [row[0] for row in q1], q2)


def warehouse_answers(duckdb_file: str, schema: str = "spacex_raw") -> dict[str, Any]:
    """Q1/Q2 digest straight from the raw tables of a loaded DuckDB warehouse."""
    import duckdb

    con = duckdb.connect(duckdb_file, read_only=True)
    try:
        con.execute(WAREHOUSE_FLIGHTS_SQL.format(schema=schema))
        return duckdb_answers(con)
    finally:
        con.close()


def model_answers(duckdb_file: str, schema: str = "spacex") -> dict[str, Any]:
    """Q1/Q2 digest from dbt's answer models in a DuckDB warehouse (what `spacex-etl run`
    reports; its run summary carries Q2's totals and first rows only)."""
    import duckdb

    con = duckdb.connect(duckdb_file, read_only=True)
    try:
        q1 = con.execute(
            f"select core_id, reuse_count from {schema}.q1_max_core_reuse order by core_id"
        ).fetchall()
        q2 = con.execute(
            f"select core_id, launch_id from {schema}.q2_cores_reused_within_50_days"
        ).fetchall()
    finally:
        con.close()
    return digest(int(q1[0][1]) if q1 else 0, [row[0] for row in q1], q2)

"""Read the answers to Q1 and Q2 from the dbt answer models."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from spacex_etl.config import Settings
from spacex_etl.warehouse import open_warehouse
from spacex_etl.warehouse.base import ident

Q1_DEFINITION = (
    "reuse count of a core = (number of non-upcoming launches it flew) - 1; Q1 is the maximum "
    "over cores with a known id"
)
Q2_DEFINITION = (
    "consecutive flights of the same core (ordered by launch date_utc, upcoming launches and "
    "unknown core ids excluded) with less than 50 days between launches, in elapsed "
    "fractional days (seconds / 86400)"
)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def answers(settings: Settings) -> dict[str, Any]:
    """Q1 and Q2 as plain JSON-able values."""
    warehouse = open_warehouse(settings)
    schema = ident(settings.dbt_schema)
    q1_rows = warehouse.query(
        f"select core_id, core_serial, flights, reuse_count from {schema}.q1_max_core_reuse "
        "order by core_id"
    )
    q2_rows = warehouse.query(
        "select core_id, core_serial, launch_id, launch_name, launch_date_utc, "
        "previous_launch_id, previous_launch_name, previous_launch_date_utc, "
        "days_since_previous_launch, calendar_days_since_previous "
        f"from {schema}.q2_cores_reused_within_50_days "
        "order by days_since_previous_launch, core_id, launch_id"
    )
    q1_value = int(q1_rows[0]["reuse_count"]) if q1_rows else 0
    return {
        "q1_max_reuse": {
            "value": q1_value,
            "cores": [{k: _plain(v) for k, v in row.items()} for row in q1_rows],
            "definition": Q1_DEFINITION,
        },
        "q2_cores": [{k: _plain(v) for k, v in row.items()} for row in q2_rows],
        "q2_distinct_cores": len({row["core_id"] for row in q2_rows}),
        "q2_definition": Q2_DEFINITION,
    }

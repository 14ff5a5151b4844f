"""The DAG's Airflow Assets: lake → raw tables → marts, for the UI's asset graph and for
downstream DAGs that schedule on them.

Logical URIs (`x-spacex://…`, the custom-scheme form Airflow reserves for users) that stay the
same on every warehouse and lake, so a consumer's schedule does not change when the
deployment moves from DuckDB to Redshift. The physical names (file or S3 object, database
table) are in the OpenLineage events each run emits.
"""

from __future__ import annotations

from airflow.sdk import Asset

RESOURCES = ("launches", "cores")
RAW_TABLES = ("launches", "launch_cores", "launch_payloads", "launch_failures", "cores")


def lake_raw(resource: str) -> Asset:
    """The lake's raw zone for one source resource (what extract writes)."""
    return Asset(name=f"spacex.lake.raw.{resource}", uri=f"x-spacex://lake/raw/{resource}")


def raw_table(table: str) -> Asset:
    """A raw warehouse table (what load writes)."""
    return Asset(name=f"spacex.raw.{table}", uri=f"x-spacex://warehouse/raw/{table}")


def mart(model: str) -> Asset:
    """A dbt mart model (what its Cosmos task builds)."""
    return Asset(name=f"spacex.marts.{model}", uri=f"x-spacex://warehouse/marts/{model}")


def lake() -> list[Asset]:
    return [lake_raw(resource) for resource in RESOURCES]


def raw_tables() -> list[Asset]:
    return [raw_table(table) for table in RAW_TABLES]
